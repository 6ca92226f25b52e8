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
from typing import Any
from zoneinfo import ZoneInfo

from nicegui import Event as UiEvent

from app.bus import Bus, Subscription
from app.events import AlertPayload, Event, TicketEventBase, TicketHandedOff, TicketTransferred
from app.models.device import Device, DeviceKind
from app.models.hall import Zone
from app.services.live_queue import QUEUE_EVENTS, LiveQueue
from app.services.queue_views import HallOverview, ServiceQueue, WindowView
from app.services.thresholds import queue_is_hot
from app.services.window_hours import is_open_at, periods_of
from twin.layout import HallLayout
from twin.model import (
    DEVICE,
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
from twin.visits import VisitTwin, reduce_visit, visit_of

__all__ = ['HallTwin', 'QueueTwin', 'WindowTwin']


class HallTwin:
    def __init__(self, overview: HallOverview, live: LiveQueue, layout: HallLayout | None = None) -> None:
        layout = layout or HallLayout()
        self.live = live
        self.name, self.width, self.height = layout.name, layout.width, layout.height
        self.zones: dict[int, ZoneTwin] = {z.id or 0: _zone(z) for z in layout.zones}
        self.windows: dict[int, WindowTwin] = {w.window.id or 0: _window(w, layout.staff) for w in overview.windows}
        self.queues: dict[int, QueueTwin] = {q.service.id or 0: _queue(q) for q in overview.queues}
        self.devices: dict[int, DeviceTwin] = {d.id or 0: _device(d) for d in layout.devices}
        self.devices_by_code = {d.code: d for d in self.devices.values()}
        self.seats: dict[int, SeatTwin] = {
            d.id: SeatTwin(device_id=d.id, code=d.code) for d in self.devices.values() if d.kind == DeviceKind.SEAT
        }
        self.alerts: dict[int, AlertPayload] = {a.id: a for a in layout.alerts}
        self.visits: dict[int, VisitTwin] = {v.visit_id: visit_of(v) for v in layout.visits}  # 上门服务 queue
        for alert in self.alerts.values():
            device = self.devices_by_code.get(alert.target) if alert.kind == 'help' else None
            if device is not None:
                device.help_since = alert.raised_at
        self.changed: UiEvent[Event] = UiEvent()
        self.updated: UiEvent[frozenset[Key]] = UiEvent()
        self.configured: UiEvent[Event] = UiEvent()  # the hall's configuration changed: pages holding a copy re-read
        self._subscription: Subscription | None = None
        self._shown: frozenset[Key] = frozenset()
        self._slots_shown = live.windows  # the live state's window slots the twin's windows were last read from
        self._place_queues()
        self._refresh_queues()
        live.follow(self._show)
        live.on_refresh(self._reestimate)

    def attach(self, bus: Bus) -> None:
        """Take device and alert events from the bus; queue events come through the live state, fed from the
        bus here unless a part sharing it (the queue service) already feeds it."""
        self.live.attach(bus)
        self._subscription = bus.subscribe(self._on_bus, name='twin')

    def detach(self, bus: Bus) -> None:
        self.live.unfollow(self._show)
        self.live.off_refresh(self._reestimate)
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
            | reduce_visit(self.visits, event)
        )
        return self._signal(event, keys)

    def reconfigure(self, event: Event, overview: HallOverview, layout: HallLayout) -> frozenset[Key]:
        """The hall's configuration changed (`HallConfigChanged`): take the zones, windows, devices and queues it
        added and the new names, places and rectangles of known ones; their live figures stay as they are."""
        keys: set[Key] = set()
        self.name, self.width, self.height = layout.name, layout.width, layout.height
        for zone in layout.zones:
            keys |= _merge(
                self.zones, ZONE, zone.id or 0, _zone(zone), ('code', 'name', 'name_en', 'x', 'y', 'width', 'height')
            )
        for view in overview.windows:
            keys |= _merge(
                self.windows,
                WINDOW,
                view.window.id or 0,
                _window(view, layout.staff),
                ('number', 'name', 'zone_id', 'x', 'y', 'hours'),
            )
        for device in layout.devices:
            fields = ('code', 'kind', 'name', 'x', 'y', 'zone_id', 'window_id', 'attached_to')
            keys |= _merge(self.devices, DEVICE, device.id or 0, _device(device), fields)
        self.devices_by_code = {d.code: d for d in self.devices.values()}
        for device in self.devices.values():
            if device.kind == DeviceKind.SEAT and device.id not in self.seats:
                self.seats[device.id] = SeatTwin(device_id=device.id, code=device.code)
        for queue in overview.queues:
            keys |= _merge(
                self.queues, QUEUE, queue.service.id or 0, _queue(queue), ('code', 'name', 'prefix', 'threshold')
            )
        self._place_queues()
        changed = self._signal(event, keys | self._show_windows() | self._refresh_queues())
        self.configured.emit(event)
        return changed

    def _show(self, event: Event) -> None:
        """The live state has just applied this event: show its windows and queues as they now stand. When the
        live state coalesces its look-ahead, only the queues the event touched are redrawn here (the rest follow
        with the next recompute, `_reestimate`), so an event costs the same however many queues there are. A ticket
        event redraws only the windows it names (a take: none)."""
        touched = _touched_services(event) if self.live.coalesce else None
        windows = _touched_windows(event)
        if self.live.windows is not self._slots_shown:  # the state was re-read (`resync`): show every window again
            self._slots_shown, windows = self.live.windows, None
        self._shown = self._signal(event, self._show_windows(windows) | self._refresh_queues(touched))

    def _reestimate(self) -> None:
        """The live state recomputed its look-ahead: every queue's estimate may have moved (no event to name)."""
        keys = self._refresh_queues()
        if keys:
            self.updated.emit(frozenset(keys))

    def _signal(self, event: Event, keys: set[Key]) -> frozenset[Key]:
        if not keys:
            return frozenset()
        changed = frozenset(keys)
        self.changed.emit(event)
        self.updated.emit(changed)
        return changed

    # ---- windows -------------------------------------------------------------------------------

    def _show_windows(self, windows: set[int] | None = None) -> set[Key]:
        """These windows (all when None) as their live slots have them: state, services and who is at the desk
        since when."""
        keys: set[Key] = set()
        moved = False
        for window_id, window in self.windows.items():
            slot = self.live.windows.get(window_id)
            if slot is None or (windows is not None and window_id not in windows):
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

    def _refresh_queues(self, services: set[int] | None = None) -> set[Key]:
        """Copy the live figures of these queues (all when None) onto the twin; the keys of those that changed."""
        keys: set[Key] = set()
        for sid, queue in self.queues.items():
            if services is not None and sid not in services:
                continue
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
        if services is not None:  # only the zones of queues that changed can change
            return keys | self._refresh_zones({self.queues[sid].zone_id for _, sid in keys}) if keys else keys
        return keys | self._refresh_zones()

    def refresh_booked(self) -> set[Key]:
        """Time alone moves slots into the hour ahead and out of it: recount the bookings (the feed's periodic
        tick, one per process) and return the keys of the queues and zones whose count changed."""
        keys: set[Key] = {
            (QUEUE, sid) for sid, queue in self.queues.items() if assign(queue, booked=self.live.booked_count(sid))
        }
        return keys | self._refresh_zones() if keys else keys

    def _refresh_zones(self, zones: set[int | None] | None = None) -> set[Key]:
        """Sum the queues of these zones (all when None) onto them; the keys of the zones that changed."""
        keys: set[Key] = set()
        waiting_by_zone: Counter[int] = Counter()
        remote_by_zone: Counter[int] = Counter()
        booked_by_zone: Counter[int] = Counter()
        hot: set[int] = set()
        for queue in self.queues.values():
            if queue.zone_id is not None and (zones is None or queue.zone_id in zones):
                waiting_by_zone[queue.zone_id] += queue.waiting
                remote_by_zone[queue.zone_id] += queue.remote
                booked_by_zone[queue.zone_id] += queue.booked
                if queue_is_hot(queue.waiting, queue.threshold):
                    hot.add(queue.zone_id)
        for zid, zone in self.zones.items():
            if zones is not None and zid not in zones:
                continue
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

    def refresh_hours(self, now: dt.datetime, tz: ZoneInfo) -> set[Key]:
        """Time alone takes a window in and out of its own opening periods: the keys of those that just did."""
        return {
            (WINDOW, wid)
            for wid, window in self.windows.items()
            if assign(window, off_hours=not is_open_at(window.hours, now, tz))
        }

    def longest_wait(self, now: dt.datetime) -> dt.timedelta | None:
        oldest = [q.oldest_queued_at for q in self.queues.values() if q.oldest_queued_at is not None]
        return now - min(oldest) if oldest else None


