"""/track in NiceGUI's simulated browser: status from the slip, the person after the texted code, all by push."""

from __future__ import annotations

from dataclasses import replace

from nicegui.testing import User
from sqlmodel import select

from app.bus import InProcessBus
from app.db import Database
from app.models import Consent, TicketCreate
from app.services.queue import QueueService
from app.services.ticket_handoff import TicketHandoffService
from tests import journeyhall
from tests.callers import DESK
from tests.easthall import EAST, EAST_CODE, add_east_hall
from tests.journeyhall import LOCAL_CITIZEN, JourneyHall, texted_code
from tests.running import parts, ready

ui_journey_hall = journeyhall.ui_journey_hall_fixture
PATIENT = 40  # retries of 0.1 s: pushed changes and the delivery job run on their own tasks


async def opened(user: User, code: str) -> None:
    """The slip's code alone: the ticket's status and the step that asks for the texted code."""
    await user.open(f'/track/{code}')
    await user.should_see(marker='track-ticket', retries=PATIENT)


async def verified(user: User, code: str) -> None:
    """The citizen's phone: the texted code (read from the hall's SMS gateway) opens the person's sections."""
    await opened(user, code)
    user.find(marker='track-send-code').click()
    await user.should_see(marker='track-sent', content='验证码已发送', retries=PATIENT)
    user.find(marker='track-code').type(texted_code((await ready()).journey))
    user.find(marker='track-verify').click()
    await user.should_see(marker='track-verified', retries=PATIENT)


async def test_the_slip_shows_status_only_and_a_wrong_code_opens_nothing_more(
    ui_journey_hall: JourneyHall, user: User
) -> None:
    view = await (await ready()).queue.take_ticket(
        TicketCreate(service_code='SVC-C', id_number=LOCAL_CITIZEN, phone='13812345678'), caller=DESK
    )
    await opened(user, view.ticket.code)
    await user.should_see(marker='track-number', content='C001', retries=PATIENT)
    for hidden in ('track-notices', 'track-consents', 'track-cases', 'track-proxy', 'track-rating'):
        await user.should_not_see(marker=hidden)
    for answer in ('5678', 'C001', '000000'):  # the masked phone's digits, the slip's number, a guess
        user.find(marker='track-code').type(answer)
        user.find(marker='track-verify').click()
        await user.should_see('验证码不正确或已失效', retries=PATIENT)
        await user.should_not_see(marker='track-consents')
    await user.open('/track/not-a-real-code')
    await user.should_see('查询码不正确', retries=PATIENT)
    await user.should_not_see(marker='track-ticket')


async def test_a_ticket_without_a_phone_sends_person_actions_to_the_window(
    ui_journey_hall: JourneyHall, user: User
) -> None:
    view = await (await ready()).queue.take_ticket(TicketCreate(service_code='SVC-C'), caller=DESK)
    await opened(user, view.ticket.code)
    await user.should_see(marker='track-window-only', content='请到窗口', retries=PATIENT)
    await user.should_not_see(marker='track-send-code')


async def test_the_page_follows_the_journey_feed_until_its_tab_closes(ui_journey_hall: JourneyHall, user: User) -> None:
    view = await (await ready()).queue.take_ticket(TicketCreate(service_code='SVC-C'), caller=DESK)
    feed = (await parts()).journey_feed
    tickets, journey = len(feed.tickets.callbacks), len(feed.journey.callbacks)
    await opened(user, view.ticket.code)
    assert (len(feed.tickets.callbacks), len(feed.journey.callbacks)) == (tickets + 1, journey + 1)
    assert user.client is not None
    user.client.delete()  # the tab closes
    assert (len(feed.tickets.callbacks), len(feed.journey.callbacks)) == (tickets, journey)


async def test_the_position_and_the_call_arrive_by_push(ui_journey_hall: JourneyHall, user: User) -> None:
    queue = (await ready()).queue
    await queue.take_ticket(TicketCreate(service_code='SVC-C'), caller=DESK)
    mine = await queue.take_ticket(
        TicketCreate(service_code='SVC-C', id_number=LOCAL_CITIZEN, phone='13812345678'), caller=DESK
    )
    await verified(user, mine.ticket.code)
    await user.should_see(marker='track-number', content='C002', retries=PATIENT)
    await user.should_see(marker='track-ahead', content='前面还有 1 人', retries=PATIENT)
    await user.should_see(marker='track-eta', retries=PATIENT)

    await queue.call_next(ui_journey_hall.small.window_4, caller=DESK)
    await user.should_see(marker='track-ahead', content='下一个就是您', retries=PATIENT)
    await queue.complete(ui_journey_hall.small.window_4, caller=DESK)
    await queue.call_next(ui_journey_hall.small.window_4, caller=DESK)
    await user.should_see(marker='track-window', content='请到 4 号窗口办理', retries=PATIENT)
    await user.should_see('请C002号到4号窗口办理', retries=PATIENT)  # delivered by the job, pushed to the page


