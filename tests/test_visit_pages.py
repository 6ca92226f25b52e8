"""上门服务 on the pages, with NiceGUI's user fixture: the phone asks for a visit on /me and follows it; the manager
sees it arrive in the live queue, schedules it, sends a clerk and closes it from the visits tab."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from nicegui import ui
from nicegui.testing import User

from app.db import Database
from app.models import TicketCreate
from app.models.citizen_account import CitizenAccount
from app.services.principal import Principal
from app.settings import get_settings
from tests import journeyhall, totp
from tests.callers import DESK
from tests.citizen_login import citizen_signed_in
from tests.factories import SmallHall
from tests.idnumbers import make_id
from tests.journeyhall import OUTSIDER, JourneyHall, by_sms
from tests.running import ready
from tests.test_manager_page import RETRIES, eventually, log_in, texts_in
from tests.visithall import ADDRESS

ui_journey_hall = journeyhall.ui_journey_hall_fixture
PATIENT = 40


@pytest.fixture
def phone_hall(ui_journey_hall: JourneyHall, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> JourneyHall:
    monkeypatch.setenv('VAR_DIR', str(tmp_path / 'var'))
    get_settings.cache_clear()
    return ui_journey_hall


async def test_the_phone_asks_for_a_visit_and_sees_it_masked_with_its_timeline(
    phone_hall: JourneyHall, user: User
) -> None:
    await citizen_signed_in(user, '13812345670')
    await user.open('/me')
    await user.should_see(marker='me-visits', retries=PATIENT)
    await user.should_see('没有上门服务申请')
    (service,) = user.find(marker='visit-service').elements
    assert isinstance(service, ui.select)
    service.set_value('SVC-C')
    user.find(marker='visit-address').type(ADDRESS)
    user.find(marker='visit-ask').click()
    await user.should_see('已提交，工作人员将与您联系预约时间', retries=PATIENT)
    await user.should_see('北京市朝阳区****')
    await user.should_see('待排期')
    await user.should_see('预约上门时间')
    await user.should_not_see('望京')


async def shows(user: User, marker: str, text: str) -> None:
    """The element with this marker holds a label with this text (pushed live, so wait for it)."""
    await user.should_see(marker=marker, retries=RETRIES)
    await eventually(lambda: text in texts_in(user, marker), timeout=20)


@pytest.fixture
async def managed(ui_hall: SmallHall) -> SmallHall:
    db = Database(get_settings().db_url)
    try:
        await totp.enrol(db)
    finally:
        await db.dispose()
    return ui_hall


async def test_the_manager_sees_a_visit_live_schedules_it_sends_a_clerk_and_closes_it(
    managed: SmallHall, user: User
) -> None:
    rt = await ready()
    await log_in(user, 'boss', 'Manager-01-pass')
    await user.open('/manager')
    await user.should_see('没有待办的上门服务', retries=RETRIES)
    async with rt.db.session() as s, s.begin():
        account = CitizenAccount(phone_hash='h', phone_enc='e', created_at=dt.datetime.now(dt.UTC))
        s.add(account)
    asked = await rt.journey.visits.request(Principal.account(account.id or 0), service_code='SVC-A', address=ADDRESS)
    await shows(user, f'visit-queue-{asked.id}', '待排期')

    user.find(ui.tabs).elements.pop().set_value('manager.visits')
    await user.should_see(marker=f'visit-desk-{asked.id}', retries=RETRIES)
    tomorrow = (dt.datetime.now(rt.settings.tz) + dt.timedelta(days=1)).date()
    user.find(marker=f'visit-desk-{asked.id}-day').type(tomorrow.isoformat())
    user.find(marker=f'visit-desk-{asked.id}-start').type('09:30')
    user.find(marker=f'visit-desk-{asked.id}-schedule').click()
    await shows(user, f'visit-queue-{asked.id}', '已排期')

    (people,) = user.find(marker=f'visit-desk-{asked.id}-people').elements
    assert isinstance(people, ui.select)
    clerk = next(key for key, name in people.options.items() if name == '张三')
    people.set_value([clerk])
    user.find(marker=f'visit-desk-{asked.id}-assign').click()
    await shows(user, f'visit-queue-{asked.id}', '已派员')

    user.find(marker=f'visit-desk-{asked.id}-done').click()
    await user.should_see('没有待办的上门服务', retries=RETRIES)
    [done] = await rt.journey.visits.mine(Principal.account(account.id or 0))
    assert done.visit.status == 'done' and done.assignees == ['张三']

    user.find(marker='visit-desk-id').type(make_id(dt.date(1938, 3, 4), sequence='222'))
    (service,) = user.find(marker='visit-desk-service').elements
    assert isinstance(service, ui.select)
    service.set_value('SVC-B')
    user.find(marker='visit-desk-address').type('北京市西城区金融街1号')
    user.find(marker='visit-desk-ask-button').click()
    await user.should_see('北京市西城区****', retries=RETRIES)  # asked by the manager for a citizen, listed


async def test_a_relative_asks_for_a_visit_only_with_a_grant_that_lets_them_fill_in(
    phone_hall: JourneyHall, user: User
) -> None:
    rt = await ready()
    await rt.queue.take_ticket(TicketCreate(service_code='SVC-B', id_number=OUTSIDER, phone='13900001234'), caller=DESK)
    called = await rt.queue.call_next(phone_hall.small.window_2, caller=DESK)
    act = await by_sms(rt.journey, called.ticket.code)
    watch = await rt.journey.proxy.invite(act, relation='子女', hours=4, can_fill=False)
    helper = await rt.journey.proxy.invite(act, relation='配偶', hours=4, can_fill=True)

    await user.open(f'/proxy/{watch.token}')
    await user.should_see(marker='proxy-visits', retries=PATIENT)
    await user.should_not_see(marker='visit-ask')  # watching only: no form to ask

    await user.open(f'/proxy/{helper.token}')
    await user.should_see(marker='visit-ask', retries=PATIENT)
    (service,) = user.find(marker='visit-service').elements
    assert isinstance(service, ui.select)
    service.set_value('SVC-C')
    user.find(marker='visit-address').type(ADDRESS)
    user.find(marker='visit-ask').click()
    await user.should_see('北京市朝阳区****', retries=PATIENT)
    [asked] = await rt.journey.visits.for_grant(helper.token)
    assert asked.visit.citizen_id == act.citizen_id and await rt.journey.visits.for_grant(watch.token) == []