# ---- building twin objects from what the database says ------------------------------------------------------


def _zone(zone: Zone) -> ZoneTwin:
    return ZoneTwin(
        id=zone.id or 0,
        code=zone.code,
        name=zone.name,
        name_en=zone.name_en,
        x=zone.x,
        y=zone.y,
        width=zone.width,
        height=zone.height,
    )


def _window(view: WindowView, staff: dict[int, str]) -> WindowTwin:
    window, current = view.window, view.current
    return WindowTwin(
        id=window.id or 0,
        number=window.number,
        name=window.name,
        zone_id=window.zone_id,
        state=window.state,
        services=dict(view.service_ids),
        current_number=current.number if current else '',
        current_since=current.called_at if current else None,
        current_service_id=current.service_id if current else None,
        x=window.x,
        y=window.y,
        staff=staff.get(window.id or 0, ''),
        hours=tuple(periods_of(window.hours)),
    )


def _device(device: Device) -> DeviceTwin:
    return DeviceTwin(
        id=device.id or 0,
        code=device.code,
        kind=device.kind,
        name=device.name,
        x=device.x,
        y=device.y,
        zone_id=device.zone_id,
        window_id=device.window_id,
        attached_to=device.attached_to,
        state=device.state,
        state_since=device.last_seen_at,
    )


