"""The citizen's booking screen (/book/{service}): pick a day, tap a slot to book; then the QR, cancel or move.

Phone first (360 px): days as a wrapping row of chips, slots as a grid of buttons with the places left.
Everything it decides is BookingService's; it redraws only its own box after an action (no timers).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from nicegui import ui

from app.models.appointment import AppointmentStatus
from app.services.booking import BookingService, BookingView
from app.services.booking_slots import Slot
from app.services.errors import DomainError
from app.services.principal import Principal
from components import booking_texts as _texts  # noqa: F401 - registers the texts
from components.kiosk_ticket import qr_data_uri
from components.testids import tid
from components.texts import error_text, t, weekday


class BookingScreen:
    def __init__(
        self,
        bookings: BookingService,
        caller: Principal,
        service_code: str,
        *,
        tz: ZoneInfo,
        lang: str,
        preselect: dt.datetime | None = None,
    ) -> None:
        self.bookings = bookings
        self.caller = caller
        self.service_code = service_code
        self.tz = tz
        self.lang = lang
        self.preselect = preselect.astimezone(dt.UTC) if preselect is not None else None
        self.days = bookings.days()
        self.day = self.days[0]
        if preselect is not None and preselect.astimezone(tz).date() in self.days:
            self.day = preselect.astimezone(tz).date()
        self.booking: BookingView | None = None
        self.moving = False
        self.error = tid(ui.label(''), 'book-error').classes('text-negative text-base')
        self.error.set_visibility(False)
        self.box = ui.column().classes('w-full gap-3')

    async def build(self) -> None:
        """The citizen's live booking for this service if there is one, else the day and slot pickers."""
        own = [
            b
            for b in await self.bookings.bookings_of(self.caller)
            if b.service_code == self.service_code and b.status == AppointmentStatus.BOOKED
        ]
        self.booking = own[-1] if own else None  # the earliest still to come
        await self.draw()

    async def draw(self) -> None:
        slots = [] if self.booking is not None and not self.moving else await self._slots()
        self.box.clear()
        with self.box:
            if self.booking is not None and not self.moving:
                self._booked(self.booking)
            else:
                self._pickers(slots)

    async def _slots(self) -> list[Slot]:
        try:
            return await self.bookings.slots(self.service_code, self.day)
        except DomainError as failure:
            self._show(failure)
            return []

    # ---- choosing --------------------------------------------------------------------------------

    def _pickers(self, slots: list[Slot]) -> None:
        if self.moving and self.booking is not None:
            tid(ui.label(t('book.current', when=self._when(self.booking))), 'book-moving').classes(
                'text-sm text-grey-8'
            )
        ui.label(t('book.pick_day')).classes('text-base font-bold')
        with tid(ui.row(), 'book-days').classes('w-full gap-2'):
            for day in self.days:
                label = f'{weekday(day.weekday(), self.lang)} {day.month}/{day.day}'
                chip = ui.button(label, on_click=lambda _, d=day: self._pick_day(d)).props(
                    'no-caps dense unelevated' if day == self.day else 'no-caps dense outline'
                )
                tid(chip, f'book-day-{day.isoformat()}').classes('px-2')
        ui.label(t('book.pick_new_slot' if self.moving else 'book.pick_slot')).classes('text-base font-bold')
        if slots and all(slot.capacity == 0 for slot in slots):
            tid(ui.label(t('book.not_bookable')), 'book-none').classes('text-grey-8')
        elif not slots:
            tid(ui.label(t('book.none')), 'book-none').classes('text-grey-8')
        else:
            with tid(ui.grid(columns=3), 'book-slots').classes('w-full gap-2'):
                for slot in slots:
                    self._slot_button(slot)
        if self.moving:
            tid(ui.button(t('book.keep'), on_click=self._keep), 'book-keep').props('flat no-caps')

    def _slot_button(self, slot: Slot) -> None:
        local = slot.start.astimezone(self.tz)
        left = t('book.left', n=slot.available) if slot.available else t('book.full')
        chosen = self.preselect == slot.start
        button = ui.button(on_click=lambda _, s=slot: self._take(s)).props(
            'no-caps unelevated' if chosen else 'no-caps outline'
        )
        with button, ui.column().classes('items-center gap-0'):
            ui.label(f'{local:%H:%M}').classes('text-base')
            ui.label(left).classes('text-xs')
        button.classes('w-full px-1')
        tid(button, f'book-slot-{local:%H%M}')
        if not slot.available:
            button.disable()

    async def _pick_day(self, day: dt.date) -> None:
        self.day = day
        self._clear_error()
        await self.draw()

    async def _take(self, slot: Slot) -> None:
        """One tap: book the slot, or move the booking there."""
        self._clear_error()
        try:
            if self.moving and self.booking is not None:
                self.booking = await self.bookings.reschedule(self.caller, self.booking.reference, slot.start)
            else:
                self.booking = await self.bookings.book(self.caller, self.service_code, slot.start)
        except DomainError as failure:
            self._show(failure)
            await self.draw()
            return
        self.moving = False
        self.preselect = None
        await self.draw()

    # ---- booked ----------------------------------------------------------------------------------

    def _booked(self, booking: BookingView) -> None:
        with tid(ui.card(), 'book-done').classes('w-full p-4 gap-2 items-center'):
            ui.label(t('book.yours')).classes('text-lg font-bold text-positive')
            tid(ui.label(t('book.when', when=self._when(booking))), 'book-when').classes('text-base')
            tid(ui.label(t('book.reference', reference=booking.reference)), 'book-reference').classes(
                'text-base font-mono'
            )
            tid(ui.image(qr_data_uri(booking.qr)), 'book-qr').classes('w-56 h-56').props('no-spinner')
            ui.label(t('book.how', early=self.bookings.settings.appointment_early_minutes)).classes(
                'text-sm text-grey-8 text-center'
            )
            with ui.row().classes('w-full justify-center gap-3'):
                tid(ui.button(t('book.move'), on_click=self._move), 'book-move').props('outline no-caps')
                tid(ui.button(t('book.cancel'), on_click=self._cancel), 'book-cancel').props(
                    'outline no-caps color=negative'
                )

    async def _move(self) -> None:
        assert self.booking is not None
        self.moving = True
        self.day = self.booking.start.astimezone(self.tz).date()
        if self.day not in self.days:
            self.day = self.days[0]
        await self.draw()

    async def _keep(self) -> None:
        self.moving = False
        self._clear_error()
        await self.draw()

    async def _cancel(self) -> None:
        assert self.booking is not None
        self._clear_error()
        try:
            await self.bookings.cancel(self.caller, self.booking.reference)
        except DomainError as failure:
            self._show(failure)
            return
        self.booking = None
        ui.notify(t('book.cancelled'), type='positive')
        await self.draw()

    # ---- words -----------------------------------------------------------------------------------

    def _when(self, booking: BookingView) -> str:
        local, end = booking.start.astimezone(self.tz), booking.end.astimezone(self.tz)
        return f'{local.month}/{local.day} {weekday(local.weekday(), self.lang)} {local:%H:%M}-{end:%H:%M}'

    def _show(self, failure: DomainError) -> None:
        self.error.set_text(error_text(failure))
        self.error.set_visibility(True)

    def _clear_error(self) -> None:
        self.error.set_visibility(False)
