"""/review in NiceGUI's simulated browser: a reviewer's pending nodes and rectifications, pushed and acted on."""

from __future__ import annotations

from nicegui.testing import User

from app.api.web_session import SESSION_COOKIE
from app.models import TicketCreate
from app.runtime import Runtime
from tests import journeyhall, totp
from tests.callers import DESK
from tests.journeyhall import LOCAL_CITIZEN, PARALLEL, REVIEWER_PASSWORD, JourneyHall, sms_act
from tests.running import ready

PATIENT = 50  # should_see retries (0.1 s each): pushes reach the page late on a loaded machine, never flaky

ui_journey_hall = journeyhall.ui_journey_hall_fixture


async def as_reviewer(user: User, username: str) -> Runtime:
    rt = await ready()
    issued = await totp.login(rt.auth, username, REVIEWER_PASSWORD)
    user.http_client.cookies.set(SESSION_COOKIE, issued.token)
    await user.open('/review')
    return rt


async def bundle_case(rt: Runtime, hall: JourneyHall) -> int:
    await rt.queue.take_ticket(TicketCreate(service_code='SVC-A', id_number=LOCAL_CITIZEN), caller=DESK)
    view = await rt.queue.call_next(hall.small.window_1, caller=DESK)
    return (await rt.journey.cases.open_case(view.ticket.id, actor='w01')).id


async def test_anonymous_visitors_are_sent_to_login(ui_journey_hall: JourneyHall, user: User) -> None:
    await user.open('/review')
    await user.should_see('工作人员登录', retries=PATIENT)


async def test_a_reviewer_approves_and_returns_only_their_departments_steps(
    ui_journey_hall: JourneyHall, user: User
) -> None:
    rt = await as_reviewer(user, 'rv_tax')
    await user.should_see(marker='review-department', content='税务局', retries=PATIENT)
    await user.should_see(marker='review-no-nodes', retries=PATIENT)
    case_id = await bundle_case(rt, ui_journey_hall)
    view = await rt.journey.cases.view(case_id)
    review = next(n for n in view.nodes if n.name == '材料审核')
    await user.should_not_see(marker=f'review-node-{review.id}')  # SAMR's step, not TAX's
    await rt.journey.cases.decide(review.id or 0, approve=True, actor='rv_samr', department_id=None)

    tax = next(n for n in (await rt.journey.cases.view(case_id)).nodes if n.name == '税务登记')
    await user.should_see(marker=f'review-node-{tax.id}', retries=PATIENT)  # pushed: the stage started
    user.find(marker=f'review-return-{tax.id}').click()
    await user.should_see('退回必须写明原因', retries=PATIENT)
    user.find(marker=f'review-note-{tax.id}').type('请补充财务负责人身份证')
    user.find(marker=f'review-return-{tax.id}').click()
    await user.should_see(marker='review-no-nodes', retries=PATIENT)
    view = await rt.journey.cases.view(case_id)
    assert view.case.status == 'returned'
    assert next(n for n in view.nodes if n.id == tax.id).note == '请补充财务负责人身份证'

    await rt.journey.cases.resubmit(case_id, actor='w01', note='已补交')
    retry = next(
        n for n in (await rt.journey.cases.view(case_id)).nodes if n.name == '税务登记' and n.status == 'active'
    )
    await user.should_see(marker=f'review-node-{retry.id}', retries=PATIENT)
    await user.should_see('补正后重新提交', retries=PATIENT)
    user.find(marker=f'review-approve-{retry.id}').click()
    await user.should_see(marker='review-no-nodes', retries=PATIENT)
    statuses = {n.name: n.status for n in (await rt.journey.cases.view(case_id)).nodes}
    assert statuses['税务登记'] == 'approved' and all(statuses[name] != 'returned' for name in PARALLEL)


async def test_a_bad_rating_appears_for_the_department_which_calls_back_fixes_and_sees_appeals(
    ui_journey_hall: JourneyHall, user: User
) -> None:
    rt = await as_reviewer(user, 'rv_dept')
    await user.should_see(marker='review-no-rectifications', retries=PATIENT)
    await rt.queue.take_ticket(TicketCreate(service_code='SVC-C'), caller=DESK)
    await rt.queue.call_next(ui_journey_hall.small.window_4, caller=DESK)
    done = await rt.queue.complete(ui_journey_hall.small.window_4, caller=DESK)
    result = await rt.journey.evaluations.rate(
        sms_act(done.ticket.id or 0), 'very_bad', tags=['服务态度差'], comment='态度冷淡'
    )
    rid = result.rectification.id if result.rectification else 0

    await user.should_see(marker=f'review-rect-{rid}-rating', content='非常不满意 · 服务态度差', retries=PATIENT)
    await user.should_see('“态度冷淡”', retries=PATIENT)
    await user.should_see(marker=f'review-rect-{rid}-status', content='待回访', retries=PATIENT)
    user.find(marker=f'review-callback-{rid}').click()
    await user.should_see('请填写回访或整改情况', retries=PATIENT)
    user.find(marker=f'review-rect-note-{rid}').type('已电话致歉')
    user.find(marker=f'review-callback-{rid}').click()
    await user.should_see(marker=f'review-rect-{rid}-status', content='已回访，待整改', retries=PATIENT)

    await rt.journey.evaluations.appeal(rid, actor='w04', role='staff', reason='当时正在处理系统故障')
    await user.should_see(marker=f'review-rect-{rid}-status', content='申诉待复核', retries=PATIENT)
    await user.should_see('申诉人 w04：当时正在处理系统故障', retries=PATIENT)
    user.find(marker=f'review-reject-{rid}').click()
    await user.should_see(marker=f'review-rect-{rid}-status', content='已回访，待整改', retries=PATIENT)
    user.find(marker=f'review-rect-note-{rid}').type('已加强培训')
    user.find(marker=f'review-fix-{rid}').click()
    await user.should_see(marker=f'review-rect-{rid}-status', content='已整改，待办事人再评价', retries=PATIENT)
    [view] = await rt.journey.evaluations.rectifications_for(None)
    assert (view.rectification.status, view.rectification.appeal_decision) == ('fixed', 'rejected')
    assert view.rectification.decided_by == 'rv_dept'
