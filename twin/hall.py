"""The live in-memory hall: zones, windows, queues, devices, seats and open alerts.

Built from the database once, then kept current by events. Ticket, window and booking events are reduced
by the process's one live queue state (app/services/live_queue.py), which the twin follows: after each
new event the twin shows the windows and queues as that state has them. Device and alert events go
through `apply`. Either way one event comes in and the keys of the objects that really changed come
out (an empty set when nothing did, e.g. a duplicate event or a window set to the state it already
has). Objects are bindable dataclasses, so a label bound to `current_number` is pushed exactly that
field; `updated` carries the changed keys to whoever redraws more than a field (the floor map's
feed), `changed` the event itself.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from nicegui import Event as UiEvent

from app.bus import Bus, Subscription
from app.events import AlertPayload, Event
from app.models.device import DeviceKind
from app.services.live_queue import QUEUE_EVENTS, LiveQueue
from app.services.queue_views import HallOverview
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
from twin.reducers import assign, reduce_alert, reduce_device, reduce_registry

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
        self._shown: frozenset[Key] = frozenset()
        self._place_queues()
        self._refresh_queues()
        live.follow(self._show)

    def attach(self, bus: Bus) -> None:
        """Take device and alert events from the bus; queue events come through the live state, fed from the
        bus here unless a part sharing it (the queue service) already feeds it."""
        self.live.attach(bus)
        self._subscription = bus.subscribe(self._on_bus, name='twin')

    def detach(self, bus: Bus) -> None:
        self.live.unfollow(self._show)
        if self._subscription:
            bus.unsubscribe(self._subscription)
            self._subscription = None

    def _on_bus(self, event: Event) -> None:
        if not isinstance(event, QUEUE_EVENTS):
            self.apply(event)

    def apply(self, event: Event) -> frozenset[Key]:
        """Reduce one event into the twin; `changed` and `updated` fire only when something changed.

        A ticket, window or booking event is handed to the live state, which hands it back to `_show` if it is new."""
        if isinstance(event, QUEUE_EVENTS):
            self._shown = frozenset()
            self.live.apply(event)
            return self._shown
        keys = (
            reduce_registry(self.devices, self.seats, self.devices_by_code, event)
            | reduce_device(self.devices, self.seats, event)
            | reduce_alert(self.alerts, self.devices_by_code, event)
        )
        return self._signal(event, keys)

    def _show(self, event: Event) -> None:
        """The live state has just applied this event: show its windows and queues as they now stand."""
        self._shown = self._signal(event, self._show_windows() | self._refresh_queues())

    def _signal(self, event: Event, keys: set[Key]) -> frozenset[Key]:
        if not keys:
            return frozenset()
        changed = frozenset(keys)
        self.changed.emit(event)
        self.updated.emit(changed)
        return changed

    # ---- windows -------------------------------------------------------------------------------

    def _show_windows(self) -> set[Key]:
        """Each window as its live slot has it: state, services and who is at the desk since when."""
        keys: set[Key] = set()
        moved = False
        for window_id, window in self.windows.items():
            slot = self.live.windows.get(window_id)
            if slot is None:
                continue
            served = slot.services != window.services  # compared before copying: most events move no service
            if served:
                window.services = dict(slot.services)
            desk = assign(
                window,
                state=slot.state,
                current_number=slot.number,
                current_since=slot.since,
                current_service_id=slot.serving,
            )
            if desk or served:
                keys.add((WINDOW, window_id))
            moved = moved or served
        if moved:
            self._place_queues()
            keys |= {(QUEUE, sid) for sid in self.queues} | {(ZONE, zid) for zid in self.zones}
        return keys

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
                remote=self.live.remote_count(sid),
                booked=self.live.booked_count(sid),
                eta_minutes=round(estimate.minutes) if estimate else None,
                oldest_queued_at=self.live.oldest(sid),
            ):
                keys.add((QUEUE, sid))
        return keys | self._refresh_zones()

    def refresh_booked(self) -> set[Key]:
        """Time alone moves slots into the hour ahead and out of it: recount the bookings (the feed's periodic
        tick, one per process) and return the keys of the queues and zones whose count changed."""
        keys: set[Key] = {
            (QUEUE, sid) for sid, queue in self.queues.items() if assign(queue, booked=self.live.booked_count(sid))
        }
        return keys | self._refresh_zones() if keys else keys

    def _refresh_zones(self) -> set[Key]:
        keys: set[Key] = set()
        waiting_by_zone: Counter[int] = Counter()
        remote_by_zone: Counter[int] = Counter()
        booked_by_zone: Counter[int] = Counter()
        hot: set[int] = set()
        for queue in self.queues.values():
            if queue.zone_id is not None:
                waiting_by_zone[queue.zone_id] += queue.waiting
                remote_by_zone[queue.zone_id] += queue.remote
                booked_by_zone[queue.zone_id] += queue.booked
                if queue_is_hot(queue.waiting, queue.threshold):
                    hot.add(queue.zone_id)
        for zid, zone in self.zones.items():
            if assign(
                zone,
                waiting=waiting_by_zone.get(zid, 0),
                remote=remote_by_zone.get(zid, 0),
                booked=booked_by_zone.get(zid, 0),
                over_threshold=zid in hot,
            ):
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
