"""好差评: ratings after completion, the rectification loop in working days, re-rating, appeals, satisfaction."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from app.bus import InProcessBus
from app.db import Database
from app.events import EvaluationSubmitted, Event, RectificationChanged, RectificationOpened
from app.models import StaffUser
from app.models.cases import Notification
from app.services.errors import Conflict, Forbidden, Invalid
from app.services.evaluation import APPEALED, CALLED_BACK, CLOSED, FIXED, OPEN, VOID, EvaluationService
from app.services.journey import Journey
from app.services.queue import QueueService
from app.settings import ConfigError, Settings, load_settings
from tests import journeyhall
from tests.callers import DESK, as_staff, deps_for
from tests.conftest import FakeClock
from tests.journeyhall import LOCAL_CITIZEN, JourneyHall, served_ticket, sms_act

journey_hall = journeyhall.journey_hall_fixture
journey_settings = journeyhall.journey_settings_fixture
journey = journeyhall.journey_fixture
hall_queue = journeyhall.hall_queue_fixture


async def completed(hall_queue: QueueService, hall: JourneyHall, service: str = 'SVC-C') -> int:
    window = hall.small.window_4 if service == 'SVC-C' else hall.small.window_2
    view = await served_ticket(hall_queue, window, service, id_number=LOCAL_CITIZEN, phone='13600001234', complete=True)
    return view.ticket.id or 0


def dept(hall: JourneyHall) -> int:
    return hall.departments['DEPT']


async def test_a_rating_needs_a_completed_ticket_and_is_given_once(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    served = await served_ticket(hall_queue, journey_hall.small.window_4, 'SVC-C')
    with pytest.raises(Conflict, match='办结后'):
        await journey.evaluations.rate(sms_act(served.ticket.id or 0), 'good')
    await hall_queue.complete(journey_hall.small.window_4, caller=DESK)
    assert (await journey.evaluations.state(served.ticket.id or 0)).can_rate
    with pytest.raises(Invalid):
        await journey.evaluations.rate(sms_act(served.ticket.id or 0), 'basic')  # the five-level scale is not selected
    result = await journey.evaluations.rate(
        sms_act(served.ticket.id or 0), 'very_good', tags=['办理高效', '乱写的标签']
    )
    assert result.rectification is None and result.evaluation.tags == ['办理高效']
    assert (result.evaluation.score, result.evaluation.satisfied, result.evaluation.scale) == (4, True, 'four')
    with pytest.raises(Conflict, match='已评价'):
        await journey.evaluations.rate(sms_act(served.ticket.id or 0), 'bad')


@pytest.mark.parametrize(
    ('days', 'deadline'),
    [(5, dt.date(2026, 10, 13)), (7, dt.date(2026, 10, 15)), (15, dt.date(2026, 10, 27))],
)
async def test_a_bad_rating_opens_a_rectification_due_in_working_days_across_national_day(
    db: Database,
    bus: InProcessBus,
    journey: Journey,
    journey_settings: Settings,
    hall_queue: QueueService,
    journey_hall: JourneyHall,
    clock: FakeClock,
    days: int,
    deadline: dt.date,
) -> None:
    clock.now = dt.datetime(2026, 9, 30, 2, 0, tzinfo=dt.UTC)  # 10:00 on the eve of the Golden Week
    settings = journey_settings.model_copy(update={'rectification_working_days': days})
    evaluations = EvaluationService(deps_for(db, bus, hall_id=journey_hall.hall_id, settings=settings, clock=clock))
    events: list[Event] = []
    bus.subscribe(events.append)
    ticket_id = await completed(hall_queue, journey_hall)
    result = await evaluations.rate(sms_act(ticket_id), 'bad', tags=['等候时间长'], comment='等了一个多小时')
    assert result.rectification is not None
    assert (result.rectification.deadline, result.rectification.status) == (deadline, OPEN)
    assert result.rectification.department_id == dept(journey_hall)
    await bus.drain()
    kinds = [type(e) for e in events if isinstance(e, EvaluationSubmitted | RectificationOpened)]
    assert kinds == [RectificationOpened, EvaluationSubmitted]
    async with db.read_session() as s:
        notice = (await s.execute(select(Notification).where(Notification.kind == 'evaluation'))).scalars().first()
    assert notice is not None and f'{deadline:%m月%d日}前回访' in notice.text


async def test_callback_then_fix_then_the_citizen_rates_again_and_the_new_rating_replaces_the_old(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall, bus: InProcessBus
) -> None:
    ticket_id = await completed(hall_queue, journey_hall)
    first = await journey.evaluations.rate(sms_act(ticket_id), 'very_bad', comment='窗口人员态度冷淡')
    rectification = first.rectification
    assert rectification is not None and rectification.id is not None
    assert not (await journey.evaluations.state(ticket_id)).can_rate, 'no second rating while the department works'
    with pytest.raises(Conflict, match='先回访'):
        await journey.evaluations.fix(rectification.id, actor='rv_dept', department_id=dept(journey_hall), note='x')
    with pytest.raises(Forbidden):
        await journey.evaluations.callback(
            rectification.id, actor='rv_tax', department_id=journey_hall.departments['TAX'], note='x'
        )
    step = await journey.evaluations.callback(
        rectification.id, actor='rv_dept', department_id=dept(journey_hall), note='已电话致歉，了解情况'
    )
    assert step.status == CALLED_BACK and step.callback_at is not None
    step = await journey.evaluations.fix(
        rectification.id, actor='rv_dept', department_id=dept(journey_hall), note='已对窗口人员进行服务规范培训'
    )
    assert step.status == FIXED
    state = await journey.evaluations.state(ticket_id)
    assert state.can_rate and state.is_rerating and state.rectification is not None

    again = await journey.evaluations.rate(sms_act(ticket_id), 'good')
    assert again.evaluation.replaces_id == first.evaluation.id and again.rectification is None
    [view] = await journey.evaluations.rectifications_for(dept(journey_hall), include_closed=True)
    assert view.rectification.status == CLOSED and view.rectification.closed_at is not None
    assert await journey.evaluations.rectifications_for(dept(journey_hall)) == []
    overall = await journey.evaluations.satisfaction_overall()
    assert (overall.ratings, overall.satisfied) == (1, 1), 'only the rating in force counts'


async def test_a_re_rating_that_is_still_bad_opens_a_new_rectification(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    ticket_id = await completed(hall_queue, journey_hall)
    first = await journey.evaluations.rate(sms_act(ticket_id), 'bad')
    assert first.rectification is not None and first.rectification.id is not None
    for step in (journey.evaluations.callback, journey.evaluations.fix):
        await step(first.rectification.id, actor='rv_dept', department_id=None, note='处理情况')
    second = await journey.evaluations.rate(sms_act(ticket_id), 'very_bad')
    assert second.rectification is not None and second.rectification.evaluation_id == second.evaluation.id
    assert [v.rectification.id for v in await journey.evaluations.rectifications_for(None)] == [second.rectification.id]


async def test_an_appeal_is_decided_by_someone_else_and_an_upheld_one_voids_the_rating(
    db: Database, journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall, bus: InProcessBus
) -> None:
    events: list[Event] = []
    bus.subscribe(events.append, RectificationChanged)
    ticket_id = await completed(hall_queue, journey_hall)
    result = await journey.evaluations.rate(sms_act(ticket_id), 'bad', comment='说我材料不全，其实带齐了')
    assert result.rectification is not None and result.rectification.id is not None
    rid = result.rectification.id
    with pytest.raises(Invalid):
        await journey.evaluations.appeal(rid, actor='w04', role='staff', reason='  ')
    appealed = await journey.evaluations.appeal(rid, actor='w04', role='staff', reason='监控显示材料确实缺少户口簿')
    assert appealed.status == APPEALED
    [view] = await journey.evaluations.rectifications_for(dept(journey_hall))
    assert view.appellant == 'w04'
    with pytest.raises(Forbidden):
        await journey.evaluations.decide_appeal(rid, actor='w04', role='staff', department_id=None, upheld=True)
    decided = await journey.evaluations.decide_appeal(
        rid, actor='rv_dept', role='reviewer', department_id=dept(journey_hall), upheld=True
    )
    assert (decided.status, decided.appeal_decision, decided.decided_by) == (VOID, 'upheld', 'rv_dept')
    overall = await journey.evaluations.satisfaction_overall()
    assert overall.ratings == 0, 'a rating voided on appeal leaves the statistics'
    with pytest.raises(Conflict):
        await journey.evaluations.appeal(rid, actor='w04', role='staff', reason='again')
    await bus.drain()
    assert [e.status for e in events if isinstance(e, RectificationChanged)] == [APPEALED, VOID]


async def test_a_rejected_appeal_sends_the_rectification_on_and_cannot_be_repeated(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    ticket_id = await completed(hall_queue, journey_hall)
    result = await journey.evaluations.rate(sms_act(ticket_id), 'bad')
    assert result.rectification is not None and result.rectification.id is not None
    rid = result.rectification.id
    await journey.evaluations.callback(rid, actor='rv_dept', department_id=None, note='已回访')
    await journey.evaluations.appeal(rid, actor='w04', role='staff', reason='不同意')
    rejected = await journey.evaluations.decide_appeal(
        rid, actor='boss', role='manager', department_id=None, upheld=False
    )
    assert (rejected.status, rejected.appeal_decision) == (CALLED_BACK, 'rejected')
    with pytest.raises(Conflict):
        await journey.evaluations.appeal(rid, actor='w04', role='staff', reason='再次申诉')
    assert (await journey.evaluations.satisfaction_overall()).ratings == 1


async def test_the_five_level_scale_of_gb_t_39734(
    db: Database,
    bus: InProcessBus,
    journey_settings: Settings,
    hall_queue: QueueService,
    journey_hall: JourneyHall,
    clock: FakeClock,
    journey: Journey,
) -> None:
    settings = journey_settings.model_copy(update={'evaluation_scale': 'five'})
    evaluations = EvaluationService(deps_for(db, bus, hall_id=journey_hall.hall_id, settings=settings, clock=clock))
    assert [level.label for level in evaluations.scale] == ['非常满意', '满意', '基本满意', '不满意', '非常不满意']
    basic = await evaluations.rate(sms_act(await completed(hall_queue, journey_hall)), 'basic')
    assert (basic.evaluation.score, basic.evaluation.satisfied, basic.rectification) == (3, True, None)
    bad = await evaluations.rate(sms_act(await completed(hall_queue, journey_hall)), 'bad')
    assert (bad.evaluation.score, bad.evaluation.satisfied) == (2, False) and bad.rectification is not None


async def test_satisfaction_per_window_department_and_staff(
    db: Database, journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    for level in ('very_good', 'good', 'bad'):
        await journey.evaluations.rate(sms_act(await completed(hall_queue, journey_hall, 'SVC-C')), level)
    await journey.evaluations.rate(sms_act(await completed(hall_queue, journey_hall, 'SVC-B')), 'very_bad')
    by_window = {row.name: (row.ratings, row.satisfied) for row in await journey.evaluations.satisfaction_by_window()}
    assert by_window == {'4号窗口': (3, 2), '2号窗口': (1, 0)}
    by_department = {row.name: row.rate for row in await journey.evaluations.satisfaction_by_department()}
    assert by_department == {'测试局': pytest.approx(2 / 3), '人力资源和社会保障局': 0.0}
    [staff] = await journey.evaluations.satisfaction_by_staff()
    assert (staff.key, staff.name, staff.ratings) == (None, '', 4), 'nobody was logged in: the queue acted as "staff"'
    overall = await journey.evaluations.satisfaction_overall()
    assert (overall.ratings, overall.satisfied, overall.dissatisfied) == (4, 2, 2)


async def test_staff_are_credited_with_the_tickets_they_completed(
    db: Database, journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    await hall_queue.take_ticket(journeyhall.TicketCreate(service_code='SVC-C'), caller=DESK)
    await hall_queue.call_next(journey_hall.small.window_4, caller=DESK)
    view = await hall_queue.complete(journey_hall.small.window_4, caller=as_staff('w01'))
    await journey.evaluations.rate(sms_act(view.ticket.id or 0), 'good')
    async with db.read_session() as s:
        w01 = (await s.execute(select(StaffUser).where(StaffUser.username == 'w01'))).scalar_one()
    [row] = await journey.evaluations.satisfaction_by_staff()
    assert (row.key, row.name, row.rate) == (w01.id, '张三', 1.0)


@pytest.mark.parametrize(('name', 'value'), [('RECTIFICATION_WORKING_DAYS', '6'), ('EVALUATION_SCALE', 'ten')])
def test_the_scale_and_the_rectification_days_are_checked_at_start(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_settings()
    monkeypatch.setenv('RECTIFICATION_WORKING_DAYS', '15')
    monkeypatch.setenv('EVALUATION_SCALE', 'five')
    settings = load_settings()
    assert (settings.rectification_working_days, settings.evaluation_scale) == (15, 'five')
