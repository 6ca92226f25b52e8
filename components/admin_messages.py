"""/admin's messages tab: deliveries per channel and kind over the last day, and the failures with their causes.

It draws and forwards only: NotificationService.delivery_status decides who may read and masks the numbers.
Kinds, channels, states and causes are shown by name; a provider's own words are quoted, never its codes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from nicegui import ui

from app.services.errors import DomainError
from app.services.notifications import DeliveryProblem, DeliveryStatus, NotificationService
from app.services.principal import Principal
from components import admin_messages_texts as _texts  # noqa: F401 - registers the texts
from components.readable import table_scroll
from components.testids import tid
from components.texts import TEXTS, error_text, t

Caller = Callable[[], Awaitable[Principal | None]]


def named(family: str, code: str) -> str:
    """A channel's, kind's or state's name; an unnamed one is 'other', never the code itself."""
    key = f'admin.messages.{family}.{code}'
    return t(key) if key in TEXTS else t(f'admin.messages.{family}.other')


def reason_text(problem: DeliveryProblem) -> str:
    if problem.reason == 'provider':
        return t('admin.messages.reason.provider', words=problem.detail)
    return t(f'admin.messages.reason.{problem.reason}')


class MessagesPanel:
    def __init__(self, notifications: NotificationService, caller: Caller, *, tz: ZoneInfo) -> None:
        self.notifications = notifications
        self.caller = caller
        self.tz = tz
        with tid(ui.card(), 'admin-messages').classes('w-full p-4 gap-3'):
            with ui.row().classes('w-full items-center justify-between'):
                ui.label(t('admin.messages')).classes('text-lg font-bold')
                ui.button(t('admin.messages.refresh'), on_click=self.refresh).props('outline')
            ui.label(t('admin.messages.hint')).classes('text-sm text-grey-7')
            self.counts = ui.column().classes('w-full')
            ui.label(t('admin.messages.problems')).classes('text-base font-bold')
            self.problems = ui.column().classes('w-full')

    async def refresh(self) -> None:
        caller = await self.caller()
        if caller is None:
            return
        try:
            status = await self.notifications.delivery_status(caller)
        except DomainError as error:
            ui.notify(error_text(error), type='negative')
            return
        self._draw(status)

    def _draw(self, status: DeliveryStatus) -> None:
        self.counts.clear()
        with self.counts:
            if not status.kinds:
                ui.label(t('admin.messages.none')).classes('text-grey-7')
            else:
                columns = [
                    {'name': name, 'label': t(f'admin.messages.col.{name}'), 'field': name, 'align': 'left'}
                    for name in ('channel', 'kind', 'sent', 'pending', 'failed')
                ]
                rows = [
                    {
                        'id': index,
                        'channel': named('channel', k.channel),
                        'kind': named('kind', k.kind),
                        'sent': k.sent,
                        'pending': k.pending,
                        'failed': k.failed,
                    }
                    for index, k in enumerate(status.kinds)
                ]
                with table_scroll(t('admin.messages')):
                    tid(ui.table(columns=columns, rows=rows, row_key='id'), 'admin-messages-counts').classes('w-full')
        self.problems.clear()
        with self.problems:
            if not status.problems:
                ui.label(t('admin.messages.no_problems')).classes('text-grey-7')
                return
            columns = [
                {'name': name, 'label': t(f'admin.messages.col.{name}'), 'field': name, 'align': 'left'}
                for name in ('at', 'channel', 'kind', 'to', 'status', 'attempts', 'reason')
            ]
            rows = [
                {
                    'id': p.id,
                    'at': self._local(p.at),
                    'channel': named('channel', p.channel),
                    'kind': named('kind', p.kind),
                    'to': p.to,
                    'status': named('status', p.status),
                    'attempts': p.attempts,
                    'reason': reason_text(p),
                }
                for p in status.problems
            ]
            with table_scroll(t('admin.messages')):
                tid(ui.table(columns=columns, rows=rows, row_key='id'), 'admin-messages-problems').classes('w-full')

    def _local(self, at: dt.datetime) -> str:
        aware = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
        return aware.astimezone(self.tz).strftime('%m-%d %H:%M')