def _queue(queue: ServiceQueue) -> QueueTwin:
    service = queue.service
    return QueueTwin(
        service_id=service.id or 0,
        code=service.code,
        name=service.name,
        prefix=service.ticket_prefix,
        threshold=service.queue_alert_threshold,
    )


def _touched_windows(event: Event) -> set[int] | None:
    """The windows a ticket event changes: the one it was called to, served or left at, and the one it was moved
    from (none for a new ticket); None (all of them) for any other event."""
    if isinstance(event, TicketEventBase):
        moved_from = event.from_window_id if isinstance(event, TicketTransferred | TicketHandedOff) else None
        return {w for w in (event.payload.window_id, moved_from) if w is not None}
    return None


def _touched_services(event: Event) -> set[int] | None:
    """The queues a ticket event changes; None (all of them) for a window's new state or services, or a booking
    (a moved booking can leave one queue for another; bookings are rare next to tickets)."""
    if isinstance(event, TicketTransferred):
        return {event.payload.service_id, event.from_service_id}
    if isinstance(event, TicketEventBase):
        return {event.payload.service_id}
    return None


def _merge(known: dict[int, Any], kind: str, key: int, fresh: Any, fields: tuple[str, ...]) -> set[Key]:
    """Add `fresh` if `key` is new, else copy its configured `fields` onto the known object; the changed key."""
    current = known.get(key)
    if current is None:
        known[key] = fresh
        return {(kind, key)}
    changed = assign(current, **{name: getattr(fresh, name) for name in fields})
    return {(kind, key)} if changed else set()
