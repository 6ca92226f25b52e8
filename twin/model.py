"""The twin's objects: bindable dataclasses, so a page bound to a field is pushed exactly that field's changes.

A key names one object for change signalling: ('window', id), ('queue', service id), ('zone', id),
('device', id), ('seat', device id), ('alert', id).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import field

from nicegui import binding

from app.services.kpi import Kpis
from app.services.window_hours import OpeningPeriod

Key = tuple[str, int]

WINDOW = 'window'
QUEUE = 'queue'
ZONE = 'zone'
DEVICE = 'device'
SEAT = 'seat'
ALERT = 'alert'


@binding.bindable_dataclass
class ZoneTwin:
    id: int
    code: str
    name: str
    x: float
    y: float
    width: float
    height: float
    name_en: str = ''
    waiting: int = 0
    remote: int = 0  # of those waiting, remote tickets whose citizen has not arrived yet
    booked: int = 0  # booked for the slot under way or the next hour, not yet checked in (its queues' sum)
    over_threshold: bool = False


@binding.bindable_dataclass
class WindowTwin:
    id: int
    number: int
    name: str
    zone_id: int
    state: str
    services: dict[int, int] = field(default_factory=dict)
    current_number: str = ''
    current_since: dt.datetime | None = None
    current_service_id: int | None = None
    x: float = 0
    y: float = 0
    staff: str = ''
    hours: tuple[OpeningPeriod, ...] = ()  # its own opening periods (none: the hall's hours)
    off_hours: bool = False  # outside those periods now: it cannot call (closed for hours on the map)


@binding.bindable_dataclass
class QueueTwin:
    service_id: int
    code: str
    name: str
    prefix: str
    waiting: int = 0
    remote: int = 0  # of those waiting, remote tickets whose citizen has not arrived yet
    booked: int = 0  # booked for the slot under way or the next hour, not yet checked in
    eta_minutes: int | None = None
    oldest_queued_at: dt.datetime | None = None
    threshold: int = 15
    zone_id: int | None = None


@binding.bindable_dataclass
class DeviceTwin:
    id: int
    code: str
    kind: str
    name: str
    x: float
    y: float
    zone_id: int | None = None
    window_id: int | None = None
    attached_to: str | None = None
    state: str = 'offline'
    state_since: dt.datetime | None = None
    reason: str = ''
    usage: float | None = None
    uses: int = 0
    last_used_at: dt.datetime | None = None
    help_since: dt.datetime | None = None
    printer_status: str = ''


@binding.bindable_dataclass
class SeatTwin:
    device_id: int
    code: str
    occupied: bool = False
    since: dt.datetime | None = None
    comfort_prompted: bool = False


@binding.bindable_dataclass
class KpiTwin(Kpis):
    """Today's figures (app.services.kpi), each field bindable; refreshed by the feed, None is shown as a dash."""
