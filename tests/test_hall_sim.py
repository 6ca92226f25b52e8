"""Hall simulator: a virtual day through the real QueueService (no sleeping), and the live demo's clock."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import statistics

from sqlmodel import col, select
from stdnum.cn import ric

from app.bus import InProcessBus
from app.db import Database
from app.models import Ticket, TicketEvent, TicketStatus
from app.models.ticket import PriorityClass
from app.services import hall_hours
from app.services.forecast import SIMULATED_ACTOR
from app.services.queue import QueueService
from app.settings import Settings
from devices.sim.hall_traffic import HallSimulator, SimConfig, VirtualClock, WallClock, handling_minutes, id_number
from tests.callers import deps_for
from tests.factories import SmallHall

DAY = dt.date(2026, 6, 3)


def morning_rush(day: dt.date, hour: int) -> dict[int, float]:
    """Arrivals only from 9:00 to 10:00, for services 1-3 of the small hall (ids are 1, 2, 3)."""
    return {1: 10.0, 2: 16.0, 3: 6.0} if hour == 9 else {}


async def simulated_queue(db: Database, bus: InProcessBus, settings: Settings, hall: SmallHall) -> QueueService:
    clock = VirtualClock(hall_hours.local_moment(DAY, 7, settings.tz))
    queue = QueueService(deps_for(db, bus, hall_id=hall.hall_id, settings=settings, clock=clock))
    await queue.start_live()
    return queue


async def service_ids(db: Database) -> dict[str, int]:
    from app.models import ServiceItem

    async with db.session() as s:
        return {sv.code: sv.id for sv in (await s.execute(select(ServiceItem))).scalars() if sv.id}


async def test_a_virtual_day_serves_everyone_through_the_real_queue(
    db: Database, bus: InProcessBus, settings: Settings, hall: SmallHall
) -> None:
    queue = await simulated_queue(db, bus, settings, hall)
    ids = await service_ids(db)
    rates = {ids[hall.service_a]: 10.0, ids[hall.service_b]: 16.0, ids[hall.service_c]: 6.0}
    config = SimConfig(seed=3, no_show=0.15, late=0.1, elderly=0.3)
    simulator = HallSimulator(queue, lambda day, hour: rates if hour == 9 else {}, clock=queue.clock, config=config)
    seen: list[str] = []
    simulator.observer = lambda kind, view: seen.append(view.ticket.number)
    report = await simulator.run_day(DAY)

    assert report.issued == len(seen) > 15 and report.errors == 0
    assert report.completed + report.no_shows == report.issued and report.no_shows > 0
    async with db.session() as s:
        tickets = list((await s.execute(select(Ticket))).scalars())
        kinds = list((await s.execute(select(TicketEvent.kind, TicketEvent.actor))).all())
    assert {t.status for t in tickets} <= {TicketStatus.COMPLETED, TicketStatus.NO_SHOW}
    assert all(t.window_id != hall.window_3 for t in tickets), 'window 3 is closed'
    start, close = hall_hours.opening(DAY, settings.tz)
    assert all(start <= t.taken_at < close and t.completed_at and t.completed_at > t.taken_at for t in tickets)
    assert {actor for _, actor in kinds} == {SIMULATED_ACTOR}
    no_shows = [t for t in tickets if t.status == TicketStatus.NO_SHOW]
    assert all(t.recall_count == settings.recalls_before_no_show for t in no_shows)
    assert any(t.priority_class == PriorityClass.GREEN and t.citizen_id for t in tickets), 'elderly with ID cards'
    a_minutes = [
        (t.completed_at - t.called_at).total_seconds() / 60
        for t in tickets
        if t.service_id == ids[hall.service_a] and t.status == TicketStatus.COMPLETED and t.recall_count == 0
    ]
    assert 5 < statistics.fmean(a_minutes) < 15, 'lognormal around the configured 10 minutes'
    assert queue.clock() > close - dt.timedelta(hours=8), 'the clock jumped, nobody slept'


async def test_it_drives_only_the_windows_it_is_given(
    db: Database, bus: InProcessBus, settings: Settings, hall: SmallHall
) -> None:
    queue = await simulated_queue(db, bus, settings, hall)
    ids = await service_ids(db)
    rates = {ids[hall.service_a]: 12.0, ids[hall.service_c]: 6.0}
    simulator = HallSimulator(
        queue,
        lambda day, hour: rates if hour == 9 else {},
        clock=queue.clock,
        config=SimConfig(seed=5),
        windows=[hall.window_1],
    )
    await simulator.run_day(DAY, drain_hours=1)
    async with db.session() as s:
        called_at = set((await s.execute(select(Ticket.window_id).where(col(Ticket.window_id).is_not(None)))).scalars())
        waiting_c = (
            await s.execute(select(Ticket).where(Ticket.status == TicketStatus.WAITING, Ticket.number.like('C%')))
        ).all()
    assert called_at == {hall.window_1}
    assert waiting_c, 'nobody drives window 4, so SVC-C waits for real staff'


def test_citizens_carry_valid_id_numbers_and_handling_times_are_skewed() -> None:
    rng = random.Random(1)
    for _ in range(50):
        number = id_number(rng, dt.date(1950, 5, 17))
        assert ric.is_valid(number) and number[6:14] == '19500517'
    times = [handling_minutes(rng, 10, 0.5) for _ in range(4000)]
    assert 9.5 < statistics.fmean(times) < 10.5 and statistics.median(times) < statistics.fmean(times)


async def test_the_live_demo_runs_a_virtual_working_day_faster(
    db: Database, bus: InProcessBus, settings: Settings, hall: SmallHall
) -> None:
    queue = await simulated_queue(db, bus, settings, hall)
    clock = queue.clock
    assert isinstance(clock, VirtualClock)
    clock.now = hall_hours.local_moment(dt.date(2026, 6, 6), 21, settings.tz)  # a Saturday evening
    simulator = HallSimulator(queue, morning_rush, clock=clock, config=SimConfig(speed=6), live_demo=True)
    await simulator.prepare()
    day, hour = simulator.profile_hour(clock.now)
    assert (day, hour) == (dt.date(2026, 6, 8), 9)  # the next working day (Monday), from 9:00
    day, hour = simulator.profile_hour(clock.now + dt.timedelta(minutes=25))  # 150 hall minutes later
    assert hour == 11
    day, hour = simulator.profile_hour(clock.now + dt.timedelta(minutes=100))  # a full day: round again
    assert hour == 9


async def test_the_background_simulator_starts_and_stops_cleanly(
    db: Database, bus: InProcessBus, settings: Settings, hall: SmallHall
) -> None:
    queue = QueueService(deps_for(db, bus, hall_id=hall.hall_id, settings=settings))
    await queue.start_live()
    ids = await service_ids(db)
    simulator = HallSimulator(
        queue,
        lambda day, hour: {ids[hall.service_b]: 60.0},
        clock=WallClock(),
        config=SimConfig(speed=60, seed=2),
        live_demo=True,
    )
    simulator.start()
    await asyncio.sleep(0.5)
    await simulator.stop()
    assert simulator.report.errors == 0
