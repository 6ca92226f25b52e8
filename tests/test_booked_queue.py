"""Bookings on the floor map's queues: the live queue counts who is booked for the slot under way and the next
hour (BOOKED, not yet checked in), every booking write tells it, and the twin shows the count on its queue."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from app.bus import InProcessBus
from app.db import Database
from app.events import AppointmentChanged
from app.models import TicketCreate
from app.models.appointment import AppointmentStatus
from app.models.ticket import Channel
from app.security.crypto import FieldCipher
from app.services.booking import BookingService
from app.services.live_queue import LiveQueue
from app.services.queue import QueueService
from app.settings import Settings
from components.floor_plan import svg, visuals, zone_visuals
from tests.bookinghall import MONDAY, account, at
from tests.callers import DESK, deps_for
from tests.conftest import FakeClock
from tests.factories import SmallHall
from tests.test_live_state import small_state
from tests.twinkit import seed_twin
from twin import feed as feed_module
from twin.feed import HallFeed
from twin.model import QUEUE, ZONE, Key

TUESDAY = MONDAY + dt.timedelta(days=1)
BOOKED, CHECKED_IN, CANCELLED, MISSED = (
    AppointmentStatus.BOOKED,
    AppointmentStatus.CHECKED_IN,
    AppointmentStatus.CANCELLED,
    AppointmentStatus.MISSED,
)


def utc(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return at(day, hour, minute).astimezone(dt.UTC)


def changed(
    appointment_id: int, start: dt.datetime, status: str = BOOKED, *, service_id: int = 1
) -> AppointmentChanged:
    """A half-hour booking's event, as the booking service publishes it."""
    return AppointmentChanged(
        hall_id=1,
        service_id=service_id,
        appointment_id=appointment_id,
        slot_start=start,
        slot_end=start + dt.timedelta(minutes=30),
        status=status,
    )


def service_id(live: LiveQueue, code: str) -> int:
    return next(sid for sid, service in live.services.items() if service.code == code)


def state_at(clock: FakeClock) -> LiveQueue:
    state = small_state()
    state.clock = clock
    return state


# ---- the reducer ----------------------------------------------------------------------------------


def test_only_bookings_of_the_slot_under_way_and_the_next_hour_count() -> None:
    clock = FakeClock()
    clock.now = utc(MONDAY, 9, 10)
    state = state_at(clock)
    for appointment_id, start in enumerate(
        (utc(MONDAY, 8, 30), utc(MONDAY, 9), utc(MONDAY, 9, 30), utc(MONDAY, 10), utc(MONDAY, 10, 30), utc(TUESDAY, 9)),
        start=1,
    ):
        assert state.apply(changed(appointment_id, start))
    assert state.booked_count(1) == 3  # 09:00 (under way), 09:30 and 10:00; 08:30 is over, 10:30 is after 10:10
    assert state.booked_count(2) == 0
    clock.now = utc(MONDAY, 9, 30)  # 09:00 ends; 10:00 still starts within the hour, 10:30 does not yet
    assert state.booked_count(1) == 2
    clock.now = utc(MONDAY, 9, 31)
    assert state.booked_count(1) == 3  # 10:30 now starts within the hour
    assert state.waiting_count(1) == 0  # a booking is not a ticket: nobody queues yet


def test_booking_moving_cancelling_checking_in_and_missing_change_the_count() -> None:
    clock = FakeClock()
    clock.now = utc(MONDAY, 9, 10)
    state = state_at(clock)
    state.apply(changed(1, utc(MONDAY, 9, 30)))
    state.apply(changed(2, utc(MONDAY, 10)))
    state.apply(changed(3, utc(MONDAY, 9)))
    state.apply(changed(4, utc(MONDAY, 9, 30)))
    assert state.booked_count(1) == 4
    assert state.apply(changed(1, utc(TUESDAY, 9)))  # moved out of the hour ahead
    assert state.booked_count(1) == 3
    assert state.apply(changed(1, utc(MONDAY, 10)))  # ... and back into it
    assert state.booked_count(1) == 4
    assert state.apply(changed(2, utc(MONDAY, 10), CANCELLED))
    assert state.apply(changed(3, utc(MONDAY, 9), CHECKED_IN))  # the citizen now holds a ticket instead
    assert state.apply(changed(4, utc(MONDAY, 9, 30), MISSED))
    assert state.booked_count(1) == 1
    assert not state.apply(changed(2, utc(MONDAY, 10), CANCELLED))  # a booking no longer counted: nothing moves
    assert not state.apply(changed(1, utc(MONDAY, 10)))  # the same slot again: nothing moves
    assert set(state.booked) == {1}


# ---- the services publish every change ------------------------------------------------------------


