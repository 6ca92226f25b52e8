"""The live in-memory hall: zones, windows, queues, devices, seats and open alerts.

Built from the database once, then kept current by bus events. `HallTwin.apply` is the reducer: one
event in, the keys of the objects that really changed out (an empty set when nothing did, e.g. a
duplicate event or a window set to the state it already has). Objects are bindable dataclasses, so
a label bound to `current_number` is pushed exactly that field; `updated` carries the changed keys
to whoever redraws more than a field (the floor map's feed), `changed` the event itself.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from nicegui import Event as UiEvent

from app.bus import Bus, Subscription
from app.events import (
    AlertPayload,
    Event,
    TicketCalled,
    TicketCompleted,
    TicketEventBase,
    TicketNoShow,
    TicketParked,
    TicketResumed,
    TicketTransferred,
    WindowChanged,
)
from app.models.device import DeviceKind
from app.services.live_queue import LiveQueue
from app.services.queue import HallOverview
from app.services.thresholds import queue_is_hot
from twin.layout import HallLayout
from twin.model import (
    QUEUE,
    SEAT,
    WINDOW,
    ZONE,
    DeviceTwin,
    Key,
    QueueTwin,
    SeatTwin,
    WindowTwin,
    ZoneTwin,
)
from twin.reducers import assign, reduce_alert, reduce_device

__all__ = ['HallTwin', 'QueueTwin', 'WindowTwin']


class HallTwin:
    def __init__(self, overview: HallOverview, live: LiveQueue, layout: HallLayout | None = None) -> None:
        layout = layout or HallLayout()
        self.live = live
        self.name, self.width, self.height = layout.name, layout.width, layout.height
        self.zones: dict[int, ZoneTwin] = {
            z.id or 0: ZoneTwin(
                id=z.id or 0, code=z.code, name=z.name, name_en=z.name_en, x=z.x, y=z.y, width=z.width, height=z.height
            )
            for z in layout.zones
        }
        self.windows: dict[int, WindowTwin] = {
            w.window.id or 0: WindowTwin(
                id=w.window.id or 0,
                number=w.window.number,
                name=w.window.name,
                zone_id=w.window.zone_id,
                state=w.window.state,
                services=dict(w.service_ids),
                current_number=w.current.number if w.current else '',
                current_since=w.current.called_at if w.current else None,
                current_service_id=w.current.service_id if w.current else None,
                x=w.window.x,
                y=w.window.y,
                staff=layout.staff.get(w.window.id or 0, ''),
            )
            for w in overview.windows
        }
        self.queues: dict[int, QueueTwin] = {
            q.service.id or 0: QueueTwin(
                service_id=q.service.id or 0,
                code=q.service.code,
                name=q.service.name,
                prefix=q.service.ticket_prefix,
                threshold=q.service.queue_alert_threshold,
            )
            for q in overview.queues
        }
        self.devices: dict[int, DeviceTwin] = {
            d.id or 0: DeviceTwin(
                id=d.id or 0,
                code=d.code,
                kind=d.kind,
                name=d.name,
                x=d.x,
                y=d.y,
                zone_id=d.zone_id,
                window_id=d.window_id,
                attached_to=d.attached_to,
                state=d.state,
                state_since=d.last_seen_at,
            )
            for d in layout.devices
        }
        self.devices_by_code = {d.code: d for d in self.devices.values()}
        self.seats: dict[int, SeatTwin] = {
            d.id: SeatTwin(device_id=d.id, code=d.code) for d in self.devices.values() if d.kind == DeviceKind.SEAT
        }
        self.alerts: dict[int, AlertPayload] = {a.id: a for a in layout.alerts}
        for alert in self.alerts.values():
            device = self.devices_by_code.get(alert.target) if alert.kind == 'help' else None
            if device is not None:
                device.help_since = alert.raised_at
        self.changed: UiEvent[Event] = UiEvent()
        self.updated: UiEvent[frozenset[Key]] = UiEvent()
        self._subscription: Subscription | None = None
        self._place_queues()
        self._refresh_queues()

    def attach(self, bus: Bus) -> None:
        self._subscription = bus.subscribe(self.apply, name='twin')

    def detach(self, bus: Bus) -> None:
        if self._subscription:
            bus.unsubscribe(self._subscription)
            self._subscription = None

    def apply(self, event: Event) -> frozenset[Key]:
        """Reduce one event into the twin; `changed` and `updated` fire only when something changed."""
        keys: set[Key] = set()
        if isinstance(event, TicketEventBase | WindowChanged):
            if not self.live.apply(event):
                return frozenset()
            if isinstance(event, TicketEventBase):
                keys |= self._apply_window_views(event)
            else:
                keys |= self._apply_window_change(event)
            keys |= self._refresh_queues()
        else:
            keys |= reduce_device(self.devices, self.seats, event)
            keys |= reduce_alert(self.alerts, self.devices_by_code, event)
        if not keys:
            return frozenset()
        changed = frozenset(keys)
        self.changed.emit(event)
        self.updated.emit(changed)
        return changed

    # ---- windows -------------------------------------------------------------------------------

    def _apply_window_change(self, event: WindowChanged) -> set[Key]:
        window = self.windows.get(event.payload.id)
        if window is None:
            return set()
        services = dict(self.live.windows[event.payload.id].services)
        moved = services != window.services
        keys: set[Key] = set()
        if assign(window, state=event.payload.state, services=services):
            keys.add((WINDOW, window.id))
        if moved:
            self._place_queues()
            keys |= {(QUEUE, sid) for sid in self.queues} | {(ZONE, zid) for zid in self.zones}
        return keys

    def _apply_window_views(self, event: TicketEventBase) -> set[Key]:
        ticket = event.payload
        keys: set[Key] = set()
        if isinstance(event, TicketTransferred):
            keys |= self._clear_window(event.from_window_id)
        if isinstance(event, TicketCalled | TicketResumed) and ticket.window_id in self.windows:
            window = self.windows[ticket.window_id]
            if assign(
                window,
                current_number=ticket.number,
                current_since=ticket.called_at,
                current_service_id=ticket.service_id,
            ):
                keys.add((WINDOW, window.id))
        if isinstance(event, TicketCompleted | TicketNoShow | TicketParked):
            keys |= self._clear_window(ticket.window_id)
        return keys

    def _clear_window(self, window_id: int | None) -> set[Key]:
        window = self.windows.get(window_id or 0)
        if window is None:
            return set()
        return (
            {(WINDOW, window.id)}
            if assign(window, current_number='', current_since=None, current_service_id=None)
            else set()
        )

    # ---- queues and zones ----------------------------------------------------------------------

    def _place_queues(self) -> None:
        """Each service's queue belongs to the zone of most of its main windows (its home on the map)."""
        for sid, queue in self.queues.items():
            votes: Counter[int] = Counter()
            for window in self.windows.values():
                tier = window.services.get(sid)
                if tier is not None:
                    votes[window.zone_id] += 10 if tier == 1 else 1
            queue.zone_id = min(votes, key=lambda zid: (-votes[zid], zid)) if votes else None

    def _refresh_queues(self) -> set[Key]:
        keys: set[Key] = set()
        for sid, queue in self.queues.items():
            waiting = self.live.waiting_count(sid)
            estimate = self.live.estimate(sid, waiting)
            if assign(
                queue,
                waiting=waiting,
                eta_minutes=round(estimate.minutes) if estimate else None,
                oldest_queued_at=self.live.oldest(sid),
            ):
                keys.add((QUEUE, sid))
        waiting_by_zone: Counter[int] = Counter()
        hot: set[int] = set()
        for queue in self.queues.values():
            if queue.zone_id is not None:
                waiting_by_zone[queue.zone_id] += queue.waiting
                if queue_is_hot(queue.waiting, queue.threshold):
                    hot.add(queue.zone_id)
        for zid, zone in self.zones.items():
            if assign(zone, waiting=waiting_by_zone.get(zid, 0), over_threshold=zid in hot):
                keys.add((ZONE, zid))
        return keys

    # ---- reads ---------------------------------------------------------------------------------

    def zone_queues(self, zone_id: int) -> list[QueueTwin]:
        return sorted((q for q in self.queues.values() if q.zone_id == zone_id), key=lambda q: (-q.waiting, q.prefix))

    def time_keys(self) -> set[Key]:
        """What looks different as time passes with no event: occupied seats (their wait colour) and busy windows."""
        keys: set[Key] = {(SEAT, s.device_id) for s in self.seats.values() if s.occupied}
        keys |= {(WINDOW, w.id) for w in self.windows.values() if w.current_number}
        return keys

    def longest_wait(self, now: dt.datetime) -> dt.timedelta | None:
        oldest = [q.oldest_queued_at for q in self.queues.values() if q.oldest_queued_at is not None]
        return now - min(oldest) if oldest else None
