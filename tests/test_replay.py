"""Replay: the hall rebuilt from events at a moment equals the live state captured at that moment."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlmodel import select

from app.db import Database
from app.events import TicketCalled, TicketTransferred
from app.models import Device, DeviceKind, TicketCreate, WindowState, Zone
from app.models.operations import DeviceEvent, WindowEvent
from app.services import hall_hours
from app.services.queue import QueueService
from app.services.replay import (
    DayLog,
    HallAt,
    ReplayService,
    TicketStep,
    WindowStep,
    moment_at,
    slider_minutes,
    state_at,
)
from app.settings import Settings
from tests.callers import DESK, as_staff, deps_for
from tests.conftest import FakeClock
from tests.factories import SmallHall

DAY = dt.date(2026, 6, 3)

Snapshot = tuple[dict[int, tuple[str, str | None]], dict[str, int]]


async def live(queue: QueueService) -> Snapshot:
    overview = await queue.overview()
    windows = {
        w.window.id or 0: (str(w.window.state), w.current.number if w.current else None) for w in overview.windows
    }
    return windows, {q.service.code: q.waiting for q in overview.queues}


def replayed(hall: HallAt) -> Snapshot:
    windows = {w.window_id: (w.state, w.ticket_number) for w in hall.windows}
    return windows, {q.code: q.waiting for q in hall.queues}


async def add_devices(db: Database, hall_id: int, clock: FakeClock) -> tuple[int, int]:
    async with db.session() as s, s.begin():
        zone = (await s.execute(select(Zone).where(Zone.hall_id == hall_id))).scalars().first()
        assert zone is not None
        kiosk = Device(hall_id=hall_id, zone_id=zone.id, code='K1', kind=DeviceKind.KIOSK, credential_hash='x')
        seat = Device(hall_id=hall_id, zone_id=zone.id, code='S1', kind=DeviceKind.SEAT, credential_hash='x')
        s.add_all([kiosk, seat])
        await s.flush()
        yesterday = clock.now - dt.timedelta(hours=20)
        rows: list[tuple[int | None, dt.datetime, str, dict[str, Any]]] = [
            (kiosk.id, yesterday, 'health', {'state': 'online'}),
            (kiosk.id, clock.now + dt.timedelta(minutes=12), 'health', {'state': 'fault', 'reason': 'paper'}),
            (kiosk.id, clock.now + dt.timedelta(minutes=12), 'print', {'status': 'jam'}),
            (seat.id, clock.now + dt.timedelta(minutes=3), 'health', {'state': 'online'}),
            (seat.id, clock.now + dt.timedelta(minutes=4), 'seat', {'occupied': True}),
            (seat.id, clock.now + dt.timedelta(minutes=30), 'seat', {'occupied': False}),
        ]
        s.add_all(DeviceEvent(hall_id=hall_id, device_id=d, at=at, kind=k, detail=v) for d, at, k, v in rows)
        assert kiosk.id is not None and seat.id is not None
        return kiosk.id, seat.id


async def test_replay_at_each_moment_equals_the_live_state_then(
    db: Database, queue: QueueService, hall: SmallHall, clock: FakeClock, settings: Settings
) -> None:
    clock.now = hall_hours.local_moment(DAY, 8, settings.tz, minute=30)
    kiosk, seat = await add_devices(db, hall.hall_id, clock)
    a, b, c = (TicketCreate(service_code=code) for code in (hall.service_a, hall.service_b, hall.service_c))
    captured: dict[dt.datetime, Snapshot] = {}

    async def checkpoint(then_wait: float) -> None:
        """Capture the live state after this moment's actions, then let time pass."""
        captured[clock.now] = await live(queue)
        clock.advance(then_wait)

    await checkpoint(1)  # 08:30, nothing yet
    for request in (a, a, b, a):
        await queue.take_ticket(request, caller=DESK)  # A001, A002, B001, A003
    await queue.set_window_state(hall.window_3, WindowState.OPEN, caller=DESK)
    await checkpoint(4)
    await queue.call_next(hall.window_1, caller=DESK)  # A001
    await queue.call_next(hall.window_2, caller=DESK)  # B001
    await checkpoint(5)
    await queue.take_ticket(c, caller=DESK)
    await queue.call_next(hall.window_4, caller=DESK)  # C001
    await queue.complete(hall.window_1, caller=DESK)
    await queue.call_next(hall.window_1, caller=DESK)  # A002
    await checkpoint(3)  # 08:40
    await queue.transfer(hall.window_1, to_service_code=hall.service_b, caller=DESK)  # A002 waits for B now
    await queue.park(hall.window_2, caller=DESK)  # B001 on hold
    await queue.set_window_state(hall.window_3, WindowState.PAUSED, caller=DESK)
    await checkpoint(2)
    await queue.call_next(hall.window_2, caller=DESK)  # A002, now a B ticket
    await queue.call_next(hall.window_1, caller=DESK)  # A003
    await checkpoint(7)
    for _ in range(2):
        clock.advance(0.5)  # recalls and no-show wait RECALL_INTERVAL_SECONDS after each call
        await queue.recall(hall.window_1, caller=DESK)
    clock.advance(0.5)
    await queue.no_show(hall.window_1, caller=DESK)
    await queue.complete(hall.window_2, caller=DESK)
    await queue.resume(hall.window_2, 'B001', caller=DESK)
    await checkpoint(10)
    await queue.complete(hall.window_2, caller=DESK)
    await queue.complete(hall.window_4, caller=DESK)
    await queue.set_window_services(hall.window_4, {hall.service_c: 1, hall.service_a: 2}, caller=as_staff('manager'))
    await queue.set_window_state(hall.window_4, WindowState.CLOSED, caller=DESK)
    await checkpoint(0)

    log = await ReplayService(deps_for(db, hall_id=hall.hall_id, settings=settings, clock=clock)).load(DAY)
    for moment, snapshot in captured.items():
        assert replayed(state_at(log, moment)) == snapshot, moment.astimezone(settings.tz)

    early = state_at(log, log.start)
    assert {w.window_id: w.activity for w in early.windows} == {
        hall.window_1: 'idle',
        hall.window_2: 'idle',
        hall.window_3: 'closed',  # until it opened at 08:31
        hall.window_4: 'idle',
    }
    middle = state_at(log, hall_hours.local_moment(DAY, 8, settings.tz, minute=40))
    assert {w.window_id: w.activity for w in middle.windows}[hall.window_1] == 'serving'
    assert middle.queues[0].numbers == ['A003']
    devices = {d.device_id: d for d in middle.devices}
    assert devices[kiosk].state == 'online' and devices[seat].state == 'online' and devices[seat].occupied
    later = state_at(log, hall_hours.local_moment(DAY, 8, settings.tz, minute=45))
    assert {d.device_id: d.state for d in later.devices}[kiosk] == 'fault'
    end = state_at(log, log.end)
    assert (end.issued, end.finished, end.no_shows, end.waiting) == (5, 4, 1, 0)
    assert {w.window_id: w.finished for w in end.windows}[hall.window_1] == 2
    assert [(step.kind, step.to_state) for step in end.recent[:2]] == [('state', 'closed'), ('services', 'open')]
    assert isinstance(end.recent[1], WindowStep) and end.recent[1].detail == {hall.service_c: 1, hall.service_a: 2}
    assert end.recent[2].kind == 'completed' and len(end.recent) <= 8


