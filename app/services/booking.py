"""Booking (预约): a signed-in citizen books, cancels and moves a slot; no-shows block booking for a while.

Rules live here once: at most BOOKING_MAX_LIVE live bookings per account and one per service and day,
slots only on the hall's working days within BOOKING_DAYS_AHEAD working days, never in the past, and a
slot's places never oversold. Places are counted inside the write: on SQLite every write holds the
process's write lock; on PostgreSQL the account row and then the service row are locked FOR UPDATE
(always in that order, so two bookings never wait on each other crosswise). A booking's QR is the same
signed payload (`HT1.appt.<reference>.<sig>`) the kiosk checks in, so a booked slot checks in end to end.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.clock import hall_day
from app.events import AppointmentChanged
from app.models.appointment import Appointment, AppointmentStatus
from app.models.citizen_account import CitizenAccount
from app.models.hall import ServiceItem, Window, WindowService
from app.security import codes
from app.services import notifications
from app.services.booking_slots import Slot, bookable_days, day_slots, slot_capacity
from app.services.channels import SMS
from app.services.deps import Deps
from app.services.errors import Conflict, Invalid, NotFound, Unauthorized
from app.services.messages import MAX_PARAMETER_LENGTH, Template, message
from app.services.notifications import NotificationService
from app.services.principal import Principal
from app.services.uow import Service, UnitOfWork
from app.services.window_hours import OpeningPeriod, open_share, periods_of

TAKEN = (AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN)  # statuses that hold a place
MISSED_BATCH = 500
OWN_LIST = 50


@dataclass(frozen=True)
class BookingView:
    reference: str
    service_code: str
    service_name: str
    start: dt.datetime
    end: dt.datetime
    status: AppointmentStatus
    qr: str  # the signed payload the kiosk's scanner checks in


class BookingService(Service):
    """Slots, bookings and no-shows of one hall; the caller is always the citizen's own account."""

    def __init__(self, deps: Deps, *, notifier: NotificationService | None = None) -> None:
        super().__init__(deps)
        self.notifier = notifier

    # ---- reading ---------------------------------------------------------------------------------

    def days(self) -> list[dt.date]:
        """The hall days a citizen may book now (the next BOOKING_DAYS_AHEAD working days)."""
        return bookable_days(hall_day(self.clock(), self.settings.tz), self.rules.booking_days_ahead)

    async def service(self, service_code: str) -> ServiceItem:
        """The service a booking page is for (404 `unknown_service` for a code the hall does not have)."""
        async with self.db.read_session() as s:
            return await self._service(s, service_code)

    async def slots(self, service_code: str, day: dt.date) -> list[Slot]:
        """The day's slots still ahead with their places; none on a closed day or beyond the booking horizon."""
        if day not in self.days():
            return []
        now = self.clock()
        async with self.db.read_session() as s:
            service = await self._service(s, service_code)
            bounds = [(start, end) for start, end in self._day_slots(day) if start > now]
            serving = await self._serving_hours(s, service)
            capacity = {start: self._capacity(serving, service, start) for start, _ in bounds}
            if not any(capacity.values()):
                return [Slot(start, end, capacity[start], 0) for start, end in bounds]
            rows = await s.execute(
                select(Appointment.slot_start, func.count())
                .where(
                    Appointment.hall_id == self.hall_id,
                    Appointment.service_id == service.id,
                    col(Appointment.status).in_(TAKEN),
                    col(Appointment.slot_start) >= bounds[0][0],
                    col(Appointment.slot_start) <= bounds[-1][0],
                )
                .group_by(Appointment.slot_start)
            )
            taken = {as_utc(start): count for start, count in rows.all()}
        return [
            Slot(start, end, capacity[start], max(0, capacity[start] - taken.get(start, 0))) for start, end in bounds
        ]

    async def bookings_of(self, caller: Principal) -> list[BookingView]:
        """The caller's own bookings, the latest slot first (the /me page lists them)."""
        account_id = caller.require_account()
        statement = (
            select(Appointment, ServiceItem)
            .join(ServiceItem, col(ServiceItem.id) == Appointment.service_id)
            .where(Appointment.account_id == account_id, Appointment.hall_id == self.hall_id)
            .order_by(col(Appointment.slot_start).desc(), col(Appointment.id).desc())
            .limit(OWN_LIST)
        )
        async with self.db.read_session() as s:
            rows = (await s.execute(statement)).all()
        return [self._view(appointment, service) for appointment, service in rows]

    # ---- writing ---------------------------------------------------------------------------------

    async def book(self, caller: Principal, service_code: str, start: dt.datetime) -> BookingView:
        """Book a slot for the caller's account: limits, the block after no-shows, and the slot's places."""
        account_id = caller.require_account()
        now = self.clock()
        start, end = self._slot(start, now)
        async with self._transaction() as uow:
            s = uow.session
            account = await self._account(s, account_id)
            self._not_blocked(account, now)
            live = await s.scalar(
                select(func.count())
                .select_from(Appointment)
                .where(
                    Appointment.account_id == account_id,
                    Appointment.status == AppointmentStatus.BOOKED,
                    col(Appointment.slot_end) > now,
                )
            )
            limit = self.rules.booking_max_live
            if (live or 0) >= limit:
                raise Conflict('booking_limit', limit=limit)
            service = await self._service(s, service_code, lock=True)
            await self._one_per_day(s, account_id, service, start)
            await self._place_left(s, service, start)
            appointment = Appointment(
                hall_id=self.hall_id,
                service_id=service.id,
                citizen_id=account.citizen_id,
                account_id=account_id,
                reference=codes.reference(),
                slot_start=start,
                slot_end=end,
                status=AppointmentStatus.BOOKED,
                created_at=now,
            )
            s.add(appointment)
            await s.flush()
            await self._text(s, Template.BOOKED, appointment, service, now)
            self._tell(uow, appointment)
        self._kick()
        return self._view(appointment, service)

    async def cancel(self, caller: Principal, reference: str) -> BookingView:
        """Cancel one's own booking before its slot starts; the place is free again at once."""
        account_id = caller.require_account()
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            await self._account(s, account_id)
            appointment = await self._own(s, account_id, reference, now)
            service = await s.get(ServiceItem, appointment.service_id)
            assert service is not None
            appointment.status = AppointmentStatus.CANCELLED
            appointment.cancelled_at = now
            await self._text(s, Template.BOOKING_CANCELLED, appointment, service, now)
            self._tell(uow, appointment)
        self._kick()
        return self._view(appointment, service)

    async def reschedule(self, caller: Principal, reference: str, start: dt.datetime) -> BookingView:
        """Move one's own booking to another slot of the same service in one transaction; the reference and QR stay."""
        account_id = caller.require_account()
        now = self.clock()
        start, end = self._slot(start, now)
        async with self._transaction() as uow:
            s = uow.session
            account = await self._account(s, account_id)
            self._not_blocked(account, now)
            appointment = await self._own(s, account_id, reference, now)
            service = await s.get(ServiceItem, appointment.service_id, with_for_update=True)
            assert service is not None
            if start == as_utc(appointment.slot_start):
                return self._view(appointment, service)
            await self._one_per_day(s, account_id, service, start, moving=appointment.id)
            await self._place_left(s, service, start)
            appointment.slot_start, appointment.slot_end = start, end
            await self._text(s, Template.BOOKING_MOVED, appointment, service, now)
            self._tell(uow, appointment)
        self._kick()
        return self._view(appointment, service)

    async def mark_missed(self) -> int:
        """The no-show job: bookings not checked in by their slot's end plus the grace are missed; NO_SHOW_LIMIT
        misses within NO_SHOW_WINDOW_DAYS (counted since the last block began) block booking for BOOKING_BLOCK_DAYS.

        Two steps, so no transaction holds booking rows while it waits for an account (booking locks the account
        first): mark the misses, then judge each account that missed on its own."""
        now = self.clock()
        overdue = now - dt.timedelta(minutes=self.settings.no_show_grace_minutes)
        async with self._transaction() as uow:
            missed = list(
                (
                    await uow.session.execute(
                        select(Appointment)
                        .where(
                            Appointment.hall_id == self.hall_id,
                            Appointment.status == AppointmentStatus.BOOKED,
                            col(Appointment.slot_end) < overdue,
                        )
                        .order_by(col(Appointment.id))
                        .limit(MISSED_BATCH)
                        .with_for_update(skip_locked=True)
                    )
                ).scalars()
            )
            for appointment in missed:
                appointment.status = AppointmentStatus.MISSED
                self._tell(uow, appointment)
        for account_id in sorted({a.account_id for a in missed if a.account_id is not None}):
            async with self._transaction() as uow:
                await self._block_if_due(uow.session, account_id, now)
        return len(missed)

    # ---- the rules ---------------------------------------------------------------------------------

    def _day_slots(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        return day_slots(day, self.settings.tz, self.settings.booking_slot_minutes)

    def _slot(self, start: dt.datetime, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        """The slot that begins at `start` (a naive time is the hall's local time), or why it cannot be booked."""
        moment = as_utc(start.replace(tzinfo=self.settings.tz) if start.tzinfo is None else start)
        day = hall_day(moment, self.settings.tz)
        slot = next(((a, b) for a, b in self._day_slots(day) if a == moment), None)
        if slot is None:
            raise Invalid('not_a_slot')
        if slot[0] <= now:
            raise Conflict('slot_past')
        if day not in self.days():
            raise Invalid('slot_too_far', days=self.rules.booking_days_ahead)
        return slot

    async def _account(self, s: AsyncSession, account_id: int) -> CitizenAccount:
        """The caller's account, locked: one account's bookings are decided one after another."""
        account = await s.get(CitizenAccount, account_id, with_for_update=True)
        if account is None:
            raise Unauthorized('citizen_sign_in_required')
        return account

    def _not_blocked(self, account: CitizenAccount, now: dt.datetime) -> None:
        until = account.booking_blocked_until
        if until is not None and as_utc(until) > now:
            local = as_utc(until).astimezone(self.settings.tz)
            raise Conflict('booking_blocked', until=f'{local:%Y-%m-%d %H:%M}')

    async def _service(self, s: AsyncSession, code: str, *, lock: bool = False) -> ServiceItem:
        statement = select(ServiceItem).where(ServiceItem.code == code)
        service = (await s.execute(statement.with_for_update() if lock else statement)).scalar_one_or_none()
        if service is None:
            raise NotFound('unknown_service', text='unknown_service.code', code_value=code[:32])
        return service

    async def _serving_hours(self, s: AsyncSession, service: ServiceItem) -> list[list[OpeningPeriod]]:
        """The own hours of each window serving the service (an empty list: the hall's hours)."""
        rows = await s.execute(
            select(Window.hours)
            .join(WindowService, col(Window.id) == WindowService.window_id)
            .where(WindowService.service_id == service.id, Window.hall_id == self.hall_id)
        )
        return [periods_of(stored) for stored in rows.scalars()]

    def _capacity(self, serving: list[list[OpeningPeriod]], service: ServiceItem, start: dt.datetime) -> int:
        """Places in the slot from `start`: each serving window counts for the share of the slot it is open."""
        end = start + dt.timedelta(minutes=self.settings.booking_slot_minutes)
        windows = sum(open_share(periods, start, end, self.settings.tz) for periods in serving)
        return slot_capacity(
            windows, self.settings.booking_slot_minutes, service.avg_handling_minutes, self.rules.booking_share
        )

    async def _one_per_day(
        self, s: AsyncSession, account_id: int, service: ServiceItem, start: dt.datetime, *, moving: int | None = None
    ) -> None:
        day = hall_day(start, self.settings.tz)
        first, last = self._day_slots(day)[0][0], self._day_slots(day)[-1][0]
        statement = (
            select(func.count())
            .select_from(Appointment)
            .where(
                Appointment.account_id == account_id,
                Appointment.service_id == service.id,
                col(Appointment.status).in_(TAKEN),
                col(Appointment.slot_start) >= first,
                col(Appointment.slot_start) <= last,
            )
        )
        if moving is not None:
            statement = statement.where(Appointment.id != moving)
        if await s.scalar(statement):
            raise Conflict('booking_same_day')

    async def _place_left(self, s: AsyncSession, service: ServiceItem, start: dt.datetime) -> None:
        """Counted under the service row's lock (PostgreSQL) or the write lock (SQLite): never oversold."""
        capacity = self._capacity(await self._serving_hours(s, service), service, start)
        if capacity == 0:
            raise Conflict('service_not_bookable', name=service.name)
        taken = await s.scalar(
            select(func.count())
            .select_from(Appointment)
            .where(
                Appointment.hall_id == self.hall_id,
                Appointment.service_id == service.id,
                col(Appointment.status).in_(TAKEN),
                Appointment.slot_start == start,
            )
        )
        if (taken or 0) >= capacity:
            raise Conflict('slot_full')

    async def _own(self, s: AsyncSession, account_id: int, reference: str, now: dt.datetime) -> Appointment:
        """The caller's booking, still open; another's is 'not found' too, so references cannot be probed."""
        appointment = (
            await s.execute(
                select(Appointment).where(Appointment.reference == reference.strip().upper()[:32]).with_for_update()
            )
        ).scalar_one_or_none()
        if appointment is None or appointment.account_id != account_id or appointment.hall_id != self.hall_id:
            raise NotFound('unknown_appointment')
        if appointment.status != AppointmentStatus.BOOKED:
            raise Conflict('appointment_used')
        if as_utc(appointment.slot_start) <= now:
            raise Conflict('slot_started')
        return appointment

    async def _block_if_due(self, s: AsyncSession, account_id: int, now: dt.datetime) -> None:
        rules = self.rules
        account = await s.get(CitizenAccount, account_id, with_for_update=True)
        if account is None:
            return
        since = now - dt.timedelta(days=rules.no_show_window_days)
        if account.booking_blocked_until is not None:
            since = max(since, as_utc(account.booking_blocked_until) - dt.timedelta(days=rules.booking_block_days))
        misses = await s.scalar(
            select(func.count())
            .select_from(Appointment)
            .where(
                Appointment.account_id == account_id,
                Appointment.status == AppointmentStatus.MISSED,
                col(Appointment.slot_end) > since,
            )
        )
        if (misses or 0) >= rules.no_show_limit:
            account.booking_blocked_until = now + dt.timedelta(days=rules.booking_block_days)

    # ---- telling the citizen -----------------------------------------------------------------------

    async def _text(
        self, s: AsyncSession, template: Template, appointment: Appointment, service: ServiceItem, now: dt.datetime
    ) -> None:
        """An SMS to the account's phone (the delivery job resolves it); the key makes a retry write nothing twice."""
        local = as_utc(appointment.slot_start).astimezone(self.settings.tz)
        text = message(
            template,
            service=service.name[:MAX_PARAMETER_LENGTH],
            time=f'{local.month}月{local.day}日{local:%H:%M}',
            reference=appointment.reference,
        )
        await notifications.add(
            s,
            hall_id=self.hall_id,
            key=f'booking:{appointment.reference}:{template}:{now.isoformat()}',
            kind='booking',
            message=text,
            now=now,
            account_id=appointment.account_id,
            channels=(SMS,),
        )

    def _tell(self, uow: UnitOfWork, appointment: Appointment) -> None:
        """After commit, the live queue (and so the floor map) learns the booking's new slot or status; a tool
        without a bus has no map to tell."""
        if uow.bus is not None:
            uow.emit(appointment_changed(appointment))

    def _kick(self) -> None:
        if self.notifier is not None:
            self.notifier.kick()

    def _view(self, appointment: Appointment, service: ServiceItem) -> BookingView:
        return BookingView(
            reference=appointment.reference,
            service_code=service.code,
            service_name=service.name,
            start=as_utc(appointment.slot_start),
            end=as_utc(appointment.slot_end),
            status=AppointmentStatus(appointment.status),
            qr=codes.sign(self.settings.secret, 'appt', appointment.reference),
        )


def appointment_changed(appointment: Appointment) -> AppointmentChanged:
    """The event every write of a booking publishes (booking here, check-in at the kiosk in the queue service)."""
    assert appointment.id is not None
    return AppointmentChanged(
        hall_id=appointment.hall_id,
        service_id=appointment.service_id,
        appointment_id=appointment.id,
        slot_start=as_utc(appointment.slot_start),
        slot_end=as_utc(appointment.slot_end),
        status=appointment.status,
    )


def as_utc(moment: dt.datetime) -> dt.datetime:
    """Aware UTC (SQLite hands stored moments back as they were written; keep comparisons exact)."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
