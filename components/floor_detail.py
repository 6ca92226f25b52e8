"""The side panel the floor map opens: details of one window, device or zone, and its recent history.

It re-renders itself when the feed flushes a change of what it shows, and only then (one query for
the history per change of that one object, on this page only).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from nicegui import background_tasks, ui

from app.clock import utcnow
from app.db import Database
from app.models.device import DeviceKind
from app.services.history import HistoryLine, device_history, window_history
from components import manager_texts  # noqa: F401 - registers the texts
from components.testids import tid
from components.texts import TEXTS, t
from twin.feed import HallFeed
from twin.model import DEVICE, QUEUE, SEAT, WINDOW, ZONE, Key

COUNTED_USES = frozenset({DeviceKind.ID_READER, DeviceKind.QR_SCANNER, DeviceKind.CAMERA, DeviceKind.PRINTER})


def _label(prefix: str, value: str) -> str:
    key = f'{prefix}.{value}'
    return t(key) if key in TEXTS else value


def _fact(value: object) -> str:
    return _label('fact', str(value)) if value not in (None, '') else ''


def describe(kind: str, detail: dict[str, object]) -> str:
    """A device event's facts in words (codes the hall does not know yet are shown as they are)."""
    if kind == 'health':
        state = _label('device.state', str(detail.get('state', '')))
        reason = _fact(detail.get('reason'))
        return f'{state}（{reason}）' if reason else state
    if kind == 'window_state':
        return _label('window.state', str(detail.get('state', '')))
    if kind == 'seat':
        return _fact('occupied' if detail.get('occupied') else 'vacated')
    if kind in ('card_read', 'qr_scanned'):
        valid = _fact('valid' if detail.get('valid') else 'invalid')
        reason = _fact(detail.get('reason'))
        return f'{valid}（{reason}）' if reason and not detail.get('valid') else valid
    if kind == 'comfort_prompt':
        return t('fact.waited', n=detail.get('waited_minutes', 0))
    if kind == 'session_end':
        seconds = detail.get('seconds')
        outcome = _fact(detail.get('outcome'))
        return f'{outcome} · {t("fact.seconds", n=seconds)}' if seconds is not None else outcome
    return _fact(detail.get('status') or detail.get('outcome') or '')


