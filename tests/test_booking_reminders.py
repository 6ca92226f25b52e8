"""The day-before reminder of a booking, on SQLite and PostgreSQL: once, in the daytime, with a quieter slot of the
same day (and a link to move there) when the booked hour is a predicted peak."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlmodel import col, select

from app.db import Database
from app.models import Appointment
from app.models.cases import Notification
from app.security.crypto import FieldCipher
from app.services.booking import BookingService
from app.services.booking_reminders import BookingReminders
from app.services.channels import SMS
from app.services.guide import DayWaits, HourWait
from app.services.hall_hours import HOURS, local_moment
from app.settings import Settings
from tests.bookinghall import MONDAY, account, at
from tests.callers import deps_for
from tests.conftest import FakeClock
from tests.factories import SmallHall

TUESDAY = MONDAY + dt.timedelta(days=1)
PUBLIC = 'https://hall.example.gov.cn'
PEAK_HOUR, QUIET_HOUR = 9, 14


@pytest.fixture
def bookings(db: Database, settings: Settings, hall: SmallHall, clock: FakeClock) -> BookingService:
    clock.now = at(MONDAY, 10).astimezone(dt.UTC)
    settings = settings.model_copy(update={'public_url': PUBLIC})
    return BookingService(deps_for(db, hall_id=hall.hall_id, settings=settings, clock=clock))


def reminders(bookings: BookingService) -> BookingReminders:
    """Reminders with Tuesday's forecast: 09:00 a peak, 14:00 and 15:00 the quiet hours."""
    tz = bookings.settings.tz

    def hour(h: int) -> HourWait:
        arrivals = {PEAK_HOUR: 30.0, QUIET_HOUR: 2.0, QUIET_HOUR + 1: 3.0}.get(h, 10.0)
        return HourWait(local_moment(TUESDAY, h, tz), arrivals, arrivals, h in (QUIET_HOUR, QUIET_HOUR + 1))

    async def waits(service_id: int) -> list[DayWaits]:
        return [DayWaits(TUESDAY, tuple(hour(h) for h in HOURS))]

    return BookingReminders(bookings.deps, bookings, waits)


async def texts(db: Database) -> list[Notification]:
    async with db.session() as s:
        rows = await s.execute(
            select(Notification).where(Notification.kind == 'booking_reminder').order_by(col(Notification.id))
        )
        return list(rows.scalars())


async def test_a_booking_in_a_predicted_peak_is_reminded_once_with_a_quieter_slot_and_the_link_to_move(
    db: Database, bookings: BookingService, hall: SmallHall, cipher: FieldCipher
) -> None:
    me = await account(db, cipher, '13800000011')
    booked = await bookings.book(me, hall.service_a, at(TUESDAY, PEAK_HOUR))
    reminder = reminders(bookings)
    assert sum(await asyncio.gather(reminder.sweep(), reminders(bookings).sweep())) == 1
    assert await reminder.sweep() == 0
    (sms,) = await texts(db)
    assert (sms.channel, sms.account_id) == (SMS, me.account_id)
    assert '明天09:00' in sms.text and booked.reference in sms.text and '14:00人少' in sms.text
    assert sms.text.endswith(f'{PUBLIC}/book/{hall.service_a}?start={TUESDAY.isoformat()}T14:00')
    moved = await bookings.reschedule(me, booked.reference, at(TUESDAY, QUIET_HOUR))  # what the link's page does
    assert moved.start == at(TUESDAY, QUIET_HOUR)


async def test_a_booking_outside_a_peak_gets_a_plain_reminder(
    db: Database, bookings: BookingService, hall: SmallHall, cipher: FieldCipher
) -> None:
    me = await account(db, cipher, '13800000012')
    await bookings.book(me, hall.service_a, at(TUESDAY, 11))
    assert await reminders(bookings).sweep() == 1
    (sms,) = await texts(db)
    assert '明天11:00' in sms.text and '人少' not in sms.text and 'http' not in sms.text


async def test_a_peak_whose_quiet_hours_are_full_gets_a_plain_reminder(
    db: Database, bookings: BookingService, hall: SmallHall, cipher: FieldCipher
) -> None:
    me = await account(db, cipher, '13800000013')
    await bookings.book(me, hall.service_a, at(TUESDAY, PEAK_HOUR))
    quiet = [at(TUESDAY, h, m) for h in (QUIET_HOUR, QUIET_HOUR + 1) for m in (0, 30)]
    for n in range(3 * len(quiet)):  # three places a slot, one booking per account and day
        other = await account(db, cipher, f'139000000{n:02d}')
        await bookings.book(other, hall.service_a, quiet[n % len(quiet)])
    assert await reminders(bookings).sweep() == 1 + 3 * len(quiet)
    mine = [row for row in await texts(db) if row.account_id == me.account_id]
    assert len(mine) == 1 and '明天09:00' in mine[0].text and '人少' not in mine[0].text


async def test_no_reminder_at_night_nor_for_later_days_nor_for_a_cancelled_booking(
    db: Database, bookings: BookingService, hall: SmallHall, cipher: FieldCipher, clock: FakeClock
) -> None:
    me = await account(db, cipher, '13800000014')
    later = await bookings.book(me, hall.service_a, at(TUESDAY + dt.timedelta(days=1), 11))
    cancelled = await bookings.book(me, hall.service_b, at(TUESDAY, 11))
    await bookings.cancel(me, cancelled.reference)
    assert await reminders(bookings).sweep() == 0
    kept = await bookings.book(me, hall.service_c, at(TUESDAY, 11))
    clock.now = at(MONDAY, 21).astimezone(dt.UTC)
    assert await reminders(bookings).sweep() == 0  # no text at night
    clock.now = at(MONDAY, 19, 30).astimezone(dt.UTC)
    assert await reminders(bookings).sweep() == 1
    async with db.session() as s:
        rows = {a.reference: a.reminded_at for a in (await s.execute(select(Appointment))).scalars()}
    assert rows[later.reference] is None and rows[cancelled.reference] is None
    assert rows[kept.reference] is not None
