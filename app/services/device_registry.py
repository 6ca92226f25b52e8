"""The hall's device registry, kept by admins while the hall runs: register, rotate a credential, retire.

A registered device gets a fresh random credential (256 bits), shown to the admin once and stored only as
its SHA-256 (app/security/credentials.py), like the seed's derived ones. Rotating replaces it: the old one
is refused from then on and a connection that said hello with it is closed. Retiring keeps the row (its
history points at it) but the device is refused, its driver stops and it leaves the floor map. Each of
the three is audited in its own transaction and announced after commit (`DeviceRegistered`,
`DeviceCredentialRotated`, `DeviceRetired`), so every process's drivers and twin follow without a restart.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.events import (
    DeviceCredentialRotated,
    DevicePayload,
    DevicePlace,
    DeviceRegistered,
    DeviceRetired,
    KioskPairingChanged,
)
from app.models.device import Device, DeviceKind, DeviceState
from app.models.hall import Hall, Window, Zone
from app.models.people import Role
from app.security.credentials import credential_hash
from app.services import audit, kiosk_pairing
from app.services.deps import Deps
from app.services.errors import Conflict, Invalid, NotFound
from app.services.principal import Principal
from app.services.uow import Service

CODE = re.compile(r'[A-Za-z0-9][A-Za-z0-9_-]{0,31}')
PERIPHERALS = frozenset({DeviceKind.ID_READER, DeviceKind.QR_SCANNER, DeviceKind.CAMERA, DeviceKind.PRINTER})
WINDOW_KINDS = frozenset({DeviceKind.CALL_DISPLAY, DeviceKind.RATING_PAD})  # may belong to a window
NAME_MAX = 100

REGISTERED = 'device_registered'
ROTATED = 'device_credential_rotated'
RETIRED = 'device_retired'


@dataclass(frozen=True)
class DeviceDraft:
    """A device as the admin describes it: a zone, or a window for a window's own call display, and for a
    peripheral the kiosk it is attached to."""

    code: str
    kind: str
    name: str
    zone_id: int | None = None
    window_id: int | None = None
    attached_to: str | None = None
    x: float = 0
    y: float = 0


@dataclass(frozen=True)
class IssuedCredential:
    device_code: str
    credential: str = field(repr=False)  # shown once on /admin; only its SHA-256 is stored


@dataclass(frozen=True)
class DeviceEntry:
    """One device as /admin lists it (no credential, no hash)."""

    id: int
    code: str
    kind: DeviceKind
    name: str
    zone: str
    window_number: int | None
    attached_to: str | None
    state: DeviceState
    last_seen_at: dt.datetime | None
    credential_issued_at: dt.datetime | None
    retired_at: dt.datetime | None

    @property
    def retired(self) -> bool:
        return self.retired_at is not None


@dataclass(frozen=True)
class RegistryChoices:
    """What the register form offers: the hall's size, its zones and windows, and the kiosks in service."""

    width: float
    height: float
    zones: dict[int, str]  # id -> name
    windows: dict[int, int]  # id -> number
    kiosks: dict[str, str]  # code -> name


def new_credential() -> str:
    """256 random bits, as 64 hex characters (what a device's configuration file holds)."""
    return secrets.token_hex(32)


