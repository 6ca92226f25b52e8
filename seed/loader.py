"""Upsert a validated seed by natural keys, in one transaction, touching only what differs.

Running it again with the same YAML writes nothing, so it is safe at every deployment. Operational
values stay with the people who run the hall: a window's state is seeded only when the window is
created, and an existing account keeps its password, lock-out counters and `active` flag.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, select

from app.clock import utcnow
from app.db import Database
from app.models import Department, Device, Hall, Role, ServiceItem, StaffUser, Window, WindowService, Zone
from app.models.config_version import ConfigVersion
from app.security.credentials import credential_hash, device_credential
from app.security.passwords import generate_password, hash_password
from app.services.uow import unit_of_work
from seed.schema import DepartmentSpec, DeviceSpec, HallSpec, SeedError, ServiceSpec, StaffSpec, WindowSpec, read_seed

_Row = TypeVar('_Row', bound=SQLModel)
_Key = TypeVar('_Key', bound=Hashable)


@dataclass
class SeedReport:
    """Rows created, updated and removed per table; `new_passwords` is the only copy of new passwords."""

    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    removed: Counter[str] = field(default_factory=Counter)
    new_passwords: dict[str, str] = field(default_factory=dict)
    new_roles: dict[str, Role] = field(default_factory=dict)

    @property
    def changes(self) -> int:
        return self.created.total() + self.updated.total() + self.removed.total()


async def load_seed(
    db: Database, *, seed_name: str, secret: bytes, seed_root: Path | None = None, empty: bool = False
) -> SeedReport:
    """Validate the whole seed before opening the transaction, so a bad seed writes nothing.

    `empty` loads the hall without its people: staff.yaml is not read (the first admin comes from `app.users`).
    """
    seed = read_seed(seed_name, seed_root=seed_root, empty=empty)
    report = SeedReport()
    async with unit_of_work(db) as uow:
        session = uow.session
        upsert = _Upsert(session, report)
        hall = await _hall(upsert, seed.hall)
        zones = await _zones(upsert, hall, seed.hall)
        departments = await _departments(upsert, seed.departments)
        services = await _services(upsert, seed.services, departments)
        windows = await _windows(upsert, hall, seed.windows, zones)
        await _window_services(upsert, hall, seed.windows, windows, services)
        await _staff(upsert, hall, seed.staff, windows, departments)
        await _devices(upsert, hall, seed.devices, zones, windows, secret)
    return report


class _Upsert:
    """Create-or-update against rows already loaded by natural key, counting into the report."""

    def __init__(self, session: AsyncSession, report: SeedReport) -> None:
        self.session = session
        self.report = report

    async def rows(self, model: type[_Row], *where: Any) -> list[_Row]:
        return list((await self.session.execute(select(model).where(*where))).scalars())

    def put(
        self,
        model: type[_Row],
        existing: Mapping[_Key, _Row],
        key: _Key,
        values: dict[str, Any],
        on_create: dict[str, Any] | None = None,
    ) -> _Row:
        table = str(model.__tablename__)
        row = existing.get(key)
        if row is None:
            row = model(**values, **(on_create or {}))
            self.session.add(row)
            self.report.created[table] += 1
        elif _assign(row, values):
            self.report.updated[table] += 1
        return row

    async def remove(self, row: SQLModel) -> None:
        await self.session.delete(row)
        self.report.removed[str(row.__tablename__)] += 1

    async def flush(self) -> None:
        """New rows need their ids before the rows that point at them are built."""
        await self.session.flush()


def _assign(row: SQLModel, values: dict[str, Any]) -> bool:
    """Set only the fields that differ, so an unchanged row is never marked dirty."""
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


async def _hall(upsert: _Upsert, spec: HallSpec) -> Hall:
    existing = {hall.code: hall for hall in await upsert.rows(Hall, Hall.code == spec.code)}
    values = spec.model_dump(include={'code', 'name', 'name_en', 'width', 'height', 'prompts', 'sms_templates'})
    hall = upsert.put(Hall, existing, spec.code, values)
    await upsert.flush()
    return hall


async def _zones(upsert: _Upsert, hall: Hall, spec: HallSpec) -> dict[str, Zone]:
    existing = {zone.code: zone for zone in await upsert.rows(Zone, Zone.hall_id == hall.id)}
    zones = {
        zone.code: upsert.put(Zone, existing, zone.code, {'hall_id': hall.id, **zone.model_dump()})
        for zone in spec.zones
    }
    await upsert.flush()
    return zones


async def _departments(upsert: _Upsert, specs: list[DepartmentSpec]) -> dict[str, Department]:
    existing = {department.code: department for department in await upsert.rows(Department)}
    departments = {spec.code: upsert.put(Department, existing, spec.code, spec.model_dump()) for spec in specs}
    await upsert.flush()
    return departments


async def _services(
    upsert: _Upsert, specs: list[ServiceSpec], departments: dict[str, Department]
) -> dict[str, ServiceItem]:
    existing = {service.code: service for service in await upsert.rows(ServiceItem)}
    edited = set(
        (await upsert.session.execute(select(ConfigVersion.subject).where(ConfigVersion.kind == 'workflow'))).scalars()
    )
    services: dict[str, ServiceItem] = {}
    for spec in specs:
        values = spec.row_values(departments[spec.department].id)
        # a workflow an admin saved in the workflow editor is the hall's now: a re-run (`make run`) keeps it
        on_create = {'workflow': values.pop('workflow')} if spec.code in edited else None
        services[spec.code] = upsert.put(ServiceItem, existing, spec.code, values, on_create)
    await upsert.flush()
    return services


async def _windows(upsert: _Upsert, hall: Hall, specs: list[WindowSpec], zones: dict[str, Zone]) -> dict[int, Window]:
    existing = {window.number: window for window in await upsert.rows(Window, Window.hall_id == hall.id)}
    windows: dict[int, Window] = {}
    for spec in specs:
        values = {
            'hall_id': hall.id,
            'zone_id': zones[spec.zone].id,
            'number': spec.number,
            'name': spec.name,
            'x': spec.x,
            'y': spec.y,
            'hours': [period.model_dump() for period in spec.hours],
        }
        on_create = {'state': spec.state}
        windows[spec.number] = upsert.put(Window, existing, spec.number, values, on_create)
    await upsert.flush()
    return windows


async def _window_services(
    upsert: _Upsert,
    hall: Hall,
    specs: list[WindowSpec],
    windows: dict[int, Window],
    services: dict[str, ServiceItem],
) -> None:
    """Pairs of this hall's windows that the YAML no longer lists are removed."""
    hall_windows = select(Window.id).where(Window.hall_id == hall.id)
    existing = {
        (link.window_id, link.service_id): link
        for link in await upsert.rows(WindowService, col(WindowService.window_id).in_(hall_windows))
    }
    wanted = set()
    for spec in specs:
        for served in spec.services:
            key = (windows[spec.number].id, services[served.code].id)
            wanted.add(key)
            values = {'window_id': key[0], 'service_id': key[1], 'priority': served.priority}
            upsert.put(WindowService, existing, key, values)
    for key, link in existing.items():
        if key not in wanted:
            await upsert.remove(link)
    await upsert.flush()