async def test_every_booking_write_reaches_the_live_queue_as_a_fresh_read_has_it(
    db: Database, bus: InProcessBus, settings: Settings, hall: SmallHall, cipher: FieldCipher, clock: FakeClock
) -> None:
    deps = deps_for(db, bus, hall_id=hall.hall_id, settings=settings, clock=clock, cipher=cipher)
    bookings, queue = BookingService(deps), QueueService(deps)
    live = await queue.start_live()
    a, b = service_id(live, hall.service_a), service_id(live, hall.service_b)

    async def counted() -> tuple[int, int]:
        await bus.drain()
        fresh = await queue.load_live()
        assert live.booked == fresh.booked  # fed by events == read from the database
        return live.booked_count(a), live.booked_count(b)

    people = [await account(db, cipher, f'1380000{n:04d}') for n in range(4)]
    clock.now = utc(MONDAY, 8, 40)
    first = await bookings.book(people[0], hall.service_a, at(MONDAY, 9))
    second = await bookings.book(people[1], hall.service_a, at(MONDAY, 9, 30))
    later = await bookings.book(people[2], hall.service_a, at(MONDAY, 10))  # starts after 09:40
    await bookings.book(people[3], hall.service_b, at(MONDAY, 9))
    assert await counted() == (2, 1)
    await bookings.reschedule(people[2], later.reference, at(MONDAY, 9, 30))
    assert await counted() == (3, 1)
    await bookings.cancel(people[1], second.reference)
    assert await counted() == (2, 1)

    clock.now = utc(MONDAY, 8, 55)
    await queue.take_ticket(
        TicketCreate(service_code=hall.service_a, channel=Channel.APPOINTMENT_QR, appointment_code=first.qr),
        caller=DESK,
    )
    assert await counted() == (1, 1)
    assert live.waiting_count(a) == 1  # the booking became a ticket in the queue

    clock.now = utc(MONDAY, 9, 46)  # 09:00-09:30 plus the 15 min grace has passed: a no-show
    assert await bookings.mark_missed() == 1
    assert await counted() == (1, 0)
    assert len(live.booked) == 1  # the missed one is forgotten, not only left out of the hour


async def test_bookings_made_before_the_start_are_read_at_the_start(
    db: Database, bus: InProcessBus, settings: Settings, hall: SmallHall, cipher: FieldCipher, clock: FakeClock
) -> None:
    writer = BookingService(deps_for(db, hall_id=hall.hall_id, settings=settings, clock=clock, cipher=cipher))
    me = await account(db, cipher, '13800009999')
    clock.now = utc(MONDAY, 8, 40)
    await writer.book(me, hall.service_b, at(MONDAY, 9))  # written by a tool without a bus: nobody is told
    queue = QueueService(deps_for(db, bus, hall_id=hall.hall_id, settings=settings, clock=clock, cipher=cipher))
    live = await queue.start_live()
    assert live.booked_count(service_id(live, hall.service_b)) == 1
    clock.now = utc(MONDAY, 9, 30)
    assert live.booked_count(service_id(live, hall.service_b)) == 0  # its slot is over


# ---- the twin and the floor map -------------------------------------------------------------------


def test_a_booking_shows_on_its_queue_and_zone_and_keys_change_only_with_the_count() -> None:
    twin = seed_twin()
    clock = FakeClock()
    clock.now = utc(MONDAY, 9, 10)
    twin.live.clock = clock
    queue = next(q for q in twin.queues.values() if q.zone_id is not None)
    zid = queue.zone_id
    assert zid is not None
    mine = {(QUEUE, queue.service_id), (ZONE, zid)}

    booking = changed(1, utc(MONDAY, 9, 30), service_id=queue.service_id)
    assert twin.apply(booking) == mine
    assert (queue.booked, twin.zones[zid].booked, queue.waiting) == (1, 1, 0)
    assert zone_visuals(twin, zid)[f'fm-z{zid}-b'] == (None, '约1')
    assert f'id="fm-z{zid}-b"' in svg(twin, visuals(twin, clock.now))
    assert twin.apply(booking) == frozenset()  # the bus's late copy
    assert twin.apply(changed(2, utc(TUESDAY, 9), service_id=queue.service_id)) == frozenset()  # not this hour
    assert twin.apply(changed(2, utc(MONDAY, 10), service_id=queue.service_id)) == mine  # moved into it
    assert queue.booked == 2

    assert twin.refresh_booked() == set()  # the time tick: nothing moved
    clock.now = utc(MONDAY, 10)  # 09:30-10:00 is over; 10:00 is under way
    assert twin.refresh_booked() == mine
    assert (queue.booked, twin.zones[zid].booked) == (1, 1)
    assert twin.apply(changed(2, utc(MONDAY, 10), CHECKED_IN, service_id=queue.service_id)) == mine
    assert zone_visuals(twin, zid)[f'fm-z{zid}-b'] == (None, '')


async def test_the_feeds_minute_tick_redraws_a_queue_whose_slot_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Time alone moves bookings out of the hour ahead: the process's one feed loop recounts, no event needed."""
    monkeypatch.setattr(feed_module, 'TICK_SECONDS', 0.01)
    monkeypatch.setattr(feed_module, 'BOOKED_EVERY', 0.02)
    twin = seed_twin()
    clock = FakeClock()
    clock.now = utc(MONDAY, 9, 10)
    twin.live.clock = clock
    queue = next(q for q in twin.queues.values() if q.zone_id is not None)
    zid = queue.zone_id
    assert zid is not None
    twin.apply(changed(1, utc(MONDAY, 9), service_id=queue.service_id))
    feed = HallFeed(twin, min_interval=0)
    flushed: list[frozenset[Key]] = []
    feed.flushed.subscribe(flushed.append)
    await feed.start()
    try:
        clock.now = utc(MONDAY, 9, 30)
        for _ in range(500):
            if any((QUEUE, queue.service_id) in keys for keys in flushed):
                break
            await asyncio.sleep(0.01)
        assert any((QUEUE, queue.service_id) in keys for keys in flushed)
        assert (queue.booked, twin.zones[zid].booked) == (0, 0)
    finally:
        await feed.stop()
