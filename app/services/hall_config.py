"""The hall's configuration, edited live by admins: services, windows and zones, and the whole hall as a zip.

Every change reads the hall as a description (the seed's specs, `app/services/hall_spec.py`), swaps in the
edited entry, checks the WHOLE description with the seed's own checks, and only then writes it, saving the
entry as a version (`save_version`: audited, `HallConfigChanged` after commit) in the same transaction. So a
change that would break the hall (a service no window serves, a duplicate code, a zone off the floor, a
window outside its zone) is refused with the seed's words and changes nothing, and what passes here is
exactly what the seed loader would accept. The twin, kiosks and guide re-read on `HallConfigChanged`.

Export writes the seed folder's files (no staff, no credentials, no personal data) into a zip; import reads
such a zip, refusing oversize or odd archives before parsing, and applies it as one 'import' version.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import yaml
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.models import Department, Device, Hall, ServiceItem, Window, WindowService, Zone
from app.models.operations import WindowEvent
from app.models.people import Role
from app.security.credentials import credential_hash, device_credential
from app.services.config_versions import save_version
from app.services.errors import Conflict, Invalid, NotFound
from app.services.hall_spec import (
    DepartmentSpec,
    DeviceSpec,
    HallSpec,
    Seed,
    SeedError,
    ServiceSpec,
    WindowServiceSpec,
    WindowSpec,
    ZoneSpec,
    check,
    parse,
    validate,
)
from app.services.principal import Principal
from app.services.uow import Service, UnitOfWork

FILES: dict[str, Any] = {  # the seed folder's configuration files and their shapes (staff.yaml is people)
    'hall.yaml': HallSpec,
    'departments.yaml': list[DepartmentSpec],
    'services.yaml': list[ServiceSpec],
    'windows.yaml': list[WindowSpec],
    'devices.yaml': list[DeviceSpec],
}
MAX_ZIP_BYTES = 256 * 1024  # the default hall's zip is ~10 KiB
MAX_FILE_BYTES = 1024 * 1024  # one file unpacked; a bigger one is a zip bomb or not a hall
MAX_UNPACKED_BYTES = 2 * 1024 * 1024
_FIELD = {  # file -> its field of `Seed`
    'hall.yaml': 'hall',
    'departments.yaml': 'departments',
    'services.yaml': 'services',
    'windows.yaml': 'windows',
    'devices.yaml': 'devices',
}
_FORM_FIELDS = {'service': 'services.yaml', 'window': 'windows.yaml', 'zone': 'hall.yaml'}


HALL_COLUMNS = {'code', 'name', 'name_en', 'width', 'height', 'prompts', 'sms_templates'}  # hall.yaml's own columns


class HallConfigService(Service):
    """Admins only: read the hall as a description, change one entry or all of it, export and import."""

    async def describe(self, caller: Principal) -> Seed:
        """The live hall's configuration in the seed's shape (what export writes, what edits start from)."""
        caller.require(Role.ADMIN)
        async with self.db.read_session() as s:
            return await self._describe(s)

    # ---- edits ---------------------------------------------------------------------------------------

    async def save_service(
        self, caller: Principal, data: Mapping[str, Any], *, new: bool, served_by: Mapping[int, int] | None = None
    ) -> ServiceSpec:
        """Add a service (`served_by`: window number -> tier, so some window serves it) or change one.

        The workflow is the workflow editor's: an edit keeps the service's current one."""
        caller.require(Role.ADMIN)
        spec: ServiceSpec = _form(ServiceSpec, 'service', data)
        async with self._transaction() as uow:
            hall = await self._locked(uow.session)
            services = {service.code: service for service in hall.services}
            current = services.get(spec.code)
            _require(current, new=new, code=spec.code)
            if current is not None:
                spec = spec.model_copy(update={'workflow': current.workflow})
            services[spec.code] = spec
            windows = hall.windows
            if served_by:
                windows = [_serve(window, spec.code, served_by.get(window.number)) for window in windows]
                unknown = set(served_by) - {window.number for window in windows}
                if unknown:
                    raise NotFound('config_unknown', what=f'window {min(unknown)}')
            await self._write(uow.session, caller, replace(hall, services=list(services.values()), windows=windows))
            await self._version(uow, caller, 'service', spec.code, spec.model_dump(mode='json', exclude_none=True))
        return spec

    async def save_window(self, caller: Principal, data: Mapping[str, Any], *, new: bool) -> WindowSpec:
        """Add a window or change one (name, zone, place, services with tiers). Its state stays the desk's:
        a new window starts as given, an existing one keeps whether it is open."""
        caller.require(Role.ADMIN)
        spec: WindowSpec = _form(WindowSpec, 'window', data)
        async with self._transaction() as uow:
            hall = await self._locked(uow.session)
            windows = {window.number: window for window in hall.windows}
            current = windows.get(spec.number)
            _require(current, new=new, code=str(spec.number))
            if current is not None:
                spec = spec.model_copy(update={'state': current.state})
            windows[spec.number] = spec
            await self._write(
                uow.session, caller, replace(hall, windows=sorted(windows.values(), key=lambda w: w.number))
            )
            data_saved = spec.model_dump(mode='json', exclude_none=True)
            await self._version(uow, caller, 'window', str(spec.number), data_saved)
        return spec

    async def save_zone(self, caller: Principal, data: Mapping[str, Any], *, new: bool) -> ZoneSpec:
        """Add a zone or change one (names, rectangle on the floor)."""
        caller.require(Role.ADMIN)
        spec: ZoneSpec = _form(ZoneSpec, 'zone', data)
        async with self._transaction() as uow:
            hall = await self._locked(uow.session)
            zones = {zone.code: zone for zone in hall.hall.zones}
            _require(zones.get(spec.code), new=new, code=spec.code)
            zones[spec.code] = spec
            described = replace(hall, hall=hall.hall.model_copy(update={'zones': list(zones.values())}))
            await self._write(uow.session, caller, described)
            await self._version(uow, caller, 'zone', spec.code, spec.model_dump(mode='json'))
        return spec

    # ---- export and import ---------------------------------------------------------------------------

    async def export_zip(self, caller: Principal) -> bytes:
        """The hall as the seed folder's files in a zip: another hall imports it (or `python -m seed` loads it)."""
        hall = await self.describe(caller)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED) as archive:
            for file, value in _documents(hall).items():
                archive.writestr(file, yaml.safe_dump(value, allow_unicode=True, sort_keys=False))
        return buffer.getvalue()

    async def import_zip(self, caller: Principal, content: bytes) -> Seed:
        """Read, check and apply a whole hall zip as one 'import' version, or refuse it and change nothing.

        Services, windows, zones, departments and devices are created or updated by their codes; a window
        listed serves exactly what the zip says. What the zip does not name is kept."""
        caller.require(Role.ADMIN)
        hall = read_zip(content)
        async with self._transaction() as uow:
            await self._lock(uow.session)
            await self._write(uow.session, caller, hall)
            await self._version(uow, caller, 'import', '', _documents(hall))
        return hall

    # ---- reading and writing the description ---------------------------------------------------------

    async def _locked(self, s: AsyncSession) -> Seed:
        """The hall as it is, read after locking it (`_lock`)."""
        await self._lock(s)
        return await self._describe(s)

    async def _lock(self, s: AsyncSession) -> None:
        """Lock the hall's row: two admins' changes run one after the other, so the second starts from the
        first's result and never writes an older copy of it back."""
        await s.execute(select(Hall.id).where(Hall.id == self.hall_id).with_for_update())

    async def _describe(self, s: AsyncSession) -> Seed:
        hall = await s.get(Hall, self.hall_id)
        if hall is None:
            raise NotFound('config_unknown', what='hall')
        zones = list(
            (await s.execute(select(Zone).where(Zone.hall_id == self.hall_id).order_by(col(Zone.id)))).scalars()
        )
        zone_codes = {zone.id: zone.code for zone in zones}
        departments = list((await s.execute(select(Department).order_by(col(Department.id)))).scalars())
        department_codes = {department.id: department.code for department in departments}
        services = list((await s.execute(select(ServiceItem).order_by(col(ServiceItem.id)))).scalars())
        service_codes = {service.id: service.code for service in services}
        windows = list(
            (await s.execute(select(Window).where(Window.hall_id == self.hall_id).order_by(Window.number))).scalars()
        )
        window_numbers = {window.id: window.number for window in windows}
        links = (
            await s.execute(
                select(WindowService)
                .where(col(WindowService.window_id).in_(list(window_numbers)))
                .order_by(col(WindowService.priority), col(WindowService.service_id))
            )
        ).scalars()
        served: dict[int, list[WindowServiceSpec]] = {}
        for link in links:
            served.setdefault(link.window_id, []).append(
                WindowServiceSpec(code=service_codes[link.service_id], priority=link.priority)
            )
        devices = (
            await s.execute(select(Device).where(Device.hall_id == self.hall_id).order_by(col(Device.id)))
        ).scalars()
        documents = {
            'hall.yaml': {
                **hall.model_dump(include=HALL_COLUMNS),
                'zones': [zone.model_dump(include=set(ZoneSpec.model_fields)) for zone in zones],
            },
            'departments.yaml': [d.model_dump(include=set(DepartmentSpec.model_fields)) for d in departments],
            'services.yaml': [
                {
                    **service.model_dump(include=set(ServiceSpec.model_fields) - {'department'}),
                    'department': department_codes[service.department_id],
                }
                for service in services
            ],
            'windows.yaml': [
                {
                    **window.model_dump(include={'number', 'name', 'x', 'y', 'state', 'hours'}),
                    'zone': zone_codes[window.zone_id],
                    'services': served.get(window.id or 0, []),
                }
                for window in windows
            ],
            'devices.yaml': [
                {
                    **device.model_dump(include={'code', 'kind', 'name', 'x', 'y', 'attached_to'}),
                    'zone': zone_codes.get(device.zone_id or 0, ''),
                    'window': window_numbers.get(device.window_id or 0),
                }
                for device in devices
            ],
        }
        try:
            return Seed(staff=[], **{_FIELD[file]: validate(file, raw, FILES[file]) for file, raw in documents.items()})
        except SeedError as error:  # rows written by hand or by an older seed that today's rules refuse
            raise Conflict('config_not_describable', problem=str(error)) from None

    async def _write(self, s: AsyncSession, caller: Principal, hall: Seed) -> None:
        """Check the whole description, then create or update rows by code so the database says what it says.

        A window whose services change gets a WindowEvent row, as a staffing move writes, so replay shows it."""
        try:
            check(hall)
        except SeedError as error:
            raise Invalid('config_invalid', problem=str(error)) from None
        row = await s.get(Hall, self.hall_id)
        assert row is not None  # _describe or the caller's hall
        _assign(row, hall.hall.model_dump(include=HALL_COLUMNS))
        zones = await _upsert(
            s,
            {z.code: z for z in (await s.execute(select(Zone).where(Zone.hall_id == self.hall_id))).scalars()},
            {zone.code: {'hall_id': self.hall_id, **zone.model_dump()} for zone in hall.hall.zones},
            Zone,
        )
        departments = await _upsert(
            s,
            {d.code: d for d in (await s.execute(select(Department))).scalars()},
            {department.code: department.model_dump() for department in hall.departments},
            Department,
        )
        services = await _upsert(
            s,
            {sv.code: sv for sv in (await s.execute(select(ServiceItem))).scalars()},
            {service.code: service.row_values(departments[service.department].id) for service in hall.services},
            ServiceItem,
        )
        existing = {
            w.number: w for w in (await s.execute(select(Window).where(Window.hall_id == self.hall_id))).scalars()
        }
        windows: dict[int, Window] = {}
        for spec in hall.windows:
            values = {
                'zone_id': zones[spec.zone].id,
                'name': spec.name,
                'x': spec.x,
                'y': spec.y,
                'hours': [period.model_dump() for period in spec.hours],
            }
            window = existing.get(spec.number)
            if window is None:
                window = Window(hall_id=self.hall_id, number=spec.number, state=spec.state, **values)
                s.add(window)
            else:
                _assign(window, values)
            windows[spec.number] = window
        await s.flush()
        now = self.clock()
        for spec in hall.windows:
            window = windows[spec.number]
            if await _serve_exactly(s, window, {services[x.code].id or 0: x.priority for x in spec.services}):
                s.add(
                    WindowEvent(
                        hall_id=self.hall_id,
                        window_id=window.id or 0,
                        at=now,
                        kind='services',
                        from_state=window.state,
                        to_state=window.state,
                        detail={x.code: x.priority for x in spec.services},
                        actor=caller.name[:64],
                    )
                )
        await self._devices(s, hall.devices, zones, windows)
        await s.flush()

    async def _devices(
        self, s: AsyncSession, specs: list[DeviceSpec], zones: dict[str, Zone], windows: dict[int, Window]
    ) -> None:
        """A new device gets the credential SECRET_KEY derives for its code (as the seed gives it); an
        existing device keeps its own."""
        existing = {
            d.code: d for d in (await s.execute(select(Device).where(Device.hall_id == self.hall_id))).scalars()
        }
        for spec in specs:
            window_id = windows[spec.window].id if spec.window is not None else None
            values = spec.row_values(zones[spec.zone].id, window_id)
            device = existing.get(spec.code)
            if device is None:
                secret = credential_hash(device_credential(self.settings.secret, spec.code))
                s.add(Device(hall_id=self.hall_id, code=spec.code, credential_hash=secret, **values))
            else:
                _assign(device, values)

    async def _version(self, uow: UnitOfWork, caller: Principal, kind: str, subject: str, data: dict[str, Any]) -> None:
        await save_version(uow, caller, hall_id=self.hall_id, kind=kind, subject=subject, data=data, now=self.clock())


