"""The manager's 上门服务 queue: open home visits as the twin holds them (live, no query), slot first.

It shows what the twin knows and nothing personal: service, status, slot and how many people are sent. The
handler's actions are in the visits tab (components/visit_desk.py).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from nicegui import ui

from components import visit_texts as _texts  # noqa: F401 - registers the texts
from components.testids import tid
from components.texts import t
from twin.feed import HallFeed
from twin.model import Key
from twin.visits import VISIT, VisitTwin, queue_order

STATUS_CLASSES = {
    'requested': 'bg-amber-2 text-amber-10',
    'scheduled': 'bg-blue-1 text-blue-10',
    'assigned': 'bg-green-1 text-green-10',
}


def visit_queue(feed: HallFeed, *, tz: ZoneInfo) -> None:
    twin = feed.twin
    with ui.row().classes('w-full items-center justify-between'):
        ui.label(t('visit.queue')).classes('text-lg font-bold')
        count = tid(ui.badge(), 'visit-queue-count').props('rounded color=primary')
    summary = tid(ui.label(), 'visit-queue-summary').classes('text-xs text-grey-8')
    box = tid(ui.column(), 'visit-queue').classes('w-full gap-1 overflow-auto max-h-60 no-wrap')

    def draw() -> None:
        visits = queue_order(twin.visits)
        count.set_text(str(len(visits)))
        by_status = {status: sum(1 for v in visits if v.status == status) for status in STATUS_CLASSES}
        summary.set_text(' · '.join(t(f'visit.queue.{s}', n=n) for s, n in by_status.items() if n))
        box.clear()
        with box:
            if not visits:
                ui.label(t('visit.queue.empty')).classes('text-sm text-grey-7')
            for visit in visits:
                _row(visit, tz)

    def on_flush(keys: frozenset[Key]) -> None:
        if any(kind == VISIT for kind, _ in keys):
            draw()

    draw()
    feed.flushed.subscribe(on_flush)


def _row(visit: VisitTwin, tz: ZoneInfo) -> None:
    with tid(ui.row(), f'visit-queue-{visit.id}').classes('w-full items-center gap-2 no-wrap text-sm'):
        ui.label(f'#{visit.id}').classes('font-mono text-grey-7')
        ui.label(visit.service_code).classes('font-mono shrink-0')
        status = ui.label(t(f'visit.status.{visit.status}'))
        status.classes(f'rounded px-2 shrink-0 whitespace-nowrap {STATUS_CLASSES.get(visit.status, "")}')
        ui.label(_when(visit, tz)).classes('text-grey-8 ellipsis')


def _when(visit: VisitTwin, tz: ZoneInfo) -> str:
    if visit.slot_start is None:
        return t('visit.queue.unscheduled', at=_local(visit.requested_at, tz))
    return _local(visit.slot_start, tz) + (f' · {visit.assignees}人' if visit.assignees else '')


def _local(moment: dt.datetime, tz: ZoneInfo) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(tz).strftime('%m-%d %H:%M')