async def _staff(
    upsert: _Upsert,
    hall: Hall,
    specs: list[StaffSpec],
    windows: dict[int, Window],
    departments: dict[str, Department],
) -> None:
    """A new account gets a random password, reported once; an existing one keeps its own.

    Accounts belong to this hall (city managers to none); a username another hall holds is refused, never moved."""
    existing = {user.username: user for user in await upsert.rows(StaffUser)}
    for spec in specs:
        hall_id = None if spec.role == Role.CITY else hall.id
        holder = existing.get(spec.username)
        if holder is not None and holder.hall_id != hall_id:
            raise SeedError(f'staff.yaml: username {spec.username!r} already belongs to another hall or role')
        values = {
            'hall_id': hall_id,
            'username': spec.username,
            'display_name': spec.display_name,
            'role': spec.role,
            'window_id': windows[spec.window].id if spec.window is not None else None,
            'department_id': departments[spec.department].id if spec.department is not None else None,
        }
        on_create = None
        if spec.username not in existing:
            password = generate_password()
            upsert.report.new_passwords[spec.username] = password
            upsert.report.new_roles[spec.username] = spec.role
            on_create = {'password_hash': hash_password(password), 'created_at': utcnow()}
        upsert.put(StaffUser, existing, spec.username, values, on_create=on_create)
    await upsert.flush()


async def _devices(
    upsert: _Upsert,
    hall: Hall,
    specs: list[DeviceSpec],
    zones: dict[str, Zone],
    windows: dict[int, Window],
    secret: bytes,
) -> None:
    """Credentials follow SECRET_KEY: a new key re-derives every device's hash, except where /admin issued a
    random credential (registered or rotated there): that one stays, or the device would be locked out."""
    existing = {device.code: device for device in await upsert.rows(Device, Device.hall_id == hall.id)}
    for spec in specs:
        issued = spec.code in existing and existing[spec.code].credential_issued_at is not None
        window_id = windows[spec.window].id if spec.window is not None else None
        values = {'hall_id': hall.id, 'code': spec.code, **spec.row_values(zones[spec.zone].id, window_id)}
        if not issued:
            values['credential_hash'] = credential_hash(device_credential(secret, spec.code))
        upsert.put(Device, existing, spec.code, values)
    await upsert.flush()
