"""Device health: availability, last seen, uptime, faults, usage rate and MTTR.

Usage rate = the fraction of the last hour a device was busy. A kiosk is busy for its sessions,
a seat while occupied, a call display while announcing; devices with instantaneous uses (a card
read, a scan, a face search, a printed ticket) count a nominal busy time per use, roughly what the
citizen spends at it. MTTR (mean time to repair) is the mean time from a reported fault to the
device being online again, read from the persisted DeviceEvent history.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlmodel import col, select

from app.db import Database
from app.models.device import DeviceKind, DeviceState
from app.models.operations import DeviceEvent
from app.services.repair_times import HEALTH_EVENT, repairs

USAGE_WINDOW = dt.timedelta(hours=1)
NOMINAL_BUSY = {
    DeviceKind.ID_READER: dt.timedelta(seconds=10),
    DeviceKind.QR_SCANNER: dt.timedelta(seconds=10),
    DeviceKind.CAMERA: dt.timedelta(seconds=10),
    DeviceKind.PRINTER: dt.timedelta(seconds=8),
}


@dataclass
class UsageMeter:
    """Busy intervals over a rolling window; an interval still open (a session, a seat) counts up to now."""

    window: dt.timedelta = USAGE_WINDOW
    intervals: deque[tuple[dt.datetime, dt.datetime]] = field(default_factory=deque)
    open_since: dt.datetime | None = None

    def add(self, start: dt.datetime, end: dt.datetime) -> None:
        self.intervals.append((start, end))
        self._forget(end)

    def begin(self, now: dt.datetime) -> None:
        if self.open_since is None:
            self.open_since = now

    def end(self, now: dt.datetime) -> None:
        if self.open_since is not None:
            self.add(self.open_since, now)
            self.open_since = None

    def rate(self, now: dt.datetime) -> float:
        start = now - self.window
        self._forget(now)
        spans = list(self.intervals)
        if self.open_since is not None:
            spans.append((self.open_since, now))
        busy = sum(((min(e, now) - max(s, start)).total_seconds() for s, e in spans if e > start), 0.0)
        return min(1.0, max(0.0, busy / self.window.total_seconds()))

    def _forget(self, now: dt.datetime) -> None:
        while self.intervals and self.intervals[0][1] <= now - self.window:
            self.intervals.popleft()


@dataclass
class HealthRecord:
    state: DeviceState = DeviceState.OFFLINE
    state_since: dt.datetime | None = None
    last_seen: dt.datetime | None = None
    online_since: dt.datetime | None = None
    faults: int = 0
    last_fault: str = ''
    last_fault_at: dt.datetime | None = None
    uses: Counter[str] = field(default_factory=Counter)
    usage: UsageMeter = field(default_factory=UsageMeter)

    def uptime(self, now: dt.datetime) -> dt.timedelta:
        """How long the device has been connected without interruption (zero while offline)."""
        return now - self.online_since if self.online_since else dt.timedelta(0)


def mean_time_to_repair(transitions: Iterable[tuple[dt.datetime, str]]) -> dt.timedelta | None:
    """Mean fault -> online time over time-ordered (moment, state) transitions; None without a repair."""
    found = repairs(transitions)
    return sum(found, dt.timedelta(0)) / len(found) if found else None


async def mttr_by_device(db: Database, hall_id: int, *, since: dt.datetime) -> dict[int, dt.timedelta]:
    """MTTR per device id from the health rows since a moment (devices without a repair are left out)."""
    statement = (
        select(DeviceEvent.device_id, DeviceEvent.at, DeviceEvent.detail)
        .where(DeviceEvent.hall_id == hall_id, DeviceEvent.kind == HEALTH_EVENT, col(DeviceEvent.at) >= since)
        .order_by(col(DeviceEvent.device_id), col(DeviceEvent.at), col(DeviceEvent.id))
    )
    async with db.read_session() as s:
        rows = (await s.execute(statement)).all()
    by_device: dict[int, list[tuple[dt.datetime, str]]] = {}
    for device_id, at, detail in rows:
        by_device.setdefault(device_id, []).append((at, str(detail.get('state', ''))))
    result = {}
    for device_id, transitions in by_device.items():
        mttr = mean_time_to_repair(transitions)
        if mttr is not None:
            result[device_id] = mttr
    return result
