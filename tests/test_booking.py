"""Booking (预约): slots, limits, the no-show block, never overselling, and checking a booking in at the kiosk."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import replace

import pytest
from sqlmodel import col, select

from app.bus import InProcessBus
from app.db import Database
from app.jobs import app_periodic, mark_no_shows
from app.models import Appointment, TicketCreate
from app.models.appointment import AppointmentStatus
from app.models.cases import Notification
from app.models.citizen_account import CitizenAccount
from app.models.ticket import Channel, PriorityClass
from app.security.crypto import FieldCipher
from app.services.auth import AuthService
from app.services.booking import BookingService
from app.services.channels import SMS, RecordingSmsGateway
from app.services.errors import Conflict, DomainError, NotFound, Unauthorized
from app.services.hall_hours import next_working_day
from app.services.hall_rules import RulesHolder
from app.services.journey import build_journey
from app.services.kiosk import KioskService, KioskSession, Method
from app.services.notifications import NotificationService
from app.services.principal import Principal
from app.services.queue import QueueService
from app.settings import Settings
from tests.bookinghall import MONDAY, account, at
from tests.callers import DESK, deps_for
from tests.conftest import FakeClock
from tests.factories import SmallHall
from tests.kiosk_hall import KIOSK, add_kiosk_hall

TUESDAY, WEDNESDAY, THURSDAY, FRIDAY = (MONDAY + dt.timedelta(days=n) for n in range(1, 5))


@pytest.fixture
def bookings(db: Database, settings: Settings, hall: SmallHall, clock: FakeClock) -> BookingService:
    return BookingService(deps_for(db, hall_id=hall.hall_id, settings=settings, clock=clock))


def with_share(bookings: BookingService, share: float) -> BookingService:
    settings = bookings.settings.model_copy(update={'booking_share': share})
    return BookingService(replace(bookings.deps, settings=settings, rules=RulesHolder()))  # the new defaults


async def refused(call: object) -> str:
    with pytest.raises(DomainError) as error:
        await call  # type: ignore[misc]
    return error.value.code


async def test_slots_follow_opening_hours_and_staffing_on_working_days_only(
    bookings: BookingService, hall: SmallHall
) -> None:
    slots = await bookings.slots(hall.service_a, MONDAY)
    assert len(slots) == 20  # 08:00-18:00 in half hours
    assert (slots[0].start, slots[-1].end) == (at(MONDAY, 8), at(MONDAY, 18))
    assert {(s.capacity, s.available) for s in slots} == {(3, 3)}  # 2 windows x 30 / 10 min x 0.5
    assert {s.capacity for s in await bookings.slots(hall.service_c, MONDAY)} == {1}  # 1 x 30 / 8 x 0.5, at least 1
    saturday, sunday = MONDAY - dt.timedelta(days=2), MONDAY - dt.timedelta(days=1)
    assert await bookings.slots(hall.service_a, saturday) == []  # today: the hall is closed
    assert await bookings.slots(hall.service_a, sunday) == []
    assert bookings.days()[:2] == [MONDAY, TUESDAY] and len(bookings.days()) == 7
    assert await bookings.slots(hall.service_a, bookings.days()[-1] + dt.timedelta(days=3)) == []
    with pytest.raises(NotFound):
        await bookings.slots('NOPE', MONDAY)


async def test_today_lists_only_slots_still_ahead_and_past_or_odd_starts_are_refused(
    bookings: BookingService, hall: SmallHall, db: Database, cipher: FieldCipher, clock: FakeClock
) -> None:
    clock.now = at(MONDAY, 10, 5).astimezone(dt.UTC)
    slots = await bookings.slots(hall.service_a, MONDAY)
    assert slots[0].start == at(MONDAY, 10, 30)
    me = await account(db, cipher, '13800000001')
    assert await refused(bookings.book(me, hall.service_a, at(MONDAY, 9, 30))) == 'slot_past'
    assert await refused(bookings.book(me, hall.service_a, at(MONDAY, 10, 0))) == 'slot_past'  # started
    assert await refused(bookings.book(me, hall.service_a, at(MONDAY, 10, 40))) == 'not_a_slot'
    assert await refused(bookings.book(me, hall.service_a, at(MONDAY, 7, 30))) == 'not_a_slot'  # before opening
    far = next_working_day(bookings.days()[-1] + dt.timedelta(days=1))
    assert await refused(bookings.book(me, hall.service_a, at(far, 9))) == 'slot_too_far'
    assert await count(db) == 0


async def test_an_account_keeps_at_most_three_live_bookings_and_one_per_service_and_day(
    bookings: BookingService, hall: SmallHall, db: Database, cipher: FieldCipher
) -> None:
    me = await account(db, cipher, '13800000002')
    await bookings.book(me, hall.service_a, at(MONDAY, 9))
    assert await refused(bookings.book(me, hall.service_a, at(MONDAY, 15))) == 'booking_same_day'
    await bookings.book(me, hall.service_b, at(MONDAY, 9))
    await bookings.book(me, hall.service_a, at(TUESDAY, 9))  # exactly the cap
    with pytest.raises(Conflict) as error:
        await bookings.book(me, hall.service_c, at(WEDNESDAY, 9))
    assert (error.value.code, error.value.params) == ('booking_limit', {'limit': 3})
    first = (await bookings.bookings_of(me))[-1]
    await bookings.cancel(me, first.reference)
    await bookings.book(me, hall.service_c, at(WEDNESDAY, 9))  # a cancelled one no longer counts
    assert [b.status for b in await bookings.bookings_of(me)].count(AppointmentStatus.BOOKED) == 3


async def test_nobody_books_without_a_signed_in_phone(bookings: BookingService, hall: SmallHall) -> None:
    for caller in (Principal.anonymous('203.0.113.9'), DESK, Principal.citizen(7)):
        with pytest.raises(Unauthorized):
            await bookings.book(caller, hall.service_a, at(MONDAY, 9))
    with pytest.raises(Unauthorized):  # a token for an account that is gone
        await bookings.book(Principal.account(999_999), hall.service_a, at(MONDAY, 9))


async def test_fifty_concurrent_bookings_for_ten_places_book_exactly_ten(
    bookings: BookingService, hall: SmallHall, db: Database, cipher: FieldCipher
) -> None:
    generous = with_share(bookings, 1.0)  # SVC-B: 2 windows x 30 / 6 min = 10 places
    assert (await generous.slots(hall.service_b, MONDAY))[2].capacity == 10
    callers = [await account(db, cipher, f'1390000{n:04d}') for n in range(50)]
    results = await asyncio.gather(
        *(generous.book(c, hall.service_b, at(MONDAY, 9)) for c in callers), return_exceptions=True
    )
    booked = [r for r in results if not isinstance(r, BaseException)]
    codes = {r.code for r in results if isinstance(r, DomainError)}
    assert len(booked) == 10 and codes == {'slot_full'}, results
    assert len({b.reference for b in booked}) == 10
    assert (await generous.slots(hall.service_b, MONDAY))[2].available == 0
    assert await count(db) == 10


async def test_one_account_flooding_concurrently_still_gets_only_its_three(
    bookings: BookingService, hall: SmallHall, db: Database, cipher: FieldCipher
) -> None:
    me = await account(db, cipher, '13800000003')
    days = bookings.days()
    results = await asyncio.gather(
        *(bookings.book(me, code, at(day, 9)) for day in days for code in (hall.service_a, hall.service_b)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 3
    assert {r.code for r in results if isinstance(r, DomainError)} == {'booking_limit'}


async def test_cancel_frees_the_place_and_only_the_owner_may_cancel(
    bookings: BookingService, hall: SmallHall, db: Database, cipher: FieldCipher, clock: FakeClock
) -> None:
    me, other = await account(db, cipher, '13800000004'), await account(db, cipher, '13800000005')
    mine = await bookings.book(me, hall.service_c, at(MONDAY, 9))  # SVC-C has one place a slot
    assert await refused(bookings.book(other, hall.service_c, at(MONDAY, 9))) == 'slot_full'
    with pytest.raises(NotFound) as error:  # another's reference is not found, not forbidden
        await bookings.cancel(other, mine.reference)
    assert error.value.code == 'unknown_appointment'
    assert await refused(bookings.cancel(me, 'NOSUCHREF')) == 'unknown_appointment'
    cancelled = await bookings.cancel(me, mine.reference.lower())
    assert cancelled.status == AppointmentStatus.CANCELLED
    assert await refused(bookings.cancel(me, mine.reference)) == 'appointment_used'
    theirs = await bookings.book(other, hall.service_c, at(MONDAY, 9))
    clock.now = at(MONDAY, 9, 1).astimezone(dt.UTC)
    assert await refused(bookings.cancel(other, theirs.reference)) == 'slot_started'


async def test_reschedule_keeps_the_reference_and_cannot_oversell(
    bookings: BookingService, hall: SmallHall, db: Database, cipher: FieldCipher
) -> None:
    me, other = await account(db, cipher, '13800000006'), await account(db, cipher, '13800000007')
    await bookings.book(me, hall.service_c, at(MONDAY, 9))
    theirs = await bookings.book(other, hall.service_c, at(MONDAY, 9, 30))
    assert await refused(bookings.reschedule(other, theirs.reference, at(MONDAY, 9))) == 'slot_full'
    assert await refused(bookings.reschedule(me, theirs.reference, at(MONDAY, 11))) == 'unknown_appointment'
    moved = await bookings.reschedule(other, theirs.reference, at(TUESDAY, 10))
    assert (moved.reference, moved.qr, moved.start) == (theirs.reference, theirs.qr, at(TUESDAY, 10))
    assert (await bookings.slots(hall.service_c, MONDAY))[3].available == 1  # 09:30 is free again
    both = await asyncio.gather(
        bookings.reschedule(me, (await bookings.bookings_of(me))[0].reference, at(WEDNESDAY, 9)),
        bookings.reschedule(other, theirs.reference, at(WEDNESDAY, 9)),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in both) == ['BookingView', 'Conflict']


async def test_three_no_shows_in_thirty_days_block_booking_for_seven_days(
    bookings: BookingService, hall: SmallHall, db: Database, cipher: FieldCipher, clock: FakeClock
) -> None:
    me = await account(db, cipher, '13800000008')
    for day in (MONDAY, TUESDAY, WEDNESDAY):
        await bookings.book(me, hall.service_a, at(day, 9))
    clock.now = at(MONDAY, 9, 44).astimezone(dt.UTC)
    assert await bookings.mark_missed() == 0  # slot end + 15 min grace not yet passed
    clock.now = at(TUESDAY, 9, 46).astimezone(dt.UTC)
    assert await bookings.mark_missed() == 2
    assert await blocked_until(db, me) is None  # two misses: still allowed
    clock.now = at(WEDNESDAY, 12).astimezone(dt.UTC)
    assert await bookings.mark_missed() == 1
    assert await blocked_until(db, me) == clock.now + dt.timedelta(days=7)
    with pytest.raises(Conflict) as error:
        await bookings.book(me, hall.service_b, at(FRIDAY, 9))
    assert (error.value.code, error.value.params) == ('booking_blocked', {'until': '2026-12-09 12:00'})
    clock.now += dt.timedelta(days=7, minutes=1)
    lifted = await bookings.book(me, hall.service_b, at(bookings.days()[1], 9))
    assert lifted.status == AppointmentStatus.BOOKED
    assert [b.status for b in await bookings.bookings_of(me)].count(AppointmentStatus.MISSED) == 3


async def test_a_booking_checks_in_at_the_kiosk_with_appointment_priority_inside_its_slot(
    bookings: BookingService,
    queue: QueueService,
    hall: SmallHall,
    db: Database,
    bus: InProcessBus,
    cipher: FieldCipher,
    clock: FakeClock,
) -> None:
    await add_kiosk_hall(db, hall.hall_id)
    settings = bookings.settings
    auth = AuthService(deps_for(db, hall_id=hall.hall_id, settings=settings, clock=clock))
    kiosks = KioskService(
        deps_for(db, bus, hall_id=hall.hall_id, settings=settings, clock=clock, cipher=cipher), queue, auth=auth
    )
    me = await account(db, cipher, '13800000009')
    booked = await bookings.book(me, hall.service_a, at(MONDAY, 10))
    clock.now = at(MONDAY, 9, 50).astimezone(dt.UTC)  # 10 min early: within APPOINTMENT_EARLY_MINUTES
    walk_in = await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    at_kiosk = KioskSession(await kiosks.kiosk(KIOSK), address='10.0.5.1')
    service = await kiosks.appointment(at_kiosk, booked.qr)  # the QR from the phone, at the kiosk's scanner
    assert (service.code, at_kiosk.method) == (hall.service_a, Method.APPOINTMENT)
    ticket = await kiosks.take_ticket(at_kiosk)
    assert (ticket.ticket.priority_class, ticket.ticket.channel) == (PriorityClass.APPOINTMENT, Channel.APPOINTMENT_QR)
    assert walk_in.ticket.priority_class == PriorityClass.NORMAL
    assert (await queue.call_next(hall.window_1, caller=DESK)).ticket.number == ticket.ticket.number
    assert (await bookings.bookings_of(me))[0].status == AppointmentStatus.CHECKED_IN
    assert await refused(bookings.cancel(me, booked.reference)) == 'appointment_used'
    clock.now = at(MONDAY, 12).astimezone(dt.UTC)
    assert await bookings.mark_missed() == 0  # checked in: not a no-show


async def test_booking_texts_the_accounts_own_phone_through_the_outbox(
    db: Database, settings: Settings, hall: SmallHall, cipher: FieldCipher, clock: FakeClock
) -> None:
    gateway = RecordingSmsGateway()
    deps = deps_for(db, hall_id=hall.hall_id, settings=settings, clock=clock, cipher=cipher)
    notifier = NotificationService(deps, {SMS: gateway})
    bookings = BookingService(deps, notifier=notifier)
    me = await account(db, cipher, '13812345678')
    booked = await bookings.book(me, hall.service_a, at(MONDAY, 9, 30))
    await bookings.reschedule(me, booked.reference, at(MONDAY, 14))
    await bookings.cancel(me, booked.reference)
    async with db.read_session() as s:
        rows = list((await s.execute(select(Notification).order_by(col(Notification.id)))).scalars())
    assert [(r.channel, r.account_id, r.citizen_id) for r in rows] == [(SMS, me.account_id, None)] * 3
    assert (await notifier.deliver_due()).sent == 3
    assert [m['to'] for m in gateway.sent] == ['138****5678'] * 3
    texts = [str(m['text']) for m in gateway.sent]
    assert '事项甲' in texts[0] and '11月30日09:30' in texts[0] and booked.reference in texts[0]
    assert '11月30日14:00' in texts[1] and '已取消' in texts[2]
    assert all('http' not in t and '1381234' not in t for t in texts)


async def count(db: Database) -> int:
    async with db.read_session() as s:
        return len(list((await s.execute(select(Appointment))).scalars()))


async def blocked_until(db: Database, caller: Principal) -> dt.datetime | None:
    async with db.read_session() as s:
        row = await s.get(CitizenAccount, caller.account_id)
    assert row is not None
    until = row.booking_blocked_until
    return None if until is None else until.astimezone(dt.UTC)


async def test_the_periodic_no_show_job_marks_missed_bookings_through_the_journey(
    db: Database, bus: InProcessBus, settings: Settings, hall: SmallHall, cipher: FieldCipher, clock: FakeClock
) -> None:
    journey = build_journey(deps_for(db, bus, hall_id=hall.hall_id, settings=settings, clock=clock, cipher=cipher))
    assert mark_no_shows in {periodic.job for periodic in app_periodic(settings)}
    me = await account(db, cipher, '13800000010')
    await journey.bookings.book(me, hall.service_b, at(MONDAY, 9))
    clock.now = at(MONDAY, 10, 30).astimezone(dt.UTC)
    assert await mark_no_shows({'journey': journey}) == 1
    assert [b.status for b in await journey.bookings.bookings_of(me)] == [AppointmentStatus.MISSED]
