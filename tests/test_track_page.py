"""/track in NiceGUI's simulated browser: the second factor, then a ticket and case that move by push."""

from __future__ import annotations

from nicegui.testing import User

from app.models import TicketCreate
from app.runtime import ready
from tests import journeyhall
from tests.callers import DESK
from tests.journeyhall import LOCAL_CITIZEN, JourneyHall

ui_journey_hall = journeyhall.ui_journey_hall_fixture
PATIENT = 40  # retries of 0.1 s: pushed changes and the delivery job run on their own tasks


async def unlocked(user: User, code: str, answer: str) -> None:
    await user.open(f'/track/{code}')
    await user.should_see('请输入预留手机号的后4位')
    user.find(marker='track-answer').type(answer)
    user.find(marker='track-submit').click()
    await user.should_see(marker='track-ticket')


async def test_a_wrong_answer_shows_nothing_of_the_ticket(ui_journey_hall: JourneyHall, user: User) -> None:
    view = await (await ready()).queue.take_ticket(
        TicketCreate(service_code='SVC-C', id_number=LOCAL_CITIZEN, phone='13812345678'), caller=DESK
    )
    await user.open(f'/track/{view.ticket.code}')
    user.find(marker='track-answer').type('0000')
    user.find(marker='track-submit').click()
    await user.should_see('查询码或验证信息不正确')
    await user.should_not_see(marker='track-ticket')
    await user.open('/track/not-a-real-code')
    user.find(marker='track-answer').type('0000')
    user.find(marker='track-submit').click()
    await user.should_see('查询码或验证信息不正确')


async def test_the_position_and_the_call_arrive_by_push(ui_journey_hall: JourneyHall, user: User) -> None:
    queue = (await ready()).queue
    await queue.take_ticket(TicketCreate(service_code='SVC-C'), caller=DESK)
    mine = await queue.take_ticket(
        TicketCreate(service_code='SVC-C', id_number=LOCAL_CITIZEN, phone='13812345678'), caller=DESK
    )
    await unlocked(user, mine.ticket.code, '5678')
    await user.should_see(marker='track-number', content='C002')
    await user.should_see(marker='track-ahead', content='前面还有 1 人')
    await user.should_see(marker='track-eta')

    await queue.call_next(ui_journey_hall.small.window_4, caller=DESK)
    await user.should_see(marker='track-ahead', content='下一个就是您')
    await queue.complete(ui_journey_hall.small.window_4, caller=DESK)
    await queue.call_next(ui_journey_hall.small.window_4, caller=DESK)
    await user.should_see(marker='track-window', content='请到 4 号窗口办理')
    await user.should_see('请C002号到4号窗口办理', retries=PATIENT)  # delivered by the job, pushed to the page


async def test_the_case_timeline_follows_the_case_and_the_rating_opens_a_rectification(
    ui_journey_hall: JourneyHall, user: User
) -> None:
    rt = await ready()
    view = await rt.queue.take_ticket(TicketCreate(service_code='SVC-C'), caller=DESK)
    await unlocked(user, view.ticket.code, view.ticket.number)
    await user.should_see('窗口受理后，这里会显示办件的每个环节和时限')
    await rt.queue.call_next(ui_journey_hall.small.window_4, caller=DESK)
    case = await rt.journey.cases.open_case(view.ticket.id, actor='w04')
    approval = case.nodes[1]
    await user.should_see(marker=f'case-node-{approval.id}-status', content='办理中')
    await rt.journey.cases.decide(approval.id or 0, approve=True, actor='rv_dept', department_id=None)
    await user.should_see(marker=f'case-node-{approval.id}-status', content='已通过')
    await user.should_see(marker=f'case-{case.id}-status', content='已办结')

    await rt.queue.complete(ui_journey_hall.small.window_4, caller=DESK)
    await user.should_see(marker='rate-form')
    user.find(marker='rate-submit').click()
    await user.should_see('请先选择满意程度')
    user.find(marker='rate-level-bad').click()
    user.find(marker='rate-tag-等候时间长').click()
    user.find(marker='rate-comment').type('等了很久')
    user.find(marker='rate-submit').click()
    await user.should_see(marker='track-rated', content='您的评价：不满意')
    await user.should_see(marker='track-rectification', content='已转交测试局整改')
    await user.should_not_see(marker='rate-form')
    [rectification] = await rt.journey.evaluations.rectifications_for(None)
    assert rectification.evaluation.tags == ['等候时间长'] and rectification.evaluation.comment == '等了很久'

    rid = rectification.rectification.id or 0
    await rt.journey.evaluations.callback(rid, actor='rv_dept', department_id=None, note='已回访')
    await rt.journey.evaluations.fix(rid, actor='rv_dept', department_id=None, note='增开窗口')
    await user.should_see(marker='track-rectification', content='整改已完成：增开窗口')
    await user.should_see(marker='rate-form')


async def test_consents_can_be_granted_and_withdrawn_from_the_phone(ui_journey_hall: JourneyHall, user: User) -> None:
    view = await (await ready()).queue.take_ticket(
        TicketCreate(service_code='SVC-B', id_number=LOCAL_CITIZEN, phone='13812345678'), caller=DESK
    )
    await unlocked(user, view.ticket.code, '5678')
    await user.should_see('暂无授权')
    user.find(marker='consent-grant').click()
    await user.should_see('调取部门数据 · 同类事项')
    [consent] = await (await ready()).journey.consent.list_for(view.ticket.citizen_id or 0)
    assert consent.service_code == 'SVC-B' and consent.revoked_at is None
    user.find(marker=f'consent-revoke-{consent.id}').click()
    await user.should_see('已撤回')
    [consent] = await (await ready()).journey.consent.list_for(view.ticket.citizen_id or 0)
    assert consent.revoked_at is not None
