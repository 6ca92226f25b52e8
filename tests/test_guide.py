"""The service guide: search in Chinese and English, the kiosk's checklist, 流程模拟 steps, best times."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import insert
from sqlmodel import select

from app.db import Database
from app.models import ServiceItem, TicketCreate
from app.models.hall import Window, WindowService
from app.models.operations import ArrivalHistory
from app.services import materials
from app.services.errors import Invalid, NotFound
from app.services.forecast import ForecastService
from app.services.guide import BestTimes, GuideService, bookable
from app.services.hall_hours import HOURS, is_working_day, local_moment
from app.services.kiosk_catalogue import load_catalogue
from app.services.queue import QueueService
from app.services.uow import unit_of_work
from app.settings import Settings
from seed import SeedReport, loader, read_seed
from tests.callers import DESK, deps_for
from tests.conftest import FakeClock
from tests.factories import SmallHall

QUIET_HOURS = {14: 1, 15: 2}  # planted: every other opening hour brings 10 arrivals of SVC-A


@pytest.fixture
async def seeded(db: Database, settings: Settings) -> GuideService:
    """The default seed's departments and services (RE-TRANSFER, BIZ-OPEN, ...) written as the seed loader
    writes them (its staff and devices, slow to hash, are left out), and no forecast."""
    async with unit_of_work(db) as uow:
        upsert = loader._Upsert(uow.session, SeedReport())
        seed = read_seed('default')
        await loader._services(upsert, seed.services, await loader._departments(upsert, seed.departments))
    return GuideService(deps_for(db, settings=settings), live=lambda: None)


async def test_chinese_search_finds_by_substring_and_ranks_name_hits_first(seeded: GuideService) -> None:
    assert [e.code for e in await seeded.search('过户')] == ['RE-TRANSFER']  # only its description says 过户
    assert [e.code for e in await seeded.search('二手房')] == ['RE-TRANSFER']  # its question offers 二手房
    names_first = [e.code for e in await seeded.search('不动产')]
    assert names_first[:3] == ['RE-MORTGAGE', 'RE-QUERY', 'RE-TRANSFER']  # names carry it; catalogue order
    assert all(e.department.code == 'REALTY' or '不动产' in e.description for e in await seeded.search('不动产'))
    assert await seeded.search('火星移民') == []


async def test_english_search_ignores_case_and_needs_every_word(seeded: GuideService) -> None:
    assert [e.code for e in await seeded.search('real ESTATE transfer')] == ['RE-TRANSFER']
    assert [e.code for e in await seeded.search('re-transfer')] == ['RE-TRANSFER']
    assert len(await seeded.search('')) == len(await seeded.catalogue())


async def test_a_search_longer_than_any_name_is_refused(seeded: GuideService) -> None:
    with pytest.raises(Invalid) as refused:
        await seeded.search('房' * 65)
    assert refused.value.code == 'guide_query_too_long'


async def test_departments_hold_their_own_services(seeded: GuideService) -> None:
    groups = {g.department.code: [e.code for e in g.services] for g in await seeded.departments()}
    assert 'RE-TRANSFER' in groups['REALTY'] and 'BIZ-OPEN' in groups['SAMR']
    assert sum(len(codes) for codes in groups.values()) == len(await seeded.catalogue())


async def test_the_checklist_equals_the_kiosks_for_the_same_answers(
    seeded: GuideService, db: Database, hall: SmallHall
) -> None:
    await _serve_at_window(db, hall.window_1, 'RE-TRANSFER')  # a kiosk offers what some window serves
    kiosk_row = (await load_catalogue(db, hall.hall_id)).service('RE-TRANSFER')
    for answers in ({}, {'property_type': 'new'}, {'property_type': 'second_hand'}):
        shown = await seeded.guide('RE-TRANSFER', answers)
        assert shown.checklist == materials.checklist(kiosk_row, answers)
    second_hand = await seeded.guide('RE-TRANSFER', {'property_type': 'second_hand'})
    names = [item.name for item in second_hand.checklist.items]
    assert '原不动产权证书' in names and '购房合同备案' not in names
    assert '原不动产权证书' in second_hand.exempt  # department data can stand in for it


async def test_answers_that_are_not_options_are_refused_as_the_kiosk_refuses_them(seeded: GuideService) -> None:
    for answers, code in (
        ({'property_type': '<b>x</b>'}, 'invalid_answer'),
        ({'colour': 'red'}, 'unknown_question'),
        ({'property_type': 'x' * 65}, 'guide_answer_too_long'),
    ):
        with pytest.raises(Invalid) as refused:
            await seeded.guide('RE-TRANSFER', answers)
        assert refused.value.code == code


async def test_an_unknown_service_is_not_found(seeded: GuideService) -> None:
    with pytest.raises(NotFound):
        await seeded.guide('NO-SUCH')


async def test_parallel_approvals_form_one_stage_with_their_departments_and_deadlines(seeded: GuideService) -> None:
    shown = await seeded.guide('BIZ-OPEN')
    assert [stage.parallel for stage in shown.stages] == [False, False, True, False, False, False]
    parallel = shown.stages[2]
    assert [s.department.code for s in parallel.steps] == ['SAMR', 'PSB', 'TAX', 'HRSS', 'HPF']
    assert all(s.sla_hours == 4 and s.sla_days is None for s in parallel.steps)
    accept, conclude = shown.stages[0].steps[0], shown.stages[3].steps[0]
    assert (accept.sla_days, accept.sla_hours) == (None, None)  # 受理 and 办结 carry no deadline of their own
    assert (conclude.sla_days, conclude.sla_hours) == (None, None)
    assert shown.stages[5].steps[0].sla_days == 3
    transfer = await seeded.guide('RE-TRANSFER')
    assert [s.department.code for s in transfer.stages[2].steps] == ['REALTY', 'TAX']
    assert [s.sla_days for s in transfer.stages[2].steps] == [1, 1]


async def test_instant_approval_is_flagged_unless_the_answers_rule_it_out(seeded: GuideService) -> None:
    unanswered = await seeded.guide('SI-ENROLL')
    assert [s.instant for stage in unanswered.stages for s in stage.steps] == [False, True, False]
    flexible = await seeded.guide('SI-ENROLL', {'employment': 'flexible'})
    assert flexible.stages[1].steps[0].instant and flexible.stages[1].steps[0].instant_rule
    employee = await seeded.guide('SI-ENROLL', {'employment': 'employee'})
    assert not employee.stages[1].steps[0].instant


async def test_zero_materials_is_flagged_on_acceptance_when_department_data_covers_the_list(
    seeded: GuideService,
) -> None:
    query = await seeded.guide('RE-QUERY')  # its only material is the ID card, which identity data replaces
    assert query.stages[0].steps[0].zero_materials
    assert not any(s.zero_materials for stage in query.stages[1:] for s in stage.steps)
    transfer = await seeded.guide('RE-TRANSFER', {'property_type': 'second_hand'})
    assert not transfer.stages[0].steps[0].zero_materials


async def test_a_service_without_a_workflow_gets_the_default_steps(seeded: GuideService) -> None:
    shown = await seeded.guide('BIZ-CHANGE')  # sla_days 3, no workflow of its own
    assert [s.kind for stage in shown.stages for s in stage.steps] == ['accept', 'approve', 'conclude']
    assert shown.stages[1].steps[0].sla_days == 3


# ---- best times on the small hall with a forecast fixed by test data ----------------------------------------


async def _serve_at_window(db: Database, window_id: int, code: str) -> None:
    async with db.session() as s, s.begin():
        service_id = (await s.execute(select(ServiceItem.id).where(ServiceItem.code == code))).scalar_one()
        s.add(WindowService(window_id=window_id, service_id=service_id, priority=2))


async def _plant_history(db: Database, hall: SmallHall, end: dt.date) -> int:
    """Eight weeks of SVC-A arrivals: 10 an hour, except the quiet hours."""
    async with db.read_session() as s:
        service_id = (await s.execute(select(ServiceItem.id).where(ServiceItem.code == hall.service_a))).scalar_one()
    rows = [
        {
            'hall_id': hall.hall_id,
            'service_id': service_id,
            'day': day,
            'hour': hour,
            'arrivals': QUIET_HOURS.get(hour, 10),
        }
        for day in (end - dt.timedelta(days=n) for n in range(1, 57))
        if is_working_day(day)
        for hour in HOURS
    ]
    async with db.session() as s, s.begin():
        await s.execute(insert(ArrivalHistory), rows)
    return service_id


@pytest.fixture
def forecast(db: Database, settings: Settings, hall: SmallHall, clock: FakeClock) -> ForecastService:
    return ForecastService(deps_for(db, hall_id=hall.hall_id, settings=settings, clock=clock))


async def test_best_times_skip_closed_days_and_mark_the_quietest_hours(
    db: Database, hall: SmallHall, clock: FakeClock, settings: Settings, forecast: ForecastService
) -> None:
    service_id = await _plant_history(db, hall, clock.now.date())
    times = BestTimes(forecast.deps, forecast)
    days = await times.of(service_id)
    today = clock.now.astimezone(settings.tz).date()  # Saturday 28 November 2026: closed, and so is Sunday
    assert [d.day for d in days] == [today + dt.timedelta(days=n) for n in range(2, 7)]
    for day in days:
        assert [h.start for h in day.hours] == [local_moment(day.day, hour, settings.tz) for hour in HOURS]
        quiet = {h.start.astimezone(settings.tz).hour for h in day.hours if h.quiet}
        assert quiet == set(QUIET_HOURS)
        waits = {h.start.astimezone(settings.tz).hour: h.wait_minutes for h in day.hours}
        assert waits[14] < waits[10]


async def test_best_times_today_start_at_the_current_hour_and_are_kept_for_the_hour(
    db: Database, hall: SmallHall, clock: FakeClock, settings: Settings, forecast: ForecastService
) -> None:
    clock.now = local_moment(dt.date(2026, 11, 30), 13, settings.tz, minute=20)  # Monday 13:20
    service_id = await _plant_history(db, hall, dt.date(2026, 11, 30))
    times = BestTimes(forecast.deps, forecast)
    first = await times.of(service_id)
    assert first[0].day == dt.date(2026, 11, 30)
    assert [h.start.astimezone(settings.tz).hour for h in first[0].hours] == list(range(13, 18))
    clock.advance(30)
    assert await times.of(service_id) is first  # the same hour: computed once, shared
    clock.advance(20)  # 14:10: the 13:00 hour is over
    assert (await times.of(service_id))[0].hours[0].start.astimezone(settings.tz).hour == 14


async def test_an_hour_under_way_books_from_its_next_slot_and_a_spent_one_not_at_all(
    db: Database, hall: SmallHall, clock: FakeClock, settings: Settings, forecast: ForecastService
) -> None:
    clock.now = local_moment(dt.date(2026, 11, 30), 13, settings.tz, minute=20)  # Monday 13:20
    service_id = await _plant_history(db, hall, dt.date(2026, 11, 30))
    days = await BestTimes(forecast.deps, forecast).of(service_id)

    def books(now: dt.datetime) -> dict[int, dt.datetime | None]:
        today = bookable(days, now, settings.tz, slot_minutes=30)[0]
        return {h.start.astimezone(settings.tz).hour: h.book_at for h in today.hours}

    at_1320 = books(clock.now)
    assert at_1320[13] == local_moment(dt.date(2026, 11, 30), 13, settings.tz, minute=30)
    assert at_1320[14] == local_moment(dt.date(2026, 11, 30), 14, settings.tz)
    assert books(clock.now + dt.timedelta(minutes=9))[13] == at_1320[13]  # 13:29: the 13:30 slot is still ahead
    assert books(clock.now + dt.timedelta(minutes=10))[13] is None  # 13:30: both slots of the hour have begun
    tomorrow = bookable(days, clock.now, settings.tz, slot_minutes=30)[1]
    assert all(h.book_at == h.start for h in tomorrow.hours)


async def test_best_times_are_recomputed_after_a_configuration_change_within_the_hour(
    db: Database, hall: SmallHall, clock: FakeClock, settings: Settings, forecast: ForecastService
) -> None:
    clock.now = local_moment(dt.date(2026, 11, 30), 13, settings.tz, minute=20)
    service_id = await _plant_history(db, hall, dt.date(2026, 11, 30))
    times = BestTimes(forecast.deps, forecast)
    first = await times.of(service_id)
    times.forget()  # what the app does on HallConfigChanged (app/main.py)
    again = await times.of(service_id)
    assert again is not first and again == first


async def test_the_live_wait_is_the_queues_estimate_for_a_number_taken_now(
    db: Database, hall: SmallHall, queue: QueueService, clock: FakeClock, settings: Settings
) -> None:
    clock.now = local_moment(dt.date(2026, 11, 30), 10, settings.tz)  # Monday 10:00, open
    live = await queue.load_live()
    guide = GuideService(deps_for(db, settings=settings, clock=clock), live=lambda: live)
    free = await guide.guide(hall.service_c)
    assert free.hall_open and free.live_wait_minutes == 0  # window 4 is free
    for _ in range(3):
        await queue.take_ticket(TicketCreate(service_code=hall.service_c), caller=DESK)
    live = await queue.load_live()
    async with db.read_session() as s:
        sid = (await s.execute(select(ServiceItem.id).where(ServiceItem.code == hall.service_c))).scalar_one()
    expected = live.estimate(sid, live.waiting_count(sid))
    assert expected is not None and expected.minutes > 0
    assert (await guide.guide(hall.service_c)).live_wait_minutes == round(expected.minutes, 1)
    clock.now = local_moment(dt.date(2026, 11, 30), 18, settings.tz, minute=5)  # numbers stop at 18:00
    closed = await guide.guide(hall.service_c)
    assert not closed.hall_open and closed.live_wait_minutes is None


async def test_the_guide_names_the_windows_serving_a_service_with_their_own_hours(
    db: Database, settings: Settings, hall: SmallHall
) -> None:
    async with db.session() as s, s.begin():
        window = await s.get(Window, hall.window_3)
        assert window is not None
        window.hours = [{'start': '09:00', 'end': '12:00', 'days': [1, 2, 3, 4, 5]}]
    guide = GuideService(deps_for(db, settings=settings, hall_id=hall.hall_id), live=lambda: None)
    shown = await guide.guide(hall.service_a)
    assert [(w.number, w.name, [(p.start, p.end, p.days) for p in w.hours]) for w in shown.windows] == [
        (1, '1号窗口', []),
        (3, '3号窗口', [('09:00', '12:00', [1, 2, 3, 4, 5])]),
    ]
    assert [w.number for w in (await guide.guide(hall.service_c)).windows] == [4]
