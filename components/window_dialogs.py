"""The desk's two questions: where to transfer a ticket (and why), and why it is parked."""

from __future__ import annotations

from dataclasses import dataclass

from nicegui import ui

from app.services.window_desk import TransferTargets
from components import window_texts as _texts  # noqa: F401 - registers the desk's texts
from components.testids import tid
from components.texts import t


@dataclass(frozen=True)
class TransferChoice:
    service_code: str | None
    window_id: int | None
    reason: str


class TransferDialog:
    """Built once per page; `ask` opens it for the current ticket and returns the choice (None if cancelled)."""

    def __init__(self, targets: TransferTargets, *, own_window_id: int) -> None:
        with ui.dialog() as self.dialog, ui.card().classes('w-[32rem] gap-3 p-6'):
            self.title = ui.label().classes('text-lg font-bold')
            services = {s.code: f'{s.name} ({s.code})' for s in targets.services}
            windows = {w.id: w.name for w in targets.windows if w.id != own_window_id}
            self.service = tid(
                ui.select(services, label=t('desk.transfer.service'), clearable=True), 'transfer-service'
            )
            self.service.classes('w-full')
            self.window = tid(ui.select(windows, label=t('desk.transfer.window'), clearable=True), 'transfer-window')
            self.window.classes('w-full')
            self.reason = tid(ui.input(t('desk.reason')), 'transfer-reason').classes('w-full').props('maxlength=200')
            with ui.row().classes('w-full justify-end gap-2'):
                ui.button(t('desk.cancel'), on_click=lambda: self.dialog.submit(None)).props('flat')
                tid(ui.button(t('desk.ok'), on_click=self._submit), 'transfer-ok').props('unelevated')

    def _submit(self) -> None:
        self.dialog.submit(TransferChoice(self.service.value or None, self.window.value or None, self.reason.value))

    async def ask(self, number: str) -> TransferChoice | None:
        self.title.set_text(t('desk.transfer.title', number=number))
        self.service.set_value(None)
        self.window.set_value(None)
        self.reason.set_value('')
        return await self.dialog


class ParkDialog:
    def __init__(self) -> None:
        with ui.dialog() as self.dialog, ui.card().classes('w-[28rem] gap-3 p-6'):
            self.title = ui.label().classes('text-lg font-bold')
            self.reason = tid(ui.input(t('desk.reason_optional')), 'park-reason').classes('w-full')
            self.reason.props('maxlength=200')
            with ui.row().classes('w-full justify-end gap-2'):
                ui.button(t('desk.cancel'), on_click=lambda: self.dialog.submit(None)).props('flat')
                tid(ui.button(t('desk.ok'), on_click=lambda: self.dialog.submit(self.reason.value or '')), 'park-ok')

    async def ask(self, number: str) -> str | None:
        self.title.set_text(t('desk.park.title', number=number))
        self.reason.set_value('')
        return await self.dialog
