"""The desk's 绿色通道 card: a clerk who sees a disability or pregnancy marks a waiting ticket; the service decides."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from app.services.green_channel import MARKED_REASONS
from components import window_texts as _texts  # noqa: F401 - registers the desk's texts
from components.testids import tid
from components.texts import t

MarkAction = Callable[[str, str], Awaitable[bool]]


class GreenCard:
    """Built once per page, like the out-of-order card, so a re-render never wipes what is being typed."""

    def __init__(self, on_mark: MarkAction) -> None:
        self.on_mark = on_mark
        with tid(ui.card(), 'desk-green').classes('w-full p-4 gap-2'):
            ui.label(t('desk.green.title')).classes('font-bold')
            self.number = tid(ui.input(t('desk.green.number')), 'green-number').props('dense maxlength=8')
            self.number.classes('w-full')
            options = {reason: t(f'desk.green.{reason}') for reason in MARKED_REASONS}
            self.reason = tid(ui.radio(options, value=MARKED_REASONS[0]), 'green-reason').props('inline dense')
            self.reason.props(f'aria-label="{t("desk.green.reason")}"')
            button = tid(ui.button(t('desk.green.mark'), on_click=self._mark), 'green-mark')
            button.props('outline color=positive icon=accessible').classes('w-full')

    async def _mark(self) -> None:
        if await self.on_mark(self.number.value or '', str(self.reason.value or '')):
            self.number.set_value('')
