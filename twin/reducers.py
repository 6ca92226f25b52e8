"""Reducers for the device and alert events: one event in, the keys of the objects that really changed out.

Ticket and window events go through the LiveQueue (twin/hall.py); these cover the rest. A field
set to the value it already has is not a change, so a repeated event signals nothing.
"""

from __future__ import annotations

from typing import Any

from app.events import (
    AlertAcknowledged,
    AlertPayload,
    AlertRaised,
    AlertResolved,
    CardRead,
    ComfortPrompt,
    DeviceHealth,
    DeviceRegistered,
    DeviceRetired,
    DeviceSuggestion,
    Event,
    FaceMatched,
    HelpRequested,
    PrinterStatus,
    QrScanned,
    SeatChanged,
)
from app.models.device import DeviceKind, DeviceState
from twin.model import ALERT, DEVICE, SEAT, DeviceTwin, Key, SeatTwin

USE_EVENTS = (CardRead, QrScanned, FaceMatched)
PRINTER_PROBLEMS = frozenset({'paper_out', 'jam', 'cover_open', 'timeout', 'offline'})
HELP_KIND = 'help'


def assign(obj: Any, **values: Any) -> bool:
    """Set fields; True if any of them changed."""
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def reduce_registry(
    devices: dict[int, DeviceTwin], seats: dict[int, SeatTwin], by_code: dict[str, DeviceTwin], event: Event
) -> set[Key]:
    """A device registered joins the map (offline until it connects); a retired one leaves it."""
    if isinstance(event, DeviceRegistered):
        if event.device.device_id in devices:
            return set()
        place = event.place
        device = DeviceTwin(
            id=event.device.device_id,
            code=event.device.code,
            kind=event.device.kind,
            name=place.name,
            x=place.x,
            y=place.y,
            zone_id=place.zone_id,
            window_id=place.window_id,
            attached_to=place.attached_to,
        )
        devices[device.id] = by_code[device.code] = device
        if device.kind == DeviceKind.SEAT:
            seats[device.id] = SeatTwin(device_id=device.id, code=device.code)
        return {(DEVICE, device.id)}
    if isinstance(event, DeviceRetired):
        gone = devices.pop(event.device.device_id, None)
        if gone is None:
            return set()
        by_code.pop(gone.code, None)
        seats.pop(gone.id, None)
        return {(DEVICE, gone.id)}
    return set()


def reduce_device(devices: dict[int, DeviceTwin], seats: dict[int, SeatTwin], event: Event) -> set[Key]:
    """Apply one device event; the keys of what changed."""
    payload = getattr(event, 'device', None)
    device = devices.get(payload.device_id) if payload is not None else None
    if device is None:
        return set()
    changed: set[Key] = set()
    key = (DEVICE, device.id)
    seat = seats.get(device.id)
    if isinstance(event, DeviceHealth):
        if assign(device, state=event.state, state_since=event.time, reason=event.reason):
            changed.add(key)
        if seat is not None and event.state != DeviceState.ONLINE and seat.occupied:
            # a seat that lost its connection can no longer tell: the driver stops counting it as occupied
            assign(seat, occupied=False, since=None, comfort_prompted=False)
            changed.add((SEAT, device.id))
    elif isinstance(event, SeatChanged) and seat is not None:
        since = event.since if event.occupied else None
        if assign(seat, occupied=event.occupied, since=since):
            if not event.occupied:
                seat.comfort_prompted = False
            changed.add((SEAT, device.id))
    elif isinstance(event, ComfortPrompt) and seat is not None:
        if assign(seat, comfort_prompted=True):
            changed.add((SEAT, device.id))
    elif isinstance(event, DeviceSuggestion):
        if assign(device, usage=event.usage):
            changed.add(key)
    elif isinstance(event, HelpRequested):
        if device.help_since is None:
            device.help_since = event.time
            changed.add(key)
    elif isinstance(event, PrinterStatus):
        status = event.status if event.status in PRINTER_PROBLEMS else ''
        if assign(device, printer_status=status):
            changed.add(key)
        if event.status == 'printed':
            _count_use(device, event)
            changed.add(key)
    elif isinstance(event, USE_EVENTS):
        _count_use(device, event)
        changed.add(key)
    return changed


def _count_use(device: DeviceTwin, event: Event) -> None:
    device.uses += 1
    device.last_used_at = event.time


def reduce_alert(alerts: dict[int, AlertPayload], devices_by_code: dict[str, DeviceTwin], event: Event) -> set[Key]:
    """Open alerts only: raised and acknowledged ones are kept, resolved ones dropped.

    A resolved help request also clears the kiosk's help flag on the map.
    """
    if not isinstance(event, AlertRaised | AlertAcknowledged | AlertResolved):
        return set()
    alert = event.alert
    changed: set[Key] = set()
    if isinstance(event, AlertResolved):
        if alerts.pop(alert.id, None) is not None:
            changed.add((ALERT, alert.id))
        device = devices_by_code.get(alert.target) if alert.kind == HELP_KIND else None
        if device is not None and device.help_since is not None:
            device.help_since = None
            changed.add((DEVICE, device.id))
        return changed
    if alert.resolved_at is None and alerts.get(alert.id) != alert:
        alerts[alert.id] = alert
        changed.add((ALERT, alert.id))
    return changed
