"""/admin's device registry: the hall's devices by kind with their live state, register, new credential, retire.

It draws and dispatches only: who may do what is decided by DeviceRegistryService, which gets the admin's
principal, fresh from `caller()` before every action. A credential is shown once, in a dialog that forgets
it when closed. The state of each device follows the twin (bound, so a change pushes one label); the list
redraws when a device is registered, rotated or retired anywhere (`on_event`, fed by the device feed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from nicegui import ui

from app.events import DeviceCredentialRotated, DeviceRegistered, DeviceRetired, Event
from app.models.device import DeviceKind
from app.services.device_registry import (
    PERIPHERALS,
    WINDOW_KINDS,
    DeviceDraft,
    DeviceEntry,
    DeviceRegistryService,
    IssuedCredential,
    RegistryChoices,
)
from app.services.errors import DomainError
from app.services.principal import Principal
from components import admin_devices_texts as _texts  # noqa: F401 - registers the texts
from components.testids import tid
from components.texts import error_text, t
from twin.model import DeviceTwin

Caller = Callable[[], Awaitable[Principal | None]]
Live = Callable[[str], DeviceTwin | None]  # the twin's device of a code (its state follows the hall)

KIND_ORDER = list(DeviceKind)
STATE_CLASSES = {'online': 'text-positive', 'offline': 'text-grey-7', 'fault': 'text-negative'}
REGISTRY_EVENTS = (DeviceRegistered, DeviceCredentialRotated, DeviceRetired)


def state_text(state: str) -> str:
    return f'● {t(f"device.state.{state}")}'


class DevicesPanel:
    def __init__(self, registry: DeviceRegistryService, caller: Caller, *, live: Live, tz: ZoneInfo) -> None:
        self.registry = registry
        self.caller = caller
        self.live = live
        self.tz = tz
        with tid(ui.card(), 'admin-devices').classes('w-full p-4 gap-3'):
            with ui.row().classes('w-full items-center justify-between no-wrap'):
                ui.label(t('admin.devices')).classes('text-lg font-bold')
                register = tid(ui.button(t('admin.devices.register')), 'admin-device-register')
                register.props('unelevated icon=add').on_click(self.open_form)
            ui.label(t('admin.devices.hint')).classes('text-sm text-grey-7')
            self.rows = ui.column().classes('w-full gap-3')
        self.credential_dialog = ui.dialog().props('persistent')

    def _time(self, moment: dt.datetime | None) -> str:
        return moment.astimezone(self.tz).strftime('%Y-%m-%d %H:%M') if moment else t('admin.never')

    async def refresh(self) -> None:
        caller = await self.caller()
        if caller is None:
            return
        try:
            devices = await self.registry.devices(caller)
        except DomainError as error:
            ui.notify(error_text(error), type='negative')
            return
        self.rows.clear()
        in_service = [d for d in devices if not d.retired]
        retired = [d for d in devices if d.retired]
        with self.rows:
            if not in_service:
                ui.label(t('admin.devices.none')).classes('text-grey-7')
            for kind in KIND_ORDER:
                of_kind = [d for d in in_service if d.kind == kind]
                if not of_kind:
                    continue
                with ui.row().classes('items-baseline gap-2 mt-2'):
                    ui.label(t(f'device.kind.{kind.value}')).classes('text-base font-bold')
                    ui.label(t('admin.devices.count', n=len(of_kind))).classes('text-sm text-grey-7')
                for device in of_kind:
                    self._row(device)
            if retired:
                with tid(ui.expansion(t('admin.devices.retired', n=len(retired))), 'admin-devices-retired'):
                    for device in retired:
                        self._retired_row(device)

    def _place(self, device: DeviceEntry) -> str:
        if device.window_number is not None:
            return t('admin.device.window', zone=device.zone, number=device.window_number)
        if device.attached_to:
            return t('admin.device.attached', zone=device.zone, kiosk=device.attached_to)
        return device.zone

    def _row(self, device: DeviceEntry) -> None:
        row = tid(ui.row(), f'admin-device-{device.code}')
        with row.classes('w-full items-center gap-x-4 gap-y-2 border rounded p-3'):
            with ui.column().classes('gap-0 w-64 max-w-full shrink-0'):
                ui.label(device.name).classes('font-bold')
                ui.label(device.code).classes('text-sm text-grey-7 font-mono')
            with tid(ui.element('div'), f'admin-device-{device.code}-state').classes('w-20 shrink-0 font-bold'):
                twin = self.live(device.code)
                for state, classes in STATE_CLASSES.items():
                    label = tid(ui.label(state_text(state)), f'admin-device-{device.code}-{state}').classes(classes)
                    if twin is not None:  # the twin's state, pushed as it changes
                        label.bind_visibility_from(twin, 'state', value=state)
                    else:
                        label.set_visibility(state == device.state)
            with ui.column().classes('gap-0 grow min-w-[12rem] text-sm'):
                ui.label(self._place(device))
                if device.credential_issued_at is not None:
                    ui.label(t('admin.device.issued', at=self._time(device.credential_issued_at))).classes(
                        'text-grey-7'
                    )
                else:
                    ui.label(t('admin.device.derived')).classes('text-grey-7')
            rotate = tid(ui.button(t('admin.device.rotate')), f'admin-device-{device.code}-rotate')
            rotate.props('outline icon=key').on_click(lambda d=device: self.rotate(d))
            retire = tid(ui.button(t('admin.device.retire')), f'admin-device-{device.code}-retire')
            retire.props('outline color=negative icon=delete_forever').on_click(lambda d=device: self.confirm_retire(d))

    def _retired_row(self, device: DeviceEntry) -> None:
        with ui.row().classes('w-full items-center gap-x-4 gap-y-1 p-2 text-grey-7'):
            ui.label(device.name).classes('w-64 shrink-0')
            ui.label(device.code).classes('font-mono w-32 shrink-0')
            ui.label(t(f'device.kind.{device.kind.value}')).classes('w-32 shrink-0')
            ui.label(t('admin.device.retired_at', at=self._time(device.retired_at)))

    # ---- register ----------------------------------------------------------------------------------

    async def open_form(self) -> None:
        caller = await self.caller()
        if caller is None:
            return
        try:
            choices = await self.registry.choices(caller)
        except DomainError as error:
            ui.notify(error_text(error), type='negative')
            return
        RegisterForm(self, choices).dialog.open()

    async def register(self, draft: DeviceDraft) -> bool:
        """True once registered (the form closes); a refusal is shown and the form stays as typed."""
        caller = await self.caller()
        if caller is None:
            return False
        try:
            issued = await self.registry.register(caller, draft)
        except DomainError as error:
            ui.notify(error_text(error), type='negative')
            return False
        ui.notify(t('admin.registered', code=issued.device_code), type='positive')
        self.show_credential(draft.name.strip(), issued, replaced=False)
        await self.refresh()
        return True

    # ---- rotate and retire -----------------------------------------------------------------------

    async def rotate(self, device: DeviceEntry) -> None:
        caller = await self.caller()
        if caller is None:
            return
        try:
            issued = await self.registry.rotate(caller, device.code)
        except DomainError as error:
            ui.notify(error_text(error), type='negative')
            await self.refresh()
            return
        self.show_credential(device.name, issued, replaced=True)
        await self.refresh()

    def show_credential(self, name: str, issued: IssuedCredential, *, replaced: bool) -> None:
        """The credential, once, with its copy button and how a device uses it; closing forgets it."""
        code = issued.device_code
        self.credential_dialog.clear()
        with self.credential_dialog, tid(ui.card(), 'admin-credential-dialog').classes('p-6 gap-3 max-w-[44rem]'):
            ui.label(t('admin.credential.title', name=name, code=code)).classes('text-lg font-bold')
            ui.label(t('admin.credential.once')).classes('text-sm text-negative')
            with ui.row().classes('w-full items-center gap-2 no-wrap'):
                shown = tid(ui.label(issued.credential), 'admin-credential')
                shown.classes('font-mono text-sm break-all bg-grey-2 rounded p-2 grow select-all')
                copy = tid(ui.button(t('admin.credential.copy')), 'admin-credential-copy')
                copy.props('unelevated icon=content_copy').on_click(lambda: self._copy(issued.credential))
            if replaced:
                ui.label(t('admin.credential.replaced')).classes('text-sm')
            ui.label(t('admin.credential.bridge', code=code)).classes('text-sm')
            ui.label(t('admin.credential.protocol', code=code)).classes('text-sm text-grey-8')
            with ui.row().classes('w-full justify-end'):
                close = tid(
                    ui.button(t('admin.credential.close'), on_click=self._close_credential), 'admin-credential-close'
                )
                close.props('unelevated')
        self.credential_dialog.open()

    @staticmethod
    def _copy(credential: str) -> None:
        ui.clipboard.write(credential)
        ui.notify(t('admin.credential.copied'), type='positive')

    def _close_credential(self) -> None:
        """A closed dialog keeps no credential in the page."""
        self.credential_dialog.close()
        self.credential_dialog.clear()

    def confirm_retire(self, device: DeviceEntry) -> None:
        with ui.dialog() as dialog, tid(ui.card(), 'admin-retire-dialog').classes('p-6 gap-4'):
            ui.label(t('admin.retire.title', name=device.name, code=device.code)).classes('font-bold')
            ui.label(t('admin.retire.body')).classes('text-sm max-w-[30rem]')

            async def confirmed() -> None:
                dialog.close()
                await self.retire(device)

            with ui.row().classes('w-full justify-end gap-2'):
                tid(ui.button(t('admin.retire.cancel'), on_click=dialog.close), 'admin-retire-cancel').props('flat')
                confirm = tid(ui.button(t('admin.retire.confirm'), on_click=confirmed), 'admin-retire-confirm')
                confirm.props('unelevated color=negative')
        dialog.on('hide', dialog.delete)
        dialog.open()

    async def retire(self, device: DeviceEntry) -> None:
        caller = await self.caller()
        if caller is None:
            return
        try:
            await self.registry.retire(caller, device.code)
        except DomainError as error:
            ui.notify(error_text(error), type='warning')
        else:
            ui.notify(t('admin.retired', code=device.code), type='positive')
        await self.refresh()

    # ---- pushed changes --------------------------------------------------------------------------

    async def on_event(self, event: Event) -> None:
        """A device was registered, rotated or retired (here or in another process): redraw the list."""
        if isinstance(event, REGISTRY_EVENTS):
            await self.refresh()


class RegisterForm:
    """The register dialog: the fields a kind needs (a window for a call display, a kiosk for a peripheral)."""

    def __init__(self, panel: DevicesPanel, choices: RegistryChoices) -> None:
        self.panel = panel
        kinds = {kind.value: t(f'device.kind.{kind.value}') for kind in KIND_ORDER}
        windows: dict[int | None, str] = {None: t('admin.form.no_window')}
        windows |= {wid: str(number) for wid, number in choices.windows.items()}
        with ui.dialog() as self.dialog, tid(ui.card(), 'admin-register-dialog').classes('p-6 gap-2 w-[34rem]'):
            ui.label(t('admin.form.title')).classes('text-lg font-bold')
            self.code = tid(ui.input(t('admin.form.code')), 'admin-form-code').classes('w-full')
            self.kind = tid(
                ui.select(kinds, label=t('admin.form.kind'), value=DeviceKind.KIOSK.value), 'admin-form-kind'
            )
            self.kind.classes('w-full')
            self.name = tid(ui.input(t('admin.form.name')), 'admin-form-name').classes('w-full')
            self.zone = tid(ui.select(choices.zones, label=t('admin.form.zone')), 'admin-form-zone').classes('w-full')
            self.window = tid(ui.select(windows, label=t('admin.form.window'), value=None), 'admin-form-window')
            self.window.classes('w-full').bind_visibility_from(self.kind, 'value', backward=lambda k: k in WINDOW_KINDS)
            self.kiosk = tid(ui.select(choices.kiosks, label=t('admin.form.kiosk')), 'admin-form-kiosk').classes(
                'w-full'
            )
            self.kiosk.bind_visibility_from(self.kind, 'value', backward=lambda k: k in PERIPHERALS)
            with ui.row().classes('w-full gap-4 no-wrap'):
                self.x = tid(ui.number(t('admin.form.x', max=f'{choices.width:g}'), value=0), 'admin-form-x')
                self.x.classes('grow')
                self.y = tid(ui.number(t('admin.form.y', max=f'{choices.height:g}'), value=0), 'admin-form-y')
                self.y.classes('grow')
            with ui.row().classes('w-full justify-end gap-2 mt-2'):
                tid(ui.button(t('admin.form.cancel'), on_click=self.dialog.close), 'admin-form-cancel').props('flat')
                submit = tid(ui.button(t('admin.form.submit'), on_click=self.submit), 'admin-form-submit')
                submit.props('unelevated')
        self.dialog.on('hide', self.dialog.delete)

    def draft(self) -> DeviceDraft:
        """What was typed, as it stands; the service judges it (a hidden field is not sent)."""
        kind = str(self.kind.value or '')
        window_id = self.window.value if kind in WINDOW_KINDS else None
        return DeviceDraft(
            code=str(self.code.value or ''),
            kind=kind,
            name=str(self.name.value or ''),
            zone_id=None if window_id is not None else self.zone.value,  # a window's display stands in its zone
            window_id=window_id,
            attached_to=self.kiosk.value if kind in PERIPHERALS else None,
            x=float(self.x.value or 0),
            y=float(self.y.value or 0),
        )

    async def submit(self) -> None:
        if await self.panel.register(self.draft()):
            self.dialog.close()