class DeviceRegistryService(Service):
    def __init__(self, deps: Deps) -> None:
        super().__init__(deps)
        self.audit = audit.AuditLog(deps)

    async def devices(self, caller: Principal) -> list[DeviceEntry]:
        """Every device of the hall, retired ones too, in code order (admins only)."""
        await self.audit.require(caller, Role.ADMIN, action='list', target='devices')
        async with self.db.read_session() as s:
            zones = {
                z.id: z.name for z in (await s.execute(select(Zone).where(Zone.hall_id == self.hall_id))).scalars()
            }
            windows = {
                w.id: w.number
                for w in (await s.execute(select(Window).where(Window.hall_id == self.hall_id))).scalars()
            }
            rows = (
                await s.execute(select(Device).where(Device.hall_id == self.hall_id).order_by(col(Device.code)))
            ).scalars()
            return [
                DeviceEntry(
                    id=d.id or 0,
                    code=d.code,
                    kind=DeviceKind(d.kind),
                    name=d.name,
                    zone=zones.get(d.zone_id, ''),
                    window_number=windows.get(d.window_id),
                    attached_to=d.attached_to,
                    state=DeviceState(d.state),
                    last_seen_at=d.last_seen_at,
                    credential_issued_at=d.credential_issued_at,
                    retired_at=d.retired_at,
                )
                for d in rows
            ]

    async def choices(self, caller: Principal) -> RegistryChoices:
        """The zones, windows and kiosks a new device may be placed in or attached to (admins only)."""
        await self.audit.require(caller, Role.ADMIN, action='list', target='device_choices')
        async with self.db.read_session() as s:
            hall = await s.get(Hall, self.hall_id)
            assert hall is not None
            zones = (await s.execute(select(Zone).where(Zone.hall_id == self.hall_id).order_by(col(Zone.id)))).scalars()
            windows = (
                await s.execute(select(Window).where(Window.hall_id == self.hall_id).order_by(col(Window.number)))
            ).scalars()
            kiosks = (
                await s.execute(
                    select(Device)
                    .where(
                        Device.hall_id == self.hall_id,
                        Device.kind == DeviceKind.KIOSK,
                        col(Device.retired_at).is_(None),
                    )
                    .order_by(col(Device.code))
                )
            ).scalars()
            return RegistryChoices(
                width=hall.width,
                height=hall.height,
                zones={z.id or 0: z.name for z in zones},
                windows={w.id or 0: w.number for w in windows},
                kiosks={k.code: k.name for k in kiosks},
            )

    async def register(self, caller: Principal, draft: DeviceDraft) -> IssuedCredential:
        """Add a device with a fresh credential (returned once); bad input changes nothing."""
        await self.audit.require(caller, Role.ADMIN, action=REGISTERED, target=f'device:{draft.code[:32]}')
        now = self.clock()
        credential = new_credential()
        async with self._transaction() as uow:
            s = uow.session
            device = await self._validated(s, draft)
            device.credential_hash = credential_hash(credential)
            device.credential_issued_at = now
            s.add(device)
            await s.flush()
            await audit.record_for(
                s,
                caller,
                action=REGISTERED,
                target=f'device:{device.code}',
                detail={'kind': device.kind, 'zone_id': device.zone_id, 'window_id': device.window_id},
                now=now,
            )
            uow.emit(
                DeviceRegistered(
                    hall_id=self.hall_id,
                    device=_payload(device),
                    place=DevicePlace(
                        name=device.name,
                        x=device.x,
                        y=device.y,
                        zone_id=device.zone_id,
                        window_id=device.window_id,
                        attached_to=device.attached_to,
                    ),
                    actor=caller.name,
                )
            )
        return IssuedCredential(device.code, credential)

    async def rotate(self, caller: Principal, device_code: str) -> IssuedCredential:
        """Give a device a new credential (returned once); the old one is refused from the commit on."""
        await self.audit.require(caller, Role.ADMIN, action=ROTATED, target=f'device:{device_code[:32]}')
        now = self.clock()
        credential = new_credential()
        async with self._transaction() as uow:
            s = uow.session
            device = await self._active(s, device_code)
            device.credential_hash = credential_hash(credential)
            device.credential_issued_at = now
            await audit.record_for(s, caller, action=ROTATED, target=f'device:{device.code}', now=now)
            uow.emit(DeviceCredentialRotated(hall_id=self.hall_id, device=_payload(device), actor=caller.name))
        return IssuedCredential(device.code, credential)

    async def retire(self, caller: Principal, device_code: str) -> None:
        """Take a device out of service for good; a kiosk's screen pairing ends with it.

        A kiosk that still has peripherals attached is refused: retire them first, so none is left
        pointing at a kiosk that is gone."""
        await self.audit.require(caller, Role.ADMIN, action=RETIRED, target=f'device:{device_code[:32]}')
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            device = await self._active(s, device_code)
            attached = await s.execute(
                select(Device.code).where(
                    Device.hall_id == self.hall_id,
                    Device.attached_to == device.code,
                    col(Device.retired_at).is_(None),
                )
            )
            if attached.first() is not None:
                raise Conflict('device_has_peripherals', code_value=device.code)
            device.retired_at = now
            device.state = DeviceState.OFFLINE
            screens = (
                await kiosk_pairing.end_pairing_in(s, device, now) if device.kind in kiosk_pairing.SCREEN_KINDS else 0
            )
            await audit.record_for(
                s, caller, action=RETIRED, target=f'device:{device.code}', detail={'screens': screens}, now=now
            )
            uow.emit(DeviceRetired(hall_id=self.hall_id, device=_payload(device), actor=caller.name))
            if screens:
                uow.emit(KioskPairingChanged(hall_id=self.hall_id, device=_payload(device), change='revoked'))

    # ---- helpers ----------------------------------------------------------------------------------

    async def _active(self, s: AsyncSession, device_code: str) -> Device:
        """This hall's device, locked for the rest of the transaction; a retired one is refused."""
        device = (
            await s.execute(
                select(Device).where(Device.hall_id == self.hall_id, Device.code == device_code).with_for_update()
            )
        ).scalar_one_or_none()
        if device is None:
            raise NotFound('unknown_device')
        if device.retired_at is not None:
            raise Conflict('device_retired', code_value=device.code)
        return device

    async def _validated(self, s: AsyncSession, draft: DeviceDraft) -> Device:
        """The new row, or Invalid/Conflict naming the first thing wrong with the draft."""
        code = draft.code.strip()
        if not CODE.fullmatch(code):
            raise Invalid('device_code_invalid')
        try:
            kind = DeviceKind(draft.kind)
        except ValueError:
            raise Invalid('device_kind_invalid') from None
        name = draft.name.strip()
        if not name or len(name) > NAME_MAX:
            raise Invalid('device_name_invalid')
        zone_id = await self._zone_of(s, kind, draft)
        attached_to = await self._kiosk_of(s, kind, draft.attached_to)
        hall = await s.get(Hall, self.hall_id)
        assert hall is not None
        if not (0 <= draft.x <= hall.width and 0 <= draft.y <= hall.height):
            raise Invalid('device_place_invalid')
        taken = await s.execute(select(Device.id).where(Device.hall_id == self.hall_id, Device.code == code))
        if taken.first() is not None:
            raise Conflict('device_code_taken', code_value=code)
        return Device(
            hall_id=self.hall_id,
            code=code,
            kind=kind,
            name=name,
            x=draft.x,
            y=draft.y,
            zone_id=zone_id,
            window_id=draft.window_id,
            attached_to=attached_to,
            credential_hash='',
        )

    async def _zone_of(self, s: AsyncSession, kind: DeviceKind, draft: DeviceDraft) -> int:
        """A window's own call display or rating pad stands in the window's zone (a rating pad always belongs to a
        window); every other device in a zone of this hall."""
        if kind == DeviceKind.RATING_PAD and draft.window_id is None:
            raise Invalid('device_window_invalid')
        if draft.window_id is not None:
            window = await s.get(Window, draft.window_id)
            if kind not in WINDOW_KINDS or window is None or window.hall_id != self.hall_id:
                raise Invalid('device_window_invalid')
            if draft.zone_id is not None and draft.zone_id != window.zone_id:
                raise Invalid('device_window_invalid')
            return window.zone_id
        zone = await s.get(Zone, draft.zone_id) if draft.zone_id is not None else None
        if zone is None or zone.hall_id != self.hall_id:
            raise Invalid('device_zone_invalid')
        return zone.id or 0

    async def _kiosk_of(self, s: AsyncSession, kind: DeviceKind, attached_to: str | None) -> str | None:
        """Readers, scanners, cameras and printers serve one kiosk in service; nothing else is attached."""
        code = (attached_to or '').strip()
        if kind not in PERIPHERALS:
            if code:
                raise Invalid('device_attachment_invalid')
            return None
        kiosk = (
            await s.execute(
                select(Device.id).where(
                    Device.hall_id == self.hall_id,
                    Device.code == code,
                    Device.kind == DeviceKind.KIOSK,
                    col(Device.retired_at).is_(None),
                )
            )
        ).first()
        if kiosk is None:
            raise Invalid('device_attachment_invalid')
        return code


def _payload(device: Device) -> DevicePayload:
    return DevicePayload(device_id=device.id or 0, code=device.code, kind=device.kind)
