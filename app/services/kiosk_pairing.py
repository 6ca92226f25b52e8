"""Kiosk screens and window rating pads (评价器) are paired devices, not open URLs.

An admin issues a one-time pairing code for one kiosk (8 characters from an alphabet without look-alike
characters, valid 10 minutes, single use; a newer code for the same kiosk ends the older one at once).
The kiosk's browser sends the code once and gets a screen credential: 256 random bits, kept by the
browser in an HttpOnly cookie and stored here only as its SHA-256. Pairing again revokes the previous
screen, so each kiosk has one live screen; an admin can end a pairing at any time. Every open kiosk
page hears about both through `KioskPairingChanged` and checks its credential again.

Wrong, expired, used and other kiosks' codes all get one and the same refusal, and each refusal counts
against the caller's address (`PAIRING_GUESSES`; once used up, even the right code is refused), so codes
cannot be guessed. Issuing, pairing, refusals and revocations are all in the audit chain.

A rating pad's tablet screen pairs the same way (one implementation for both kinds); its principal is
the pad of its window (`Principal.pad`), so it may rate only what that window just completed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from sqlalchemy import bindparam, update
from sqlalchemy import select as core_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.bus import Bus
from app.events import DevicePayload, KioskPairingChanged
from app.models.device import Device, DeviceKind
from app.models.hall import Window
from app.models.pairing import KioskPairingCode, KioskScreenCredential
from app.models.people import Role
from app.models.rows import columns_of, loaded, width
from app.security.keys import Purpose
from app.services import audit
from app.services.deps import Deps
from app.services.errors import Conflict, NotFound, Unauthorized
from app.services.limits import Limit
from app.services.principal import Principal
from app.services.uow import Service

ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789'  # no 0/O, 1/I/L: read aloud or off a screen without doubt
CODE_LENGTH = 8
CODE_TTL = dt.timedelta(minutes=10)
SEEN_EVERY = dt.timedelta(seconds=60)  # last_seen_at is written at most this often per screen
# Wrong guesses per address: typos fit, while 31^8 codes that live 10 minutes stay out of reach.
PAIRING_GUESSES = Limit(
    'kiosk:pairing',
    10,
    dt.timedelta(minutes=15),
    'too_many_pairing_attempts',
)

SCREEN_KINDS = (DeviceKind.KIOSK, DeviceKind.RATING_PAD)  # the devices whose screen is a paired browser
CODE_ISSUED = 'kiosk_code_issued'
PAIRED = 'kiosk_paired'
PAIRING_REFUSED = 'kiosk_pairing_refused'
UNPAIRED = 'kiosk_unpaired'
_SCREEN, _DEVICE = KioskScreenCredential.__table__, Device.__table__  # type: ignore[attr-defined]
SCREEN_BY_TOKEN = (  # every request of a paired kiosk or pad: a Core SELECT of both rows by the token's unique hash
    core_select(*columns_of(KioskScreenCredential, Device))
    .join_from(_SCREEN, _DEVICE, _DEVICE.c.id == _SCREEN.c.device_id)
    .where(_SCREEN.c.token_hash == bindparam('token_hash'))
)


def refused() -> Unauthorized:
    return Unauthorized('pairing_refused')


def not_paired() -> Unauthorized:
    return Unauthorized('kiosk_not_paired')


def normalize(code: str) -> str:
    """What a person types or a scanner sends: case, spaces and dashes do not matter."""
    return ''.join(code.split()).replace('-', '').upper()[:64]


def display(code: str) -> str:
    """'ABCD-EFGH': two halves are easier to read out and to type."""
    return f'{code[:4]}-{code[4:]}'


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedCode:
    device_code: str
    code: str = field(repr=False)  # shown once on /admin; only its keyed hash is stored
    expires_at: dt.datetime

    @property
    def shown(self) -> str:
        return display(self.code)


@dataclass(frozen=True)
class PairedScreen:
    device_code: str
    token: str = field(repr=False)  # goes into the browser's HttpOnly cookie, nowhere else
    principal: Principal
    kind: DeviceKind = DeviceKind.KIOSK
    window_number: int | None = None  # a rating pad's window: its page is /rate/{window_number}


@dataclass(frozen=True)
class KioskPairing:
    """One paired-screen device of the hall (a kiosk or a rating pad) as /admin lists it."""

    device_id: int
    code: str
    name: str
    kind: DeviceKind = DeviceKind.KIOSK
    window_number: int | None = None  # a rating pad's window
    paired_at: dt.datetime | None = None
    paired_by: str = ''
    paired_from: str = ''
    last_seen_at: dt.datetime | None = None
    code_expires_at: dt.datetime | None = None  # a pairing code issued and not used yet

    @property
    def paired(self) -> bool:
        return self.paired_at is not None


class KioskPairingService(Service):
    bus: Bus

    def __init__(self, deps: Deps) -> None:
        """Codes are stored as hashes keyed with the kiosk-pairing key (`Settings.key(Purpose.KIOSK_PAIRING)`),
        so a copy of the table does not let anyone try all 31^8 codes offline."""
        super().__init__(deps)
        self.key = self.settings.key(Purpose.KIOSK_PAIRING)
        self.audit = audit.AuditLog(deps)

    def code_hash(self, code: str) -> str:
        return hmac.new(self.key, normalize(code).encode(), hashlib.sha256).hexdigest()

    # ---- the admin ------------------------------------------------------------------------------

    async def kiosks(self, caller: Principal) -> list[KioskPairing]:
        """The hall's kiosks and rating pads with their pairing state, in code order (admins only)."""
        await self.audit.require(caller, Role.ADMIN, action='list', target='kiosks')
        now = self.clock()
        async with self.db.read_session() as s:
            devices = (
                await s.execute(
                    select(Device)
                    .where(
                        Device.hall_id == self.hall_id,
                        col(Device.kind).in_(SCREEN_KINDS),
                        col(Device.retired_at).is_(None),
                    )
                    .order_by(col(Device.kind), col(Device.code))
                )
            ).scalars()
            live = select(KioskScreenCredential).where(
                KioskScreenCredential.hall_id == self.hall_id, col(KioskScreenCredential.revoked_at).is_(None)
            )
            screens = {row.device_id: row for row in (await s.execute(live)).scalars()}
            numbers = select(Window.id, Window.number).where(Window.hall_id == self.hall_id)
            windows = {window_id: number for window_id, number in (await s.execute(numbers)).all()}
            codes: dict[int, dt.datetime] = {}
            for row in (
                await s.execute(
                    select(KioskPairingCode).where(
                        KioskPairingCode.hall_id == self.hall_id,
                        col(KioskPairingCode.used_at).is_(None),
                        KioskPairingCode.expires_at > now,
                    )
                )
            ).scalars():
                codes[row.device_id] = max(codes.get(row.device_id, row.expires_at), row.expires_at)
            kiosks = []
            for device in devices:
                screen = screens.get(device.id or 0)
                kiosks.append(
                    KioskPairing(
                        device_id=device.id or 0,
                        code=device.code,
                        name=device.name,
                        kind=device.kind,
                        window_number=windows.get(device.window_id) if device.window_id is not None else None,
                        paired_at=screen.created_at if screen else None,
                        paired_by=screen.created_by if screen else '',
                        paired_from=screen.client_address if screen else '',
                        last_seen_at=screen.last_seen_at if screen else None,
                        code_expires_at=codes.get(device.id or 0),
                    )
                )
        return kiosks

    async def issue_code(self, caller: Principal, device_code: str) -> IssuedCode:
        """A new one-time code for this kiosk (admins only); an older unused code for it ends now."""
        await self.audit.require(caller, Role.ADMIN, action=CODE_ISSUED, target=f'kiosk:{device_code}')
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            device = await self._kiosk(s, device_code)
            await self._end_codes(s, device, now)
            code = await self._fresh_code(s)
            expires_at = now + CODE_TTL
            s.add(
                KioskPairingCode(
                    hall_id=self.hall_id,
                    device_id=device.id or 0,
                    code_hash=self.code_hash(code),
                    issued_by=caller.name,
                    issued_at=now,
                    expires_at=expires_at,
                )
            )
            await audit.record_for(
                s,
                caller,
                action=CODE_ISSUED,
                target=f'kiosk:{device.code}',
                detail={'expires_at': expires_at.isoformat()},
                now=now,
            )
        return IssuedCode(device.code, code, expires_at)

    async def revoke(self, caller: Principal, device_code: str) -> None:
        """End this kiosk's pairing (admins only): its screen stops at once, its unused code too."""
        await self.audit.require(caller, Role.ADMIN, action=UNPAIRED, target=f'kiosk:{device_code}')
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            device = await self._kiosk(s, device_code)
            screens = await self._revoke_screens(s, device, now)
            codes = await self._end_codes(s, device, now)
            if not screens and not codes:
                raise Conflict('kiosk_not_paired', text='kiosk_not_paired.unpaired')
            await audit.record_for(
                s,
                caller,
                action=UNPAIRED,
                target=f'kiosk:{device.code}',
                detail={'screens': screens, 'codes': codes},
                now=now,
            )
            if screens:
                uow.emit(KioskPairingChanged(hall_id=self.hall_id, device=_payload(device), change='revoked'))

    # ---- the kiosk's screen ---------------------------------------------------------------------

    async def pair(self, device_code: str, code: str, *, address: str) -> PairedScreen:
        """Exchange a live code for this kiosk for a screen credential; the previous screen is revoked.

        An address that has used up its wrong guesses is refused before the code is looked at
        (TooManyRequests); each wrong guess counts, a pairing does not (a hall pairs all its kiosks at once).
        """
        address = address[:64]
        await self.limits.check(PAIRING_GUESSES, address)
        now = self.clock()
        token = secrets.token_urlsafe(32)
        async with self._transaction() as uow:
            s = uow.session
            row = (
                await s.execute(
                    select(KioskPairingCode, Device)
                    .join(Device, col(Device.id) == KioskPairingCode.device_id)
                    .where(KioskPairingCode.code_hash == self.code_hash(code), KioskPairingCode.hall_id == self.hall_id)
                    .with_for_update(of=KioskPairingCode)
                )
            ).first()
            if row is not None and _usable(row[0], row[1], device_code, now):
                pairing, device = row
                pairing.used_at = now
                replaced = await self._revoke_screens(s, device, now)
                s.add(
                    KioskScreenCredential(
                        hall_id=self.hall_id,
                        device_id=device.id or 0,
                        token_hash=token_hash(token),
                        created_at=now,
                        created_by=pairing.issued_by,
                        client_address=address,
                        last_seen_at=now,
                    )
                )
                await s.flush()
                principal = _principal(device, address)
                await audit.record(
                    s,
                    actor=principal.name,
                    role=Role.DEVICE,
                    action=PAIRED,
                    target=f'kiosk:{device.code}',
                    detail={'issued_by': pairing.issued_by, 'replaced': replaced},
                    client_address=address,
                    now=now,
                )
                uow.emit(KioskPairingChanged(hall_id=self.hall_id, device=_payload(device), change='paired'))
                window = await s.get(Window, device.window_id) if device.window_id is not None else None
                return PairedScreen(
                    device.code, token, principal, device.kind, window.number if window is not None else None
                )
        await self.audit.write(
            actor=f'kiosk:{device_code}',
            role=Role.DEVICE,
            action=PAIRING_REFUSED,
            target=f'kiosk:{device_code}',
            outcome=audit.OUTCOME_DENIED,
            client_address=address,
            now=now,
        )
        await self.limits.hit(PAIRING_GUESSES, address)
        raise refused()

    async def authenticate(
        self, device_code: str, token: str, *, address: str = '', kind: DeviceKind = DeviceKind.KIOSK
    ) -> Principal:
        """The principal of a live screen credential for exactly this device of this kind, or Unauthorized."""
        if not token:
            raise not_paired()
        now = self.clock()
        async with self.db.read_session(short=True) as s:
            row = (await s.execute(SCREEN_BY_TOKEN, {'token_hash': token_hash(token)})).first()
        if row is None:
            raise not_paired()
        screen, device = loaded(KioskScreenCredential, row), loaded(Device, row, width(KioskScreenCredential))
        if screen.revoked_at is not None or device.retired_at is not None:
            raise not_paired()
        if device.code != device_code or device.hall_id != self.hall_id or device.kind != kind:
            raise not_paired()
        if now - screen.last_seen_at >= SEEN_EVERY:
            async with self._transaction() as uow:
                s = uow.session
                await s.execute(
                    update(KioskScreenCredential)
                    .where(col(KioskScreenCredential.id) == screen.id)
                    .values(last_seen_at=now)
                )
        return _principal(device, address)

    async def pad_at(self, window_number: int) -> str:
        """The code of the rating pad at this window (what `/rate/{window}` pairs and authenticates as)."""
        async with self.db.read_session() as s:
            code = (
                (
                    await s.execute(
                        select(Device.code)
                        .join(Window, col(Window.id) == Device.window_id)
                        .where(
                            Device.hall_id == self.hall_id,
                            Device.kind == DeviceKind.RATING_PAD,
                            col(Device.retired_at).is_(None),
                            Window.number == window_number,
                        )
                        .order_by(col(Device.code))
                    )
                )
                .scalars()
                .first()
            )
        if code is None:
            raise NotFound('unknown_pad')
        return code

    # ---- helpers ----------------------------------------------------------------------------------

    async def _kiosk(self, s: AsyncSession, device_code: str) -> Device:
        """This hall's kiosk or rating pad, locked for the rest of the transaction (one pairing change at a time)."""
        device = (
            await s.execute(
                select(Device)
                .where(
                    Device.hall_id == self.hall_id,
                    Device.code == device_code,
                    col(Device.kind).in_(SCREEN_KINDS),
                    col(Device.retired_at).is_(None),
                )
                .with_for_update()
            )
        ).scalar_one_or_none()
        if device is None:
            raise NotFound('unknown_kiosk', text='unknown_kiosk.id')
        return device

    async def _fresh_code(self, s: AsyncSession) -> str:
        """A random code whose hash is not stored yet (a repeat is astronomically rare, but never a crash)."""
        while True:
            code = ''.join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
            taken = select(KioskPairingCode.id).where(KioskPairingCode.code_hash == self.code_hash(code))
            if (await s.execute(taken)).first() is None:
                return code

    @staticmethod
    async def _revoke_screens(s: AsyncSession, device: Device, now: dt.datetime) -> int:
        result = await s.execute(
            update(KioskScreenCredential)
            .where(KioskScreenCredential.device_id == device.id, col(KioskScreenCredential.revoked_at).is_(None))
            .values(revoked_at=now)
        )
        return int(getattr(result, 'rowcount', 0) or 0)

    @staticmethod
    async def _end_codes(s: AsyncSession, device: Device, now: dt.datetime) -> int:
        result = await s.execute(
            update(KioskPairingCode)
            .where(
                KioskPairingCode.device_id == device.id,
                col(KioskPairingCode.used_at).is_(None),
                KioskPairingCode.expires_at > now,
            )
            .values(expires_at=now)
        )
        return int(getattr(result, 'rowcount', 0) or 0)


async def end_pairing_in(s: AsyncSession, device: Device, now: dt.datetime) -> int:
    """End a kiosk's or rating pad's screen and its unused code inside the caller's transaction (a retired
    device); the number of screens revoked, so the caller announces `KioskPairingChanged` if one was live."""
    await KioskPairingService._end_codes(s, device, now)
    return await KioskPairingService._revoke_screens(s, device, now)


def _usable(pairing: KioskPairingCode, device: Device, device_code: str, now: dt.datetime) -> bool:
    return (
        pairing.used_at is None
        and pairing.expires_at > now
        and device.code == device_code
        and device.kind in SCREEN_KINDS
        and device.retired_at is None
    )


def _principal(device: Device, address: str) -> Principal:
    """A rating pad acts for its window only; a pad without a window is no pad (its screen is refused)."""
    if device.kind == DeviceKind.RATING_PAD:
        if device.window_id is None:
            raise not_paired()
        return Principal.pad(device.code, window_id=device.window_id, address=address)
    return Principal.kiosk(device.code, address=address)


def _payload(device: Device) -> DevicePayload:
    return DevicePayload(device_id=device.id or 0, code=device.code, kind=device.kind)