async def test_a_window_that_changed_only_later_held_its_earlier_state(
    db: Database, queue: QueueService, hall: SmallHall, clock: FakeClock, settings: Settings
) -> None:
    """Replaying yesterday: window 3 opened only today, so yesterday it was closed all day; the others
    never changed, so they held the state they have now."""
    clock.now = hall_hours.local_moment(DAY + dt.timedelta(days=1), 9, settings.tz)
    await queue.set_window_state(hall.window_3, WindowState.OPEN, caller=as_staff('staff3'))
    service = ReplayService(deps_for(db, hall_id=hall.hall_id, settings=settings, clock=clock))
    yesterday = await service.load(DAY)
    assert yesterday.window_steps == []
    states = {w.window_id: w.state for w in state_at(yesterday, yesterday.end).windows}
    assert states == {hall.window_1: 'open', hall.window_2: 'open', hall.window_3: 'closed', hall.window_4: 'open'}
    today = await service.load(DAY + dt.timedelta(days=1))
    assert {w.window_id: w.state for w in state_at(today, clock.now).windows}[hall.window_3] == 'open'
    async with db.read_session() as s:
        row = (await s.execute(select(WindowEvent))).scalar_one()
    assert (row.kind, row.from_state, row.to_state, row.actor) == ('state', 'closed', 'open', 'staff3')


async def test_a_day_without_events_replays_as_an_empty_hall(
    db: Database, hall: SmallHall, clock: FakeClock, settings: Settings
) -> None:
    clock.now = hall_hours.local_moment(DAY, 12, settings.tz)
    log = await ReplayService(deps_for(db, hall_id=hall.hall_id, settings=settings, clock=clock)).load(DAY)
    assert log.start == hall_hours.local_moment(DAY, hall_hours.OPEN_HOUR, settings.tz)
    assert log.end == clock.now  # not beyond now
    state = state_at(log, clock.now)
    assert state.waiting == 0 and state.issued == 0 and all(w.ticket_number is None for w in state.windows)


