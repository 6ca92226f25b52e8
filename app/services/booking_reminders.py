"""The day-before reminder of a booking (预约提醒), and 错峰 for the citizen: a quieter slot when its hour is a peak.

A periodic job (app/jobs.py) looks, during the day, at tomorrow's bookings not yet reminded. A booking whose
hour the forecast predicts as a peak (the forecast's own mark: arrivals at least PEAK_RATIO times the day's
mean hour) and whose day has a quieter hour with a place left is offered that slot, with a link to move the
booking on the phone (/book/{service}?start=…, where "改约" preselects it); any other booking gets a plain
reminder. Once per booking across workers: `reminded_at` is set by a conditional update in the transaction
that writes the text.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import update
from sqlmodel import col, select

from app.models.appointment import Appointment, AppointmentStatus
from app.models.hall import ServiceItem
from app.services import notifications
from app.services.booking import BookingService, as_utc
from app.services.channels import SMS
from app.services.deps import Deps
from app.services.errors import Invalid
from app.services.forecast import PEAK_RATIO
from app.services.guide import DayWaits, HourWait
from app.services.hall_hours import local_moment
from app.services.messages import MAX_PARAMETER_LENGTH, Message, Template, hall_link, message
from app.services.uow import Service

log = logging.getLogger(__name__)

KIND = 'booking_reminder'
REMIND_FROM_HOUR = 9  # texts go out in the hall's daytime, never at night
REMIND_UNTIL_HOUR = 20

Waits = Callable[[int], Awaitable[list[DayWaits]]]  # BestTimes.of: the coming days' expected waits of a service


@dataclass(frozen=True)
class Reminder:
    appointment_id: int
    message: Message
    quieter: dt.datetime | None  # the slot offered instead, when the booked one is a peak


def peak_and_quieter(day: DayWaits, booked_hour: int, tz: dt.tzinfo) -> tuple[bool, list[HourWait]]:
    """Whether the booked hour is a predicted peak, and the day's quiet hours with a shorter wait (best first)."""
    hours = list(day.hours)
    mean = sum(h.arrivals for h in hours) / len(hours) if hours else 0.0
    booked = next((h for h in hours if h.start.astimezone(tz).hour == booked_hour), None)
    if booked is None or mean <= 0 or booked.arrivals < PEAK_RATIO * mean:
        return False, []
    quieter = [h for h in hours if h.quiet and h.wait_minutes < booked.wait_minutes]
    return True, sorted(quieter, key=lambda h: (h.wait_minutes, h.start))


class BookingReminders(Service):
    """Reminds tomorrow's bookings once; `waits` is the shared BestTimes (None: every reminder is plain)."""

    def __init__(self, deps: Deps, bookings: BookingService, waits: Waits | None = None) -> None:
        super().__init__(deps)
        self.bookings = bookings
        self.waits = waits

    async def sweep(self) -> int:
        """Remind every booking of tomorrow not reminded yet; how many were (none outside the daytime hours)."""
        now = self.clock()
        local = now.astimezone(self.settings.tz)
        if not REMIND_FROM_HOUR <= local.hour < REMIND_UNTIL_HOUR:
            return 0
        tomorrow = local.date() + dt.timedelta(days=1)
        start = local_moment(tomorrow, 0, self.settings.tz)
        statement = (
            select(Appointment, ServiceItem)
            .join(ServiceItem, col(ServiceItem.id) == Appointment.service_id)
            .where(
                Appointment.hall_id == self.hall_id,
                Appointment.status == AppointmentStatus.BOOKED,
                col(Appointment.reminded_at).is_(None),
                col(Appointment.account_id).is_not(None),
                col(Appointment.slot_start) >= start,
                col(Appointment.slot_start) < start + dt.timedelta(days=1),
            )
            .order_by(col(Appointment.slot_start), col(Appointment.id))
        )
        async with self.db.read_session() as s:
            due = (await s.execute(statement)).all()
        reminded = 0
        for appointment, service in due:
            try:
                reminder = await self.compose(appointment, service, tomorrow)
            except Invalid as refused:  # a service name carrying a link: not texted, and not retried every round
                log.warning('booking %s not reminded: %s', appointment.id, refused.code)
                reminder = None
            reminded += await self._write(appointment, reminder, now)
        if reminded and self.bookings.notifier is not None:
            self.bookings.notifier.kick()
        return reminded

    async def compose(self, appointment: Appointment, service: ServiceItem, day: dt.date) -> Reminder:
        """The reminder's text: with a quieter slot of the same day when the booked hour is a predicted peak."""
        assert appointment.id is not None and service.id is not None
        tz = self.settings.tz
        booked = as_utc(appointment.slot_start).astimezone(tz)
        values = {'service': service.name[:MAX_PARAMETER_LENGTH], 'time': f'{booked:%H:%M}'}
        values['reference'] = appointment.reference
        quieter = await self._quieter(service, day, booked.hour)
        if quieter is None:
            return Reminder(appointment.id, message(Template.BOOKING_REMINDER, **values), None)
        offered = quieter.astimezone(tz)
        try:
            link = hall_link(self.settings.public_url, f'/book/{service.code}?start={offered:%Y-%m-%dT%H:%M}')
        except ValueError:  # a service code no URL path can carry: the text names the page instead
            link = None
        quiet = f'{offered:%H:%M}'
        if link is None:
            text = message(Template.BOOKING_REMINDER_PEAK_PAGE, quiet=quiet, **values)
        else:
            text = message(Template.BOOKING_REMINDER_PEAK, quiet=quiet, link=link, **values)
        return Reminder(appointment.id, text, quieter)

    async def _quieter(self, service: ServiceItem, day: dt.date, booked_hour: int) -> dt.datetime | None:
        """The first slot with a place left in the quietest hour better than the booked one, if it is a peak."""
        if self.waits is None or service.id is None:
            return None
        waits = next((d for d in await self.waits(service.id) if d.day == day), None)
        if waits is None:
            return None
        peak, hours = peak_and_quieter(waits, booked_hour, self.settings.tz)
        if not peak or not hours:
            return None
        free = [slot for slot in await self.bookings.slots(service.code, day) if slot.available > 0]
        return _first_in(free_starts=[slot.start for slot in free], hours=hours)

    async def _write(self, appointment: Appointment, reminder: Reminder | None, now: dt.datetime) -> int:
        async with self._transaction() as uow:
            s = uow.session
            taken = await s.execute(
                update(Appointment)
                .where(
                    col(Appointment.id) == appointment.id,
                    col(Appointment.reminded_at).is_(None),
                    Appointment.status == AppointmentStatus.BOOKED,
                )
                .values(reminded_at=now)
                .returning(Appointment.id)
            )
            if taken.first() is None or reminder is None:
                return 0
            await notifications.add(
                s,
                hall_id=self.hall_id,
                key=f'{KIND}:{appointment.id}',
                kind=KIND,
                message=reminder.message,
                now=now,
                account_id=appointment.account_id,
                channels=(SMS,),
            )
        return 1


def _first_in(*, free_starts: Sequence[dt.datetime], hours: Sequence[HourWait]) -> dt.datetime | None:
    """The earliest free slot inside the best of `hours` that has one."""
    for hour in hours:
        inside = [start for start in free_starts if hour.start <= start < hour.start + dt.timedelta(hours=1)]
        if inside:
            return min(inside)
    return None
