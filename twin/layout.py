"""What the twin reads once from the database besides the queues: the plan, devices, staff and open alerts."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import col, select

from app.clock import utcnow
from app.db import Database
from app.events import AlertPayload, HomeVisitChanged
from app.models.device import Device
from app.models.hall import Hall, ServiceItem, Zone
from app.models.operations import Alert
from app.models.people import Role, StaffUser
from app.models.visits import OPEN_VISITS, HomeVisit
from app.services.alerts import payload
from app.services.home_visits import visit_changed


@dataclass(frozen=True)
class HallLayout:
    name: str = ''
    width: float = 1200
    height: float = 800
    zones: list[Zone] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)
    staff: dict[int, str] = field(default_factory=dict)  # window id -> the name of the staff member posted there
    alerts: list[AlertPayload] = field(default_factory=list)
    visits: list[HomeVisitChanged] = field(default_factory=list)  # open home visits, as their last change says


async def load_layout(db: Database, hall_id: int) -> HallLayout:
    async with db.read_session() as s:
        hall = await s.get(Hall, hall_id)
        zones = list((await s.execute(select(Zone).where(Zone.hall_id == hall_id).order_by(col(Zone.id)))).scalars())
        devices = list(
            (
                await s.execute(
                    select(Device)
                    .where(Device.hall_id == hall_id, col(Device.retired_at).is_(None))
                    .order_by(col(Device.id))
                )
            ).scalars()
        )
        staff_rows = await s.execute(
            select(StaffUser.window_id, StaffUser.display_name)
            .where(col(StaffUser.window_id).is_not(None), StaffUser.active, StaffUser.role == Role.STAFF)
            .order_by(col(StaffUser.id).desc())
        )
        staff = {window_id: name for window_id, name in staff_rows}  # the lowest id wins (rows come newest first)
        alerts = (
            await s.execute(
                select(Alert)
                .where(Alert.hall_id == hall_id, col(Alert.resolved_at).is_(None))
                .order_by(col(Alert.raised_at))
            )
        ).scalars()
        visits = await s.execute(
            select(HomeVisit, ServiceItem.code)
            .join(ServiceItem, col(ServiceItem.id) == HomeVisit.service_id)
            .where(HomeVisit.hall_id == hall_id, col(HomeVisit.status).in_(OPEN_VISITS))
        )
        return HallLayout(
            name=hall.name if hall else '',
            width=hall.width if hall else 1200,
            height=hall.height if hall else 800,
            zones=zones,
            devices=devices,
            staff=staff,
            alerts=[payload(a) for a in alerts],
            visits=[visit_changed(visit, code, now=utcnow()) for visit, code in visits],
        )