# Hall-local times of day: before opening, on a whole minute, mid-minute in opening hours (the hour the
# page test failed on the wall clock), after closing, and either side of midnight.
TIMES_OF_DAY = [
    dt.time(7, 30, 15),
    dt.time(10),
    dt.time(16, 4, 39),
    dt.time(18, 30, 20),
    dt.time(23, 59, 45),
    dt.time(0, 0, 20),
]


def at_local(day: dt.date, time: dt.time, settings: Settings) -> dt.datetime:
    return dt.datetime.combine(day, time, tzinfo=settings.tz).astimezone(dt.UTC)


@pytest.mark.parametrize('time_of_day', TIMES_OF_DAY, ids=str)
async def test_the_last_stop_of_today_shows_what_just_happened_at_any_time_of_day(
    db: Database, queue: QueueService, hall: SmallHall, clock: FakeClock, settings: Settings, time_of_day: dt.time
) -> None:
    """The slider's last stop used to be the whole minute before now and stop at closing time, so a change made
    this minute, or after 18:00, was missing from "now"."""
    clock.now = at_local(DAY, time_of_day, settings)
    await queue.set_window_state(hall.window_3, WindowState.OPEN, caller=as_staff('w03'))
    await queue.set_window_state(hall.window_2, WindowState.PAUSED, caller=as_staff('w02'))
    log = await ReplayService(deps_for(db, hall_id=hall.hall_id, settings=settings, clock=clock)).load()
    assert log.day == DAY
    now = moment_at(log, slider_minutes(log))
    assert now == clock.now
    state = state_at(log, now)
    activity = {w.window_id: w.activity for w in state.windows}
    assert (activity[hall.window_2], activity[hall.window_3]) == ('paused', 'idle')
    changes = [(step.window_id, step.to_state) for step in state.recent if isinstance(step, WindowStep)]
    assert changes == [(hall.window_2, 'paused'), (hall.window_3, 'open')]


def test_slider_stops_are_whole_minutes_from_the_start_and_the_last_is_the_end_itself() -> None:
    start = dt.datetime(2026, 6, 3, 0, 0, tzinfo=dt.UTC)
    end = start + dt.timedelta(hours=8, minutes=4, seconds=39)
    log = DayLog(DAY, start, end, [], [], [], {}, {}, {}, {})
    assert slider_minutes(log) == 485
    assert moment_at(log, 484) == start + dt.timedelta(minutes=484)
    assert moment_at(log, 485) == moment_at(log, 10_000) == end
    assert moment_at(log, 0) == moment_at(log, -5) == start
    empty = DayLog(DAY, start, start, [], [], [], {}, {}, {}, {})
    assert slider_minutes(empty) == 1 and moment_at(empty, 1) == start


def test_each_stored_row_is_folded_as_the_event_the_queue_published() -> None:
    at = dt.datetime(2026, 6, 3, 1, 0, tzinfo=dt.UTC)
    moved = TicketStep(at, 7, 'A007', 'transferred', 2, 3, 'waiting').event
    assert isinstance(moved, TicketTransferred) and moved.from_window_id == 3 and moved.payload.window_id is None
    called = TicketStep(at, 7, 'A007', 'called_out_of_order', 1, 3, 'called').event
    assert isinstance(called, TicketCalled) and called.payload.called_at == at and called.payload.window_id == 3
    assert TicketStep(at, 7, 'A007', 'recalled', 1, 3, 'called').event is None  # same desk, same first call
    assert TicketStep(at, 7, 'A007', 'answers', 1, None, 'waiting').event is None  # kiosk answers move nobody


def test_replay_folds_calls_recalls_and_transfers_like_the_running_hall() -> None:
    start = dt.datetime(2026, 6, 3, 0, 0, tzinfo=dt.UTC)
    minute = dt.timedelta(minutes=1)
    steps = [
        TicketStep(start + minute, 1, 'A001', 'issued', 1, None, 'waiting'),
        TicketStep(start + 2 * minute, 1, 'A001', 'called', 1, 5, 'called'),
        TicketStep(start + 3 * minute, 1, 'A001', 'recalled', 1, 5, 'called'),
        TicketStep(start + 4 * minute, 1, 'A001', 'transferred', 2, 5, 'waiting'),
    ]
    services = {1: ('A', 'A', 'A'), 2: ('B', 'B', 'B')}
    log = DayLog(DAY, start, start + 10 * minute, steps, [], [], {5: 'open'}, {5: (1, 'W1')}, services, {})
    recalled = state_at(log, start + 3 * minute)
    assert (recalled.windows[0].ticket_number, recalled.windows[0].since) == ('A001', start + 2 * minute)
    assert recalled.waiting == 0
    moved = state_at(log, start + 4 * minute)
    assert moved.windows[0].activity == 'idle'
    queues = [(q.code, q.numbers, q.oldest) for q in moved.queues]
    assert queues == [('A', [], None), ('B', ['A001'], start + 4 * minute)]
