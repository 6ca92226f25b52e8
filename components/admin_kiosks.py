"""/admin's screen pairing: every kiosk and window rating pad of the hall with its screen, 生成配对码
(code, expiry, QR) and 解除配对.

It draws and dispatches only: who may do what is decided by KioskPairingService, which gets the
admin's principal, fresh from `caller()` before every action. The list redraws when a kiosk is
paired or unpaired anywhere (`on_event`, fed by the device feed), so a code dialog closes by itself
once its kiosk has used it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from nicegui import ui

from app.events import Event, KioskPairingChanged
from app.models.device import DeviceKind
from app.services.errors import DomainError
from app.services.kiosk_pairing import IssuedCode, KioskPairing, KioskPairingService
from app.services.principal import Principal
from components import admin_texts as _texts  # noqa: F401 - registers the texts
from components import manager_texts as _kinds  # noqa: F401 - registers device.kind.*
from components.kiosk_ticket import qr_data_uri
from components.testids import tid
from components.texts import error_text, t

Caller = Callable[[], Awaitable[Principal | None]]


class KioskPairingPanel:
    def __init__(self, pairing: KioskPairingService, caller: Caller, *, tz: ZoneInfo) -> None:
        self.pairing = pairing
        self.caller = caller
        self.tz = tz
        self.shown: IssuedCode | None = None  # the code whose dialog is open
        with tid(ui.card(), 'admin-kiosks').classes('w-full p-4 gap-3'):
            ui.label(t('admin.kiosks')).classes('text-lg font-bold')
            ui.label(t('admin.kiosks.hint')).classes('text-sm text-grey-7')
            self.rows = ui.column().classes('w-full gap-2')
        self.code_dialog = ui.dialog()
        self.code_dialog.on('hide', self._forget_code)  # closed by the button, Esc or a click outside

    def _time(self, moment: dt.datetime | None, pattern: str = '%Y-%m-%d %H:%M') -> str:
        return moment.astimezone(self.tz).strftime(pattern) if moment else t('admin.never')

    async def refresh(self) -> None:
        caller = await self.caller()
        if caller is None:
            return
        try:
            kiosks = await self.pairing.kiosks(caller)
        except DomainError as error:
            ui.notify(error_text(error), type='negative')
            return
        self.rows.clear()
        with self.rows:
            if not kiosks:
                ui.label(t('admin.kiosks.none')).classes('text-grey-7')
            for kiosk in kiosks:
                self._row(kiosk)

    def _row(self, kiosk: KioskPairing) -> None:
        row = tid(ui.row(), f'admin-kiosk-{kiosk.code}')
        with row.classes('w-full items-center gap-x-4 gap-y-2 border rounded p-3'):
            with ui.column().classes('gap-0 w-56 shrink-0'):
                ui.label(kiosk.name or kiosk.code).classes('font-bold')
                kind = t(f'device.kind.{kiosk.kind}')
                if kiosk.window_number is not None:
                    kind = f'{kind} · {t("admin.kiosk.window", number=kiosk.window_number)}'
                ui.label(kind).classes('text-sm')
                ui.label(kiosk.code).classes('text-sm text-grey-7 font-mono')
            state = tid(ui.label(), f'admin-kiosk-{kiosk.code}-state').classes('w-24 shrink-0 font-bold')
            if kiosk.paired:
                state.set_text(t('admin.kiosk.paired'))
                state.classes('text-positive')
            else:
                state.set_text(t('admin.kiosk.unpaired'))
                state.classes('text-grey-7')
            with ui.column().classes('gap-0 grow min-w-0 text-sm'):
                if kiosk.paired:
                    ui.label(t('admin.kiosk.since', at=self._time(kiosk.paired_at), by=kiosk.paired_by))
                    ui.label(t('admin.kiosk.seen', at=self._time(kiosk.last_seen_at)))
                    ui.label(t('admin.kiosk.from', address=kiosk.paired_from)).classes('text-grey-7')
                if kiosk.code_expires_at is not None:
                    pending = t('admin.kiosk.pending', at=self._time(kiosk.code_expires_at, '%H:%M'))
                    tid(ui.label(pending), f'admin-kiosk-{kiosk.code}-pending').classes('text-warning')
            issue = tid(ui.button(t('admin.kiosk.issue')), f'admin-kiosk-{kiosk.code}-issue')
            issue.props('unelevated icon=qr_code').on_click(lambda k=kiosk: self.issue(k))
            if kiosk.paired or kiosk.code_expires_at is not None:
                revoke = tid(ui.button(t('admin.kiosk.revoke')), f'admin-kiosk-{kiosk.code}-revoke')
                revoke.props('outline color=negative icon=link_off').on_click(lambda k=kiosk: self.confirm_revoke(k))

    # ---- actions ---------------------------------------------------------------------------------

    async def issue(self, kiosk: KioskPairing) -> None:
        caller = await self.caller()
        if caller is None:
            return
        try:
            issued = await self.pairing.issue_code(caller, kiosk.code)
        except DomainError as error:
            ui.notify(error_text(error), type='negative')
            return
        self._show_code(kiosk, issued)
        await self.refresh()

    def _show_code(self, kiosk: KioskPairing, issued: IssuedCode) -> None:
        self.shown = issued
        self.code_dialog.clear()
        with self.code_dialog, tid(ui.card(), 'admin-code-dialog').classes('p-6 gap-4 items-center'):
            ui.label(t('admin.code.title', name=kiosk.name or kiosk.code, code=kiosk.code)).classes('text-lg font-bold')
            with ui.row().classes('items-center gap-8 no-wrap'):
                with ui.column().classes('items-center gap-2'):
                    code = tid(ui.label(issued.shown), 'admin-pair-code').classes('font-mono font-bold text-primary')
                    code.style('font-size: 3.5rem; letter-spacing: .12em; line-height: 1.1')
                    until = t('admin.code.until', at=self._time(issued.expires_at, '%H:%M'))
                    tid(ui.label(until), 'admin-pair-expiry').classes('text-sm')
                with ui.element('div').classes('bg-white p-2 rounded'):
                    tid(ui.image(qr_data_uri(issued.code)), 'admin-pair-qr').classes('w-44 h-44').props('no-spinner')
            if kiosk.kind == DeviceKind.RATING_PAD:
                how = t('admin.code.how.pad', number=kiosk.window_number)
            else:
                how = t('admin.code.how', code=kiosk.code)
            ui.label(how).classes('text-sm max-w-[36rem]')
            if kiosk.paired:
                ui.label(t('admin.code.replaces')).classes('text-sm text-negative')
            close = tid(ui.button(t('admin.code.close'), on_click=self._close_code), 'admin-code-close')
            close.props('flat')
        self.code_dialog.open()

    def _close_code(self) -> None:
        self.code_dialog.close()
        self._forget_code()

    def _forget_code(self) -> None:
        """A closed dialog keeps no code in the page."""
        self.shown = None
        self.code_dialog.clear()

    def confirm_revoke(self, kiosk: KioskPairing) -> None:
        with ui.dialog() as dialog, tid(ui.card(), 'admin-revoke-dialog').classes('p-6 gap-4'):
            ui.label(t('admin.revoke.title', name=kiosk.name or kiosk.code, code=kiosk.code)).classes('font-bold')
            ui.label(t('admin.revoke.body')).classes('text-sm max-w-[30rem]')

            async def confirmed() -> None:
                dialog.close()
                await self.revoke(kiosk)

            with ui.row().classes('w-full justify-end gap-2'):
                tid(ui.button(t('admin.revoke.cancel'), on_click=dialog.close), 'admin-revoke-cancel').props('flat')
                confirm = tid(ui.button(t('admin.revoke.confirm'), on_click=confirmed), 'admin-revoke-confirm')
                confirm.props('unelevated color=negative')
        dialog.on('hide', dialog.delete)
        dialog.open()

    async def revoke(self, kiosk: KioskPairing) -> None:
        caller = await self.caller()
        if caller is None:
            return
        try:
            await self.pairing.revoke(caller, kiosk.code)
        except DomainError as error:
            ui.notify(error_text(error), type='warning')
        else:
            ui.notify(t('admin.revoked', code=kiosk.code), type='positive')
        await self.refresh()

    # ---- pushed changes --------------------------------------------------------------------------

    async def on_event(self, event: Event) -> None:
        """A kiosk was paired or unpaired (here or elsewhere): redraw; a shown code that was used closes."""
        if not isinstance(event, KioskPairingChanged):
            return
        shown = self.shown
        if shown is not None and event.change == 'paired' and event.device.code == shown.device_code:
            self._close_code()
            ui.notify(t('admin.code.used', code=shown.device_code), type='positive')
        await self.refresh()
