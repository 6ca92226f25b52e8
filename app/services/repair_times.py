"""Device MTTR (mean time to repair) per device kind against the hall's 30-minute target.

A repair is a device's `fault` followed by its next `online` in the stored health history (DeviceEvent
rows of kind `health`, written once per change by devices/driver.py); disconnections (`offline`) are
not faults. The managers' page shows it for today and for this month.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import col, select

from app.models.device import Device, DeviceState
from app.models.operations import DeviceEvent
from app.models.people import Role
from app.services.principal import Principal
from app.services.uow import Service

MTTR_TARGET = dt.timedelta(minutes=30)  # the seed's 运维目标: MTTR ≤ 30 minutes
HEALTH_EVENT = 'health'


def repairs(transitions: Iterable[tuple[dt.datetime, str]]) -> list[dt.timedelta]:
    """Each fault -> online time over one device's time-ordered (moment, state) transitions."""
    found: list[dt.timedelta] = []
    fault_at: dt.datetime | None = None
    for at, state in transitions:
        if state == DeviceState.FAULT and fault_at is None:
            fault_at = at
        elif state == DeviceState.ONLINE and fault_at is not None:
            found.append(at - fault_at)
            fault_at = None
    return found


@dataclass(frozen=True)
class KindRepairs:
    """The repairs of one device kind in a period: how many, their mean, the slowest, and the open faults."""

    kind: str
    repairs: int
    mean: dt.timedelta | None
    longest: dt.timedelta | None
    open_faults: int  # devices of the kind still in fault at the period's end

    @property
    def within_target(self) -> bool | None:
        return None if self.mean is None else self.mean <= MTTR_TARGET


class RepairTimes(Service):
    """MTTR per device kind for managers (a device's fault history is operations data, not public)."""

    async def by_kind(self, caller: Principal, *, since: dt.datetime, until: dt.datetime) -> list[KindRepairs]:
        caller.require(Role.MANAGER)
        statement = (
            select(DeviceEvent.device_id, Device.kind, DeviceEvent.at, DeviceEvent.detail)
            .join(Device, Device.id == DeviceEvent.device_id)
            .where(
                DeviceEvent.hall_id == self.hall_id,
                DeviceEvent.kind == HEALTH_EVENT,
                col(DeviceEvent.at) >= since,
                col(DeviceEvent.at) < until,
            )
            .order_by(col(DeviceEvent.device_id), col(DeviceEvent.at), col(DeviceEvent.id))
        )
        async with self.db.read_session() as s:
            rows = (await s.execute(statement)).all()
        history: dict[int, list[tuple[dt.datetime, str]]] = {}
        kinds: dict[int, str] = {}
        for device_id, kind, at, detail in rows:
            history.setdefault(device_id, []).append((at, str(detail.get('state', ''))))
            kinds[device_id] = str(kind)
        times: dict[str, list[dt.timedelta]] = {}
        open_faults: dict[str, int] = {}
        for device_id, transitions in history.items():
            kind = kinds[device_id]
            times.setdefault(kind, []).extend(repairs(transitions))
            if transitions[-1][1] == DeviceState.FAULT:
                open_faults[kind] = open_faults.get(kind, 0) + 1
        return [
            KindRepairs(
                kind,
                len(times[kind]),
                sum(times[kind], dt.timedelta(0)) / len(times[kind]) if times[kind] else None,
                max(times[kind]) if times[kind] else None,
                open_faults.get(kind, 0),
            )
            for kind in sorted(times)
        ]