def _minutes(since: dt.datetime | None, now: dt.datetime) -> int:
    return max(0, int((now - since).total_seconds() // 60)) if since else 0


class DetailPanel:
    def __init__(self, feed: HallFeed, db: Database, tz: ZoneInfo) -> None:
        self.feed = feed
        self.twin = feed.twin
        self.db = db
        self.tz = tz
        self.selected: tuple[str, int] | None = None
        self._rendering = False
        self._again = False
        self.dialog = ui.dialog().props('position=right seamless')
        with self.dialog, tid(ui.card(), 'detail-panel').classes('w-[24rem] max-w-[90vw] h-screen gap-2 no-wrap'):
            with ui.row().classes('w-full items-center justify-between no-wrap'):
                self.title = tid(ui.label(), 'detail-title').classes('text-lg font-bold')
                ui.button(icon='close', on_click=self.close).props(f'flat round dense aria-label={t("detail.close")}')
            self.body = ui.column().classes('w-full gap-1 overflow-auto').props('tabindex=0')  # scrolls by keyboard
        feed.flushed.subscribe(self._on_flush)

    def _time(self, moment: dt.datetime | None) -> str:
        return moment.astimezone(self.tz).strftime('%H:%M:%S') if moment else '—'

    def close(self) -> None:
        self.selected = None
        self.dialog.close()

    async def show(self, kind: str, ident: int) -> None:
        self.selected = (kind, ident)
        await self.render()
        self.dialog.open()

    def _keys(self) -> set[Key]:
        if self.selected is None:
            return set()
        kind, ident = self.selected
        if kind == 'zone':
            return {(ZONE, ident)} | {(QUEUE, q.service_id) for q in self.twin.zone_queues(ident)}
        if kind == 'window':
            return {(WINDOW, ident)}
        return {(DEVICE, ident), (SEAT, ident)}

    def _on_flush(self, keys: frozenset[Key]) -> None:
        if self.selected is not None and self._keys() & keys:
            background_tasks.create(self.render(), name='floor-detail')

    async def render(self) -> None:
        if self._rendering:
            self._again = True
            return
        self._rendering = True
        try:
            while True:
                self._again = False
                await self._render_once()
                if not self._again:
                    break
        finally:
            self._rendering = False

    async def _render_once(self) -> None:
        if self.selected is None:
            return
        kind, ident = self.selected
        history: list[HistoryLine] = []
        if kind == 'window' and ident in self.twin.windows:
            history = await window_history(self.db, ident)
        elif kind == 'device' and ident in self.twin.devices:
            history = await device_history(self.db, ident)
        if self.dialog.is_deleted:
            return
        self.body.clear()
        with self.body:
            if kind == 'window' and ident in self.twin.windows:
                self._window(ident)
            elif kind == 'device' and ident in self.twin.devices:
                self._device(ident)
            elif kind == 'zone' and ident in self.twin.zones:
                self._zone(ident)
            if kind in ('window', 'device'):
                self._history(history, 'history')

    def _row(self, label: str, value: str, name: str = '') -> None:
        with ui.row().classes('w-full no-wrap gap-2 text-sm'):
            ui.label(label).classes('w-24 shrink-0 text-grey-7')
            value_label = ui.label(value).classes('font-medium')
            if name:
                tid(value_label, name)

    def _window(self, wid: int) -> None:
        w = self.twin.windows[wid]
        now = utcnow()
        self.title.set_text(w.name)
        self._row(t('detail.state'), t(f'window.state.{w.state}'), 'detail-state')
        self._row(t('detail.staff'), w.staff or '—')
        if w.current_number:
            service = self.twin.queues.get(w.current_service_id or 0)
            serving = f'{w.current_number}' + (f' · {service.name}' if service else '')
            self._row(t('detail.serving'), serving, 'detail-serving')
            self._row('', t('detail.since', at=self._time(w.current_since)[:5], n=_minutes(w.current_since, now)))
        else:
            self._row(t('detail.serving'), '—', 'detail-serving')
        ui.label(t('detail.services')).classes('text-sm text-grey-7 mt-2')
        for sid, tier in sorted(w.services.items(), key=lambda item: item[1]):
            queue = self.twin.queues.get(sid)
            if queue is not None:
                tier_text = t('detail.main') if tier == 1 else t('detail.secondary')
                ui.label(f'{queue.prefix} {queue.name}（{tier_text}）· {t("kpi.people", n=queue.waiting)}').classes(
                    'text-sm'
                )

    def _device(self, did: int) -> None:
        d = self.twin.devices[did]
        now = utcnow()
        self.title.set_text(d.name or d.code)
        self._row(t('detail.kind'), _label('device.kind', d.kind))
        self._row(t('detail.code'), d.code)
        state = _label('device.state', d.state) + (f'（{_fact(d.reason)}）' if d.reason else '')
        self._row(t('detail.state'), f'{state} · {self._time(d.state_since)}', 'detail-state')
        if d.usage is not None:
            self._row(t('detail.usage'), f'{d.usage:.0%}')
        if d.kind in COUNTED_USES:
            self._row(t('detail.uses'), str(d.uses))
        if d.printer_status:
            self._row(t('detail.printer'), _fact(d.printer_status))
        if d.help_since is not None:
            ui.label(t('detail.help', at=self._time(d.help_since)[:5])).classes('text-sm text-negative font-bold')
        seat = self.twin.seats.get(did)
        if seat is not None:
            occupancy = t('detail.seat_occ', n=_minutes(seat.since, now)) if seat.occupied else t('detail.seat_free')
            self._row(t('detail.seat'), occupancy)

    def _zone(self, zid: int) -> None:
        zone = self.twin.zones[zid]
        now = utcnow()
        self.title.set_text(zone.name)
        ui.label(t('detail.queues')).classes('text-sm text-grey-7')
        queues = self.twin.zone_queues(zid)
        if not queues:
            ui.label('—').classes('text-sm')
        for queue in queues:
            eta = t('kpi.minutes', n=queue.eta_minutes) if queue.eta_minutes is not None else t('queue.no_window')
            oldest = f' · {t("detail.oldest", n=_minutes(queue.oldest_queued_at, now))}' if queue.waiting else ''
            booked = f' · {t("detail.booked", n=queue.booked)}' if queue.booked else ''
            with ui.row().classes('w-full no-wrap gap-2 text-sm items-baseline'):
                ui.label(queue.prefix).classes('w-5 font-bold text-primary')
                ui.label(queue.name).classes('grow')
                style = 'text-negative font-bold' if queue.waiting > queue.threshold else 'font-medium'
                ui.label(f'{t("kpi.people", n=queue.waiting)} · {eta}{oldest}{booked}').classes(style)
        windows = sorted((w for w in self.twin.windows.values() if w.zone_id == zid), key=lambda w: w.number)
        if windows:
            ui.label(t('detail.windows')).classes('text-sm text-grey-7 mt-2')
            for w in windows:
                ui.label(f'{w.number}号 · {t(f"window.state.{w.state}")} · {w.current_number or "—"}').classes(
                    'text-sm'
                )

    def _history(self, lines: list[HistoryLine], prefix: str) -> None:
        ui.label(t('detail.history')).classes('text-sm text-grey-7 mt-2')
        if not lines:
            ui.label(t('detail.no_history')).classes('text-sm')
            return
        with tid(ui.column(), 'detail-history').classes('w-full gap-0'):
            for line in lines:
                with ui.row().classes('w-full no-wrap gap-2 text-sm'):
                    ui.label(self._time(line.at)).classes('font-mono text-grey-7')
                    ui.label(_label(prefix, line.kind)).classes('w-20 shrink-0')
                    ui.label(line.text or describe(line.kind, line.detail)).classes('ellipsis')
