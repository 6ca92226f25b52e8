"""亲情代办 in NiceGUI's simulated browser: the citizen invites on /track, the relative helps on /proxy, all pushed."""

from __future__ import annotations

import re

import httpx
from nicegui import core, ui
from nicegui.testing import User
from sqlmodel import col, select

from app.models import CaseMaterial, TicketCreate
from tests import journeyhall
from tests.callers import DESK
from tests.journeyhall import OUTSIDER, JourneyHall
from tests.running import ready
from tests.test_track_page import verified

ui_journey_hall = journeyhall.ui_journey_hall_fixture
PATIENT = 150  # retries of 0.1 s for pushed changes: generous on a shared machine, done as soon as they show


async def test_a_relative_helps_live_and_loses_access_when_the_citizen_ends_it(
    ui_journey_hall: JourneyHall, user: User
) -> None:
    rt = await ready()
    await rt.queue.take_ticket(TicketCreate(service_code='SVC-B', id_number=OUTSIDER, phone='13900001234'), caller=DESK)
    called = await rt.queue.call_next(ui_journey_hall.small.window_2, caller=DESK)
    await rt.journey.cases.open_case(called.ticket.id or 0, actor='w02', answers={'employment': 'flexible'})
    async with rt.db.read_session() as s:
        form = (
            await s.execute(
                select(CaseMaterial).where(CaseMaterial.name == '灵活就业申请表').order_by(col(CaseMaterial.id))
            )
        ).scalar_one()

    await verified(user, called.ticket.code)
    await user.should_see('当前没有亲友代办', retries=PATIENT)  # drawn after verifying: async
    user.find(marker='proxy-relation').elements.pop().set_value('子女')
    user.find(marker='proxy-invite').click()
    await user.should_see(marker='proxy-qr', retries=PATIENT)
    (link_input,) = user.find(marker='proxy-link').elements
    link = str(link_input.value)
    assert '/proxy/' in link
    await user.should_see('子女 · 可协助 · 尚未打开')

    relative = User(httpx.AsyncClient(transport=httpx.ASGITransport(core.app), base_url='http://test'))
    await relative.open(link.split('http://test', 1)[-1])
    await relative.should_see('您正在协助家人办事（子女）')
    await relative.should_see(marker='track-number', content='B001')
    await relative.should_not_see(marker='track-consents')  # not the citizen's consents, messages or rating
    await relative.should_not_see(marker='track-notices')
    await user.should_see('子女 · 可协助 · 已加入', retries=PATIENT)  # pushed to the citizen

    relative.find(marker=f'proxy-ready-{form.id}').click()
    await relative.should_see('已告诉本人，等待确认')
    await user.should_see('子女说「灵活就业申请表」已备好', retries=PATIENT)
    [view] = await rt.journey.proxy.grants_for(await rt.journey.tracking.follow(called.ticket.code))
    [proposal] = view.proposals
    user.find(marker=f'proxy-accept-{proposal.proposal.id}').click()
    await user.should_see('已确认', retries=PATIENT)
    await relative.should_see('已备好（亲友协助，本人确认）', retries=PATIENT)

    user.find(marker=f'proxy-end-{view.grant.id}').click()
    await relative.should_see(marker='proxy-ended', retries=PATIENT)  # pushed: the page closes at once
    await relative.should_see('本次代办已结束')
    await user.should_see('当前没有亲友代办', retries=PATIENT)
    await relative.open(link.split('http://test', 1)[-1])
    await relative.should_see('代办链接已结束或无效')
    await relative.should_not_see(marker='track-ticket')


async def test_an_unknown_link_shows_nothing(ui_journey_hall: JourneyHall, user: User) -> None:
    await user.open('/proxy/not-a-real-token')
    await user.should_see('代办链接已结束或无效')
    await user.should_not_see(marker='track-ticket')


async def test_a_follow_only_invitation_leads_to_the_light_page_and_the_full_page_links_to_it(
    ui_journey_hall: JourneyHall, user: User
) -> None:
    rt = await ready()
    taken = await rt.queue.take_ticket(
        TicketCreate(service_code='SVC-B', id_number=OUTSIDER, phone='13900001234'), caller=DESK
    )
    await verified(user, taken.ticket.code)
    await user.should_see('当前没有亲友代办', retries=PATIENT)
    user.find(marker='proxy-can-fill').elements.pop().set_value(False)
    user.find(marker='proxy-invite').click()
    await user.should_see(marker='proxy-qr', retries=PATIENT)
    (link_input,) = user.find(marker='proxy-link').elements
    light = str(link_input.value).split('http://test', 1)[-1]
    assert re.fullmatch(r'/proxy/[\w-]{32}/status', light), light

    async with httpx.AsyncClient(transport=httpx.ASGITransport(core.app), base_url='http://test') as phone:
        page = await phone.get(light)
    assert page.status_code == 200 and taken.ticket.number in page.text
    assert f'href="{light.removesuffix("/status")}"' in page.text and '查看办件详情' in page.text

    relative = User(httpx.AsyncClient(transport=httpx.ASGITransport(core.app), base_url='http://test'))
    await relative.open(light.removesuffix('/status'))
    (to_light,) = relative.find(marker='proxy-status-link').elements
    assert isinstance(to_light, ui.link) and to_light.props['href'] == light