def read_zip(content: bytes) -> Seed:
    """A hall zip, checked whole: bounded before it is unpacked, then every file through the seed's specs."""
    if len(content) > MAX_ZIP_BYTES:
        raise Invalid('config_zip_too_big', limit_kib=MAX_ZIP_BYTES // 1024)
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError):
        raise Invalid('config_zip_unreadable') from None
    names = [entry.filename for entry in entries if not entry.is_dir()]
    strange = [name for name in names if name not in FILES]
    if strange or len(names) != len(set(names)):
        raise Invalid('config_zip_entry', name=(strange or names)[0][:80], files=', '.join(FILES))
    missing = [file for file in FILES if file not in names]
    if missing:
        raise Invalid('config_zip_missing', files=', '.join(missing))
    if sum(entry.file_size for entry in entries) > MAX_UNPACKED_BYTES:
        raise Invalid('config_zip_too_big', limit_kib=MAX_ZIP_BYTES // 1024)
    texts: dict[str, str] = {}
    for entry in entries:
        if entry.is_dir():
            continue
        if entry.flag_bits & 0x1 or entry.file_size > MAX_FILE_BYTES:
            raise Invalid('config_zip_entry', name=entry.filename, files=', '.join(FILES))
        try:
            with archive.open(entry) as stream:
                raw = stream.read(MAX_FILE_BYTES + 1)  # the header's size may lie: read no more than the limit
            if len(raw) > MAX_FILE_BYTES:
                raise Invalid('config_zip_too_big', limit_kib=MAX_ZIP_BYTES // 1024)
            texts[entry.filename] = raw.decode('utf-8')
        except (zipfile.BadZipFile, UnicodeDecodeError, NotImplementedError, OSError, EOFError):
            raise Invalid('config_invalid', problem=f'{entry.filename}: not a UTF-8 text file') from None
    try:
        hall = Seed(staff=[], **{_FIELD[file]: parse(file, texts[file], shape) for file, shape in FILES.items()})
        check(hall)
    except SeedError as error:
        raise Invalid('config_invalid', problem=str(error)) from None
    return hall


def _documents(hall: Seed) -> dict[str, Any]:
    """The description as the seed folder's YAML documents, by file name."""
    return {
        'hall.yaml': hall.hall.model_dump(mode='json', exclude_none=True),
        'departments.yaml': [d.model_dump(mode='json') for d in hall.departments],
        'services.yaml': [s.model_dump(mode='json', exclude_none=True) for s in hall.services],
        'windows.yaml': [w.model_dump(mode='json', exclude=set() if w.hours else {'hours'}) for w in hall.windows],
        'devices.yaml': [d.model_dump(mode='json', exclude_none=True) for d in hall.devices],
    }


def _form(shape: Any, what: str, data: Mapping[str, Any]) -> Any:
    try:
        return validate(_FORM_FIELDS[what], dict(data), shape)
    except SeedError as error:
        raise Invalid('config_invalid', problem=str(error)) from None


def _require(current: object, *, new: bool, code: str) -> None:
    if new and current is not None:
        raise Conflict('config_code_taken', taken=code)
    if not new and current is None:
        raise NotFound('config_unknown', what=code)


def _serve(window: WindowSpec, code: str, tier: int | None) -> WindowSpec:
    """The window with `code` served at `tier` (None: as it was)."""
    if tier is None:
        return window
    services = [served for served in window.services if served.code != code]
    return window.model_copy(update={'services': [*services, WindowServiceSpec(code=code, priority=tier)]})


async def _upsert(
    s: AsyncSession, existing: dict[str, Any], wanted: dict[str, dict[str, Any]], model: Any
) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for code, values in wanted.items():
        row = existing.get(code)
        if row is None:
            row = model(**values)
            s.add(row)
        else:
            _assign(row, values)
        rows[code] = row
    await s.flush()
    return rows


async def _serve_exactly(s: AsyncSession, window: Window, wanted: dict[int, int]) -> bool:
    """Make the window serve exactly `wanted` ({service id: tier}); True when anything changed."""
    current = {
        link.service_id: link
        for link in (await s.execute(select(WindowService).where(WindowService.window_id == window.id))).scalars()
    }
    before = {service_id: link.priority for service_id, link in current.items()}
    for service_id, link in current.items():
        if service_id not in wanted:
            await s.delete(link)
    for service_id, tier in wanted.items():
        if service_id in current:
            _assign(current[service_id], {'priority': tier})
        else:
            s.add(WindowService(window_id=window.id or 0, service_id=service_id, priority=tier))
    return before != wanted


def _assign(row: Any, values: Mapping[str, Any]) -> None:
    """Set only what differs, so an unchanged row is never written."""
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
