"""Staffing advice: Erlang C against textbook values, moves that help, applying one with its audit entry."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import math

import pytest
from sqlmodel import col, select

from app.db import Database
from app.events import Event, WindowChanged
from app.models import ServiceItem, TicketCreate, WindowService
from app.models.appointment import Appointment, AppointmentStatus
from app.models.people import Role
from app.models.security import AuditEntry
from app.models.staffing import StaffingMove
from app.services import audit, erlang
from app.services.errors import Conflict, Forbidden
from app.services.principal import Kind, Principal
from app.services.queue import QueueService
from app.services.recent import Recent
from app.services.staffing import (
    MAX_WAIT,
    AppliedMove,
    Move,
    QueueDemand,
    StaffingService,
    WindowPlan,
    blend_rate,
    outlook,
    pools,
    recommend,
    window_loads,
)
from tests.callers import DESK, as_staff
from tests.conftest import FakeClock
from tests.factories import SmallHall


def textbook_erlang_c(c: int, arrivals: float, service_rate: float) -> tuple[float, float]:
    """P(wait) and mean wait of M/M/c, straight from the textbook sums (independent of app code)."""
    a = arrivals / service_rate
    rho = a / c
    tail = a**c / math.factorial(c) / (1 - rho)
    p0 = 1 / (sum(a**k / math.factorial(k) for k in range(c)) + tail)
    p_wait = tail * p0
    return p_wait, p_wait / (c * service_rate - arrivals)


def test_erlang_c_matches_the_textbook() -> None:
    # c = 2, lambda = 1, mu = 0.75: a = 4/3, rho = 2/3, P0 = 1/5, P(wait) = 8/15, Wq = 16/15
    assert erlang.erlang_c(2, 4 / 3) == pytest.approx(8 / 15)
    assert erlang.expected_wait(2, 1.0, 1 / 0.75) == pytest.approx(16 / 15)
    for c, lam, mu in ((1, 0.5, 1.0), (3, 2.0, 1.0), (5, 3.2, 1.0), (12, 1.6, 0.15), (30, 20.0, 1.0)):
        p_wait, wq = textbook_erlang_c(c, lam, mu)
        assert erlang.erlang_c(c, lam / mu) == pytest.approx(p_wait, rel=1e-9)
        assert erlang.expected_wait(c, lam, 1 / mu) == pytest.approx(wq, rel=1e-9)


def test_fractional_servers_lie_between_whole_ones() -> None:
    waits = [erlang.expected_wait(c, 1.0, 4 / 3) for c in (1.5, 2.0, 2.25, 2.5, 2.75, 3.0)]
    assert waits == sorted(waits, reverse=True)
    assert erlang.expected_wait(2.0001, 1.0, 4 / 3) == pytest.approx(16 / 15, rel=1e-3)
    assert erlang.expected_wait(1.3, 1.0, 4 / 3) == math.inf  # load 4/3 > 1.3 windows
    assert erlang.expected_wait(3, 0.0, 10) == 0


def test_servers_needed_is_the_fewest_that_meet_the_target() -> None:
    needed = erlang.servers_needed(30, 10, 10)  # 5 erlangs
    assert erlang.expected_wait(needed, 0.5, 10) <= 10 < erlang.expected_wait(needed - 1, 0.5, 10)


def test_queues_pool_the_windows_that_serve_them() -> None:
    demand = {1: QueueDemand(1, 'A', '甲', 6, 10), 2: QueueDemand(2, 'B', '乙', 3, 10)}  # 1 and 0.5 erlangs
    windows = [WindowPlan(1, 1, 'w1', {1: 1}), WindowPlan(2, 2, 'w2', {1: 2, 2: 1})]
    loads = window_loads(windows, demand)
    assert loads[1][1] == pytest.approx(2 / 3) and loads[2][1] == pytest.approx(1 / 3)  # main windows take more
    assert loads[2][2] == pytest.approx(0.5)
    pool = pools(windows, demand)
    assert pool[1] == pytest.approx((1.5, (2 / 3 + 0.5 * (1 / 3 + 0.5)) / 1.5))  # w2 helps A half its time
    assert pool[2] == pytest.approx((1.0, 1 / 3 + 0.5))


def test_the_forecast_pulls_the_recent_rate() -> None:
    assert blend_rate(20, None) == 20
    assert blend_rate(20, 40) == 30


def test_citizens_booked_into_the_hour_are_the_least_it_brings() -> None:
    assert blend_rate(20, 40, booked=12) == 30  # bookings are part of the usual arrivals
    assert blend_rate(2, 4, booked=12) == 12  # a booked-out quiet hour still brings every booking


SOCIAL, GENERAL = 1, 2


def busy_social_hall() -> tuple[list[WindowPlan], dict[int, QueueDemand]]:
    """社保: 3 erlangs (15 an hour + 3 waiting, 10 minutes each) on 3 windows and a share of window 5;
    综合: 1.7 erlangs on 4 windows."""
    demand = {
        SOCIAL: QueueDemand(SOCIAL, 'SI-ENROLL', '社保参保登记', 15, 10, waiting=3),
        GENERAL: QueueDemand(GENERAL, 'GENERAL', '综合受理', 9, 10, waiting=1),
    }
    windows = [WindowPlan(n, n, f'{n}号窗口 社保', {SOCIAL: 1}) for n in (1, 2, 3)]
    windows += [WindowPlan(4, 4, '4号窗口 综合', {GENERAL: 1})]
    windows += [WindowPlan(5, 5, '5号窗口 综合', {GENERAL: 1, SOCIAL: 2})]
    windows += [WindowPlan(n, n, f'{n}号窗口 综合', {GENERAL: 1}) for n in (6, 7)]
    return windows, demand


def test_a_move_from_slack_to_pressure_is_advised_with_waits_before_and_after() -> None:
    windows, demand = busy_social_hall()
    before = outlook(windows, demand)
    assert before[SOCIAL].wait_minutes > 10 > 2 > before[GENERAL].wait_minutes
    moves = recommend(windows, demand)
    assert len(moves) == 1, 'one queue is under pressure: one move'
    best = moves[0]
    assert best.target_code == 'SI-ENROLL' and best.source_code == 'GENERAL'
    assert best.window_number == 5, 'near the best, the window that already serves 社保 as a fallback wins'
    assert best.after == {'SI-ENROLL': 1} and best.before == {'GENERAL': 1, 'SI-ENROLL': 2}
    assert best.waits_before['SI-ENROLL'] > 10 and best.waits_after['SI-ENROLL'] < 6
    assert best.waits_after['GENERAL'] < 3 and best.gain > 100


def test_an_overloaded_queue_gets_a_window_that_makes_it_stable() -> None:
    windows, demand = busy_social_hall()
    demand[SOCIAL] = QueueDemand(SOCIAL, 'SI-ENROLL', '社保参保登记', 18, 10, waiting=6)  # 4 erlangs
    assert outlook(windows, demand)[SOCIAL].wait_minutes == MAX_WAIT
    best = recommend(windows, demand)[0]
    assert best.window_number in (4, 6, 7) and best.waits_after['SI-ENROLL'] < 20


def test_a_balanced_hall_gets_no_advice() -> None:
    demand = {SOCIAL: QueueDemand(SOCIAL, 'S', '社保', 6, 10), GENERAL: QueueDemand(GENERAL, 'G', '综合', 6, 10)}
    windows = [WindowPlan(1, 1, 'w1', {SOCIAL: 1}), WindowPlan(2, 2, 'w2', {SOCIAL: 1})]
    windows += [WindowPlan(3, 3, 'w3', {GENERAL: 1}), WindowPlan(4, 4, 'w4', {GENERAL: 1})]
    assert recommend(windows, demand) == []


def test_a_move_never_makes_the_worst_queue_worse() -> None:
    demand = {SOCIAL: QueueDemand(SOCIAL, 'S', '社保', 24, 10), GENERAL: QueueDemand(GENERAL, 'G', '综合', 24, 10)}
    windows = [WindowPlan(n, n, f'w{n}', {SOCIAL: 1}) for n in (1, 2, 3, 4, 5)]
    windows += [WindowPlan(n, n, f'w{n}', {GENERAL: 1}) for n in (6, 7, 8, 9, 10)]
    assert recommend(windows, demand) == []  # both queues are equally loaded: moving only shifts the pain


def test_a_move_does_not_create_a_new_hotspot() -> None:
    demand = {
        SOCIAL: QueueDemand(SOCIAL, 'S', '社保', 18, 10, waiting=3),
        GENERAL: QueueDemand(GENERAL, 'G', '综合', 4.8, 10),
    }
    windows = [WindowPlan(n, n, f'w{n}', {SOCIAL: 1}) for n in (1, 2, 3)]
    windows += [WindowPlan(n, n, f'w{n}', {GENERAL: 1}) for n in (4, 5)]
    moved = [*windows[:3], WindowPlan(4, 4, 'w4', {SOCIAL: 1}), windows[4]]
    before, after = outlook(windows, demand), outlook(moved, demand)
    assert after[SOCIAL].wait_minutes < before[SOCIAL].wait_minutes == MAX_WAIT  # social would gain a lot...
    assert after[GENERAL].wait_minutes > 30 > 5 > before[GENERAL].wait_minutes  # ...at general's expense
    assert recommend(windows, demand) == []


async def _served(db: Database, window_id: int) -> dict[str, int]:
    async with db.session() as s:
        rows = await s.execute(
            select(ServiceItem.code, WindowService.priority)
            .join(ServiceItem, ServiceItem.id == WindowService.service_id)
            .where(WindowService.window_id == window_id)
        )
        return dict(rows.all())


async def test_applying_a_move_changes_the_window_and_is_audited(
    db: Database, queue: QueueService, hall: SmallHall, clock: FakeClock
) -> None:
    await queue.start_live()
    for _ in range(14):  # SVC-B (6 min) piles up at window 2; window 4 idles on SVC-C
        await queue.take_ticket(TicketCreate(service_code=hall.service_b), caller=DESK)
    staffing = StaffingService(queue.deps, queue, None)
    advice = await staffing.advise()
    move = next(m for m in advice.moves if m.target_code == hall.service_b)
    assert move.window_id == hall.window_4 and move.before == {hall.service_c: 1}
    assert move.waits_after[hall.service_b] < move.waits_before[hall.service_b]

    applied = await staffing.apply(move, caller=as_staff('boss'))
    assert await _served(db, hall.window_4) == {hall.service_b: 1}
    async with db.session() as s:
        entry = (await s.execute(select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(1))).scalar_one()
    assert entry.action == audit.REASSIGN == 'window_reassigned'
    assert entry.actor == 'boss' and entry.target == 'window:4'
    assert entry.detail['before'] == {hall.service_c: 1} and entry.detail['after'] == {hall.service_b: 1}
    assert (await audit.verify(db)).ok

    with pytest.raises(Conflict) as stale:
        await staffing.apply(move, caller=as_staff('boss'))  # the window is moved already
    assert stale.value.code == 'window_already_moved'
    await staffing.restore(applied, caller=as_staff('boss'))
    assert await _served(db, hall.window_4) == {hall.service_c: 1}
    assert await staffing.active() == []


async def _moved(queue: QueueService, hall: SmallHall, staffing: StaffingService) -> tuple[Move, AppliedMove]:
    """Window 4 moved onto SVC-B (the queue that piles up), by the manager 'boss'."""
    await queue.start_live()
    for _ in range(14):
        await queue.take_ticket(TicketCreate(service_code=hall.service_b), caller=DESK)
    move = next(m for m in (await staffing.advise()).moves if m.target_code == hall.service_b)
    return move, await staffing.apply(move, caller=as_staff('boss'), reason='午间社保人多')


async def test_a_move_is_stored_with_who_why_and_its_end_hour(
    db: Database, queue: QueueService, hall: SmallHall, clock: FakeClock
) -> None:
    staffing = StaffingService(queue.deps, queue, None)
    _, applied = await _moved(queue, hall, staffing)
    async with db.session() as s:
        row = (await s.execute(select(StaffingMove))).scalar_one()
    assert row.window_id == hall.window_4 and row.target_code == hall.service_b
    assert row.before == {hall.service_c: 1} and row.after == {hall.service_b: 1}
    assert (row.actor, row.reason, row.ended_at) == ('boss', '午间社保人多', None)
    assert row.started_at == clock() and row.ends_at == clock() + dt.timedelta(hours=1)
    fresh = StaffingService(queue.deps, queue, None)  # another process (or this one after a restart)
    assert await fresh.active() == [applied]
    assert applied.window_name and applied.target_name != hall.service_b  # names, not codes


async def test_a_move_ends_at_its_end_hour_and_the_window_serves_what_it_did_before(
    db: Database, queue: QueueService, hall: SmallHall, clock: FakeClock
) -> None:
    staffing = StaffingService(queue.deps, queue, None)
    _, applied = await _moved(queue, hall, staffing)
    changed: list[Event] = []
    queue.bus.subscribe(changed.append, WindowChanged)
    clock.advance(59)
    assert await staffing.end_due() == 0
    assert await _served(db, hall.window_4) == {hall.service_b: 1}
    clock.advance(1)
    assert await staffing.end_due() == 1
    assert await _served(db, hall.window_4) == {hall.service_c: 1}
    assert await staffing.active() == []
    await queue.bus.drain()  # every process's twin hears of the end
    assert [event.payload.id for event in changed if isinstance(event, WindowChanged)] == [hall.window_4]
    async with db.session() as s:
        row = (await s.execute(select(StaffingMove))).scalar_one()
        ends = select(AuditEntry).where(AuditEntry.action == audit.REASSIGN).order_by(col(AuditEntry.id).desc())
        entry = (await s.execute(ends.limit(1))).scalar_one()
    assert row.ended_at == clock() and row.ended_by == 'system:staffing'
    assert entry.actor == 'system:staffing'
    assert entry.detail == {'move': applied.id, 'restore': True, 'restored': True}
    assert (await audit.verify(db)).ok
    assert await StaffingService(queue.deps, queue, None).end_due() == 0  # a second process finds nothing left


async def test_a_move_whose_window_was_changed_meanwhile_ends_without_undoing_that_change(
    db: Database, queue: QueueService, hall: SmallHall, clock: FakeClock
) -> None:
    staffing = StaffingService(queue.deps, queue, None)
    await _moved(queue, hall, staffing)
    await queue.set_window_services(hall.window_4, {hall.service_a: 1}, caller=as_staff('boss'))
    clock.advance(61)
    assert await staffing.end_due() == 1
    assert await _served(db, hall.window_4) == {hall.service_a: 1}
    assert await staffing.active() == []


async def test_only_managers_move_windows_and_a_moved_window_is_not_moved_twice(
    db: Database, queue: QueueService, hall: SmallHall, clock: FakeClock
) -> None:
    staffing = StaffingService(queue.deps, queue, None)
    move, applied = await _moved(queue, hall, staffing)
    again = dataclasses.replace(move, before=applied.after, after={hall.service_a: 1})
    with pytest.raises(Conflict) as moved:
        await staffing.apply(again, caller=as_staff('boss'))
    assert moved.value.code == 'window_already_moved'
    clerk = Principal(Kind.STAFF, 'w04', Role.STAFF, window_id=hall.window_4)
    with pytest.raises(Forbidden):
        await staffing.restore(applied, caller=clerk)
    await staffing.restore(applied, caller=as_staff('boss'))
    with pytest.raises(Conflict) as ended:
        await staffing.restore(applied, caller=as_staff('boss'))
    assert ended.value.code == 'advice_stale'  # the window already serves its own services again


async def test_concurrent_readers_share_one_computation() -> None:
    calls = 0

    async def compute() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        return calls

    now = [0.0]
    recent: Recent[int] = Recent(30, clock=lambda: now[0])
    assert await asyncio.gather(*(recent.get('k', compute) for _ in range(5))) == [1] * 5
    now[0] = 29
    assert await recent.get('k', compute) == 1
    now[0] = 31
    assert await recent.get('k', compute) == 2
    assert await recent.get('k', compute, fresh=True) == 3


async def test_bookings_of_the_next_hour_count_in_the_demand_and_later_ones_do_not(
    db: Database, queue: QueueService, hall: SmallHall, clock: FakeClock
) -> None:
    await queue.start_live()
    now = clock()
    async with db.session() as s, s.begin():
        service_c = (await s.execute(select(ServiceItem).where(ServiceItem.code == hall.service_c))).scalar_one()
        for n, (minutes, status) in enumerate(
            [(10, AppointmentStatus.BOOKED)] * 5
            + [(50, AppointmentStatus.BOOKED), (20, AppointmentStatus.CANCELLED), (70, AppointmentStatus.BOOKED)]
        ):
            start = now + dt.timedelta(minutes=minutes)
            s.add(
                Appointment(
                    hall_id=hall.hall_id,
                    service_id=service_c.id,
                    reference=f'R{n}',
                    status=status,
                    slot_start=start,
                    slot_end=start + dt.timedelta(minutes=30),
                    created_at=now,
                )
            )
    staffing = StaffingService(queue.deps, queue, None)
    _, demand = await staffing.situation(now)
    assert demand[service_c.id].arrivals_per_hour == 6  # five at :10, one at :50; cancelled and later ones not


async def test_two_processes_ending_the_same_move_at_once_end_it_once(
    db: Database, queue: QueueService, hall: SmallHall, clock: FakeClock
) -> None:
    staffing = StaffingService(queue.deps, queue, None)
    _, applied = await _moved(queue, hall, staffing)
    other = StaffingService(queue.deps, QueueService(queue.deps), None)  # another process on the same database
    clock.advance(60)
    assert sorted(await asyncio.gather(staffing.end_due(), other.end_due())) == [0, 1]
    assert await _served(db, hall.window_4) == {hall.service_c: 1}
    async with db.session() as s:
        ends = (await s.execute(select(AuditEntry).where(AuditEntry.action == audit.REASSIGN))).scalars().all()
    assert [entry.detail.get('restore') for entry in ends] == [False, True]  # one apply, one end
    assert ends[1].detail['move'] == applied.id