async def test_the_case_timeline_follows_the_case_and_the_rating_opens_a_rectification(
    ui_journey_hall: JourneyHall, user: User
) -> None:
    rt = await ready()
    view = await rt.queue.take_ticket(
        TicketCreate(service_code='SVC-C', id_number=LOCAL_CITIZEN, phone='13812345678'), caller=DESK
    )
    await verified(user, view.ticket.code)
    await user.should_see('窗口受理后，这里会显示办件的每个环节和时限', retries=PATIENT)
    await rt.queue.call_next(ui_journey_hall.small.window_4, caller=DESK)
    case = await rt.journey.cases.open_case(view.ticket.id, actor='w04')
    approval = case.nodes[1]
    await user.should_see(marker=f'case-node-{approval.id}-status', content='办理中', retries=PATIENT)
    await rt.journey.cases.decide(approval.id or 0, approve=True, actor='rv_dept', department_id=None)
    await user.should_see(marker=f'case-node-{approval.id}-status', content='已通过', retries=PATIENT)
    await user.should_see(marker=f'case-{case.id}-status', content='已办结', retries=PATIENT)

    await rt.queue.complete(ui_journey_hall.small.window_4, caller=DESK)
    await user.should_see(marker='rate-form', retries=PATIENT)
    user.find(marker='rate-submit').click()
    await user.should_see('请先选择满意程度', retries=PATIENT)
    user.find(marker='rate-level-bad').click()
    user.find(marker='rate-tag-等候时间长').click()
    user.find(marker='rate-comment').type('等了很久')
    user.find(marker='rate-submit').click()
    await user.should_see(marker='track-rated', content='您的评价：不满意', retries=PATIENT)
    await user.should_see(marker='track-rectification', content='已转交测试局整改', retries=PATIENT)
    await user.should_not_see(marker='rate-form')
    [rectification] = await rt.journey.evaluations.rectifications_for(None)
    assert rectification.evaluation.tags == ['等候时间长'] and rectification.evaluation.comment == '等了很久'

    rid = rectification.rectification.id or 0
    await rt.journey.evaluations.callback(rid, actor='rv_dept', department_id=None, note='已回访')
    await rt.journey.evaluations.fix(rid, actor='rv_dept', department_id=None, note='增开窗口')
    await user.should_see(marker='track-rectification', content='整改说明：增开窗口', retries=PATIENT)
    await user.should_see(marker='rate-form', retries=PATIENT)


async def test_consents_can_be_granted_and_withdrawn_from_the_phone(ui_journey_hall: JourneyHall, user: User) -> None:
    view = await (await ready()).queue.take_ticket(
        TicketCreate(service_code='SVC-B', id_number=LOCAL_CITIZEN, phone='13812345678'), caller=DESK
    )
    await verified(user, view.ticket.code)
    await user.should_see('暂无授权', retries=PATIENT)
    user.find(marker='consent-grant').click()
    await user.should_see('调取部门数据 · 同类事项', retries=PATIENT)
    consent = await stored_consent((await ready()).db)
    assert (consent.service_code, consent.ticket_id, consent.channel) == ('SVC-B', view.ticket.id, 'sms_code')
    assert consent.revoked_at is None
    user.find(marker=f'consent-revoke-{consent.id}').click()
    await user.should_see('已撤回', retries=PATIENT)
    assert (await stored_consent((await ready()).db)).revoked_at is not None


async def stored_consent(db: Database) -> Consent:
    async with db.read_session() as s:
        return (await s.execute(select(Consent))).scalar_one()


async def test_a_ticket_sent_to_another_hall_says_where_to_go_and_then_its_new_number_live(
    ui_journey_hall: JourneyHall, user: User
) -> None:
    rt = await ready()
    async with rt.db.session() as s, s.begin():
        east = await add_east_hall(s, serves=['SVC-C'])
    view = await rt.queue.take_ticket(TicketCreate(service_code='SVC-A'), caller=DESK)
    await opened(user, view.ticket.code)

    await rt.handoffs.send(
        view.ticket.number, to_hall_code=EAST_CODE, to_service_code='SVC-C', reason='户籍在东区', caller=DESK
    )
    await user.should_see(marker='track-status', content='已转至其他大厅', retries=PATIENT)
    await user.should_see(marker='track-handoff', content=f'请前往{EAST}办理', retries=PATIENT)
    await user.should_see(marker='track-handoff-pending', retries=PATIENT)

    east_bus = InProcessBus()  # 东区's process, on its own stream
    east_deps = replace(rt.deps, hall_id=east.hall_id, bus=east_bus)
    assert await TicketHandoffService(east_deps, queue=QueueService(east_deps)).inbox_round() == (1, 0)
    await east_bus.stop()
    await rt.handoffs.inbox_round()  # this hall's inbox round (it may have run first: each is announced once)
    await user.should_see(marker='track-handoff-number', content='C001', retries=PATIENT)  # live, no reload
    await user.should_see(marker='track-handoff-link', retries=PATIENT)
