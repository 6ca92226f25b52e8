"""登录设备 on /me: the phone's live sign-ins, and 退出 for each other one or all of them (a lost phone).

The panel only draws and forwards the page's own session token and caller: app/services/citizen_accounts.py
decides which sign-ins are the caller's and ends them (an ended page on another phone closes at once).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from nicegui import ui

from app.services.citizen_accounts import CitizenAccountService, SignedInDevice
from app.services.errors import DomainError
from app.services.principal import Principal
from components import me_texts as _texts  # noqa: F401 - registers the texts
from components.testids import tid
from components.texts import error_text, t


class DevicesPanel:
    def __init__(self, accounts: CitizenAccountService, token: str, caller: Principal, *, tz: ZoneInfo) -> None:
        self.accounts = accounts
        self.token = token
        self.caller = caller
        self.tz = tz
        self.box = tid(ui.card(), 'me-devices').classes('w-full p-4 gap-2')

    async def draw(self) -> None:
        """Read the live sign-ins again and redraw them."""
        try:
            devices = await self.accounts.devices(self.token, self.caller)
        except DomainError as error:  # this sign-in itself ended meanwhile
            devices = []
            ui.notify(error_text(error), type='warning')
        self.box.clear()
        with self.box:
            ui.label(t('me.devices')).classes('text-base font-bold')
            for device in devices:
                self._device(device)
            if any(not device.this_one for device in devices):
                tid(ui.button(t('me.devices.end_all'), on_click=self.end_all), 'me-devices-end-all').props(
                    'outline color=negative'
                ).classes('w-full')
            else:
                ui.label(t('me.devices.only_this')).classes('text-sm text-grey-8')

    def _device(self, device: SignedInDevice) -> None:
        since = device.signed_in_at.astimezone(self.tz).strftime('%Y-%m-%d %H:%M')
        seen = device.last_seen_at.astimezone(self.tz).strftime('%m-%d %H:%M')
        with tid(ui.row(), f'me-device-{device.session_id}').classes('w-full items-center justify-between no-wrap'):
            with ui.column().classes('gap-0 min-w-0'):
                which = t('me.devices.this') if device.this_one else t('me.devices.other')
                place = device.place or t('me.devices.unknown_place')
                ui.label(' · '.join(part for part in (which, device.device, place) if part)).classes('text-base')
                ui.label(t('me.devices.times', since=since, seen=seen)).classes('text-sm text-grey-8')
            if not device.this_one:
                tid(
                    ui.button(t('me.devices.end'), on_click=self._ender(device.session_id)),
                    f'me-device-end-{device.session_id}',
                ).props('outline color=negative no-wrap').classes('shrink-0')  # the text wraps, never the button

    def _ender(self, session_id: int) -> Callable[[], Awaitable[None]]:
        async def end() -> None:
            await self._forward(self.accounts.end_device(self.token, session_id, self.caller))

        return end

    async def end_all(self) -> None:
        await self._forward(self.accounts.end_other_devices(self.token, self.caller))

    async def _forward(self, action: Awaitable[object]) -> None:
        try:
            await action
        except DomainError as error:
            ui.notify(error_text(error), type='warning')
        else:
            ui.notify(t('me.devices.ended'), type='positive')
        await self.draw()
