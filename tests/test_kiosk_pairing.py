"""Kiosk pairing as rules: admins issue one-time codes, a screen trades one for its credential, guessing is limited."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest
from sqlmodel import col, select

from app.bus import InProcessBus
from app.db import Database
from app.events import KioskPairingChanged
from app.models import AuditEntry, KioskPairingCode, KioskScreenCredential
from app.models.people import Role
from app.services import audit, kiosk_pairing
from app.services.errors import Conflict, Forbidden, NotFound, Unauthorized
from app.services.kiosk_pairing import ALPHABET, PAIRING_GUESSES, KioskPairingService
from app.services.limits import Limits, TooManyRequests
from app.services.principal import Kind, Principal
from tests.callers import deps_for, limits_for
from tests.conftest import FakeClock, audited
from tests.factories import SmallHall
from tests.kiosk_hall import BARE_KIOSK, KIOSK, READER, add_kiosk_hall
from tests.twinkit import Recorder

KEY = hashlib.sha256(b'pairing key of the tests').digest()
ADMIN = Principal(Kind.STAFF, 'adm01', Role.ADMIN, address='10.0.0.9')
NOT_ADMINS = [
    Principal(Kind.STAFF, 'boss', Role.MANAGER),
    Principal(Kind.STAFF, 'w01', Role.STAFF, window_id=1),
    Principal(Kind.STAFF, 'rv01', Role.REVIEWER),
    Principal.kiosk(KIOSK),
    Principal.kiosk(KIOSK, assisted_by='w01'),
    Principal.anonymous('10.0.0.66'),
    Principal.citizen(1),
]


@pytest.fixture
def limits(db: Database, clock: FakeClock) -> Limits:
    return limits_for(db, clock)


@pytest.fixture
async def pairing(
    db: Database, bus: InProcessBus, hall: SmallHall, clock: FakeClock, limits: Limits
) -> KioskPairingService:
    await add_kiosk_hall(db, hall.hall_id)
    return KioskPairingService(deps_for(db, bus, hall_id=hall.hall_id, clock=clock, limits=limits))


async def audit_actions(db: Database) -> list[tuple[str, str, str, str]]:
    async with db.read_session() as s:
        rows = (await s.execute(select(AuditEntry).order_by(col(AuditEntry.id)))).scalars()
        return [(e.actor, e.action, e.target, e.outcome) for e in rows]


async def screens(db: Database) -> list[KioskScreenCredential]:
    async with db.read_session() as s:
        return list((await s.execute(select(KioskScreenCredential).order_by(col(KioskScreenCredential.id)))).scalars())


async def stored(db: Database) -> dict[str, Any]:
    """Everything pairing may change: its codes and its screens."""
    async with db.read_session() as s:
        codes = (await s.execute(select(KioskPairingCode).order_by(col(KioskPairingCode.id)))).scalars()
        return {
            'codes': [(c.device_id, c.expires_at, c.used_at) for c in codes],
            'screens': [(c.device_id, c.token_hash, c.revoked_at) for c in await screens(db)],
        }


def changes(recorder: Recorder) -> list[tuple[str, str]]:
    return [(e.device.code, e.change) for e in recorder.events if isinstance(e, KioskPairingChanged)]


async def test_an_admin_pairs_a_kiosk_and_its_screen_is_that_kiosk(
    pairing: KioskPairingService, db: Database, bus: InProcessBus, clock: FakeClock
) -> None:
    recorder = Recorder(bus)
    issued = await pairing.issue_code(ADMIN, KIOSK)
    assert len(issued.code) == 8 and set(issued.code) <= set(ALPHABET)
    assert issued.shown == f'{issued.code[:4]}-{issued.code[4:]}'
    assert issued.expires_at == clock.now + dt.timedelta(minutes=10)
    assert issued.code not in repr(issued)

    typed = f' {issued.shown.lower()} '  # as a person types it: lower case, the dash, stray spaces
    screen = await pairing.pair(KIOSK, typed, address='10.0.0.21')
    assert len(screen.token) >= 43 and screen.token not in repr(screen)  # 256 bits, base64url
    principal = await pairing.authenticate(KIOSK, screen.token, address='10.0.0.21')
    assert (principal.kind, principal.name, principal.device_code, principal.role) == (
        Kind.KIOSK,
        'kiosk:K01',
        KIOSK,
        Role.DEVICE,
    )
    assert principal.address == '10.0.0.21' and principal.assisted_by is None

    (row,) = await screens(db)
    assert row.token_hash == hashlib.sha256(screen.token.encode()).hexdigest() != screen.token
    assert (row.created_by, row.client_address, row.revoked_at) == ('adm01', '10.0.0.21', None)
    async with db.read_session() as s:
        code_row = (await s.execute(select(KioskPairingCode))).scalar_one()
    assert code_row.code_hash != issued.code and issued.code not in code_row.code_hash
    assert code_row.used_at == clock.now

    for other in (BARE_KIOSK, READER, 'NOPE'):  # bound to K01, nowhere else
        with pytest.raises(Unauthorized) as error:
            await pairing.authenticate(other, screen.token)
        assert error.value.code == 'kiosk_not_paired'
    await bus.drain()
    assert changes(recorder) == [(KIOSK, 'paired')]
    assert await audit_actions(db) == [
        ('adm01', kiosk_pairing.CODE_ISSUED, 'kiosk:K01', 'ok'),
        ('kiosk:K01', kiosk_pairing.PAIRED, 'kiosk:K01', 'ok'),
    ]


async def test_wrong_expired_used_superseded_and_other_kiosks_codes_get_one_refusal(
    pairing: KioskPairingService, db: Database, clock: FakeClock
) -> None:
    used = await pairing.issue_code(ADMIN, KIOSK)
    await pairing.pair(KIOSK, used.code, address='10.0.1.1')
    for_k02 = await pairing.issue_code(ADMIN, BARE_KIOSK)
    expired = await pairing.issue_code(ADMIN, BARE_KIOSK)  # ends `for_k02` at once
    clock.advance(10.01)
    superseded = await pairing.issue_code(ADMIN, KIOSK)
    live = await pairing.issue_code(ADMIN, KIOSK)  # ends `superseded` at once
    live_k02 = await pairing.issue_code(ADMIN, BARE_KIOSK)
    before = await stored(db)
    attempts = [
        (KIOSK, used.code),
        (KIOSK, superseded.code),
        (KIOSK, 'ABCDEFGH'),
        (KIOSK, for_k02.code),
        (KIOSK, live_k02.code),  # a live code, of another kiosk
        (BARE_KIOSK, expired.code),
        (BARE_KIOSK, live.code),
        (READER, live.code),  # not a kiosk at all
        ('NOPE', live.code),
        (KIOSK, ''),
        (KIOSK, "' OR 1=1 --"),
        (KIOSK, '码' * 10_000),
    ]
    messages = set()
    for n, (device, code) in enumerate(attempts):
        with pytest.raises(Unauthorized) as error:
            await pairing.pair(device, code, address=f'10.0.2.{n}')
        messages.add((error.value.code, error.value.message))
    assert messages == {('pairing_refused', kiosk_pairing.refused().message)}
    assert await stored(db) == before  # nothing paired, nothing used up
    refusals = [a for a in await audit_actions(db) if a[1] == kiosk_pairing.PAIRING_REFUSED]
    assert len(refusals) == len(attempts) and {a[3] for a in refusals} == {audit.OUTCOME_DENIED}
    assert (await pairing.pair(KIOSK, live.code, address='10.0.3.1')).device_code == KIOSK  # still works


async def test_guessing_is_limited_per_address_and_never_pairs(
    pairing: KioskPairingService, db: Database, clock: FakeClock
) -> None:
    for _ in range(PAIRING_GUESSES.max + 1):  # pairings do not count: a hall pairs all its kiosks at once
        await pairing.pair(KIOSK, (await pairing.issue_code(ADMIN, KIOSK)).code, address='10.0.0.66')
    issued = await pairing.issue_code(ADMIN, KIOSK)
    for n in range(PAIRING_GUESSES.max):  # wrong guesses do
        with pytest.raises(Unauthorized):
            await pairing.pair(KIOSK, f'WRONG{n:03d}', address='10.0.0.66')
    before = await stored(db)
    with pytest.raises(TooManyRequests) as limited:
        await pairing.pair(KIOSK, issued.code, address='10.0.0.66')  # even the right code: no more tries
    assert limited.value.status == 429 and limited.value.code == 'too_many_pairing_attempts'
    assert 0 < limited.value.retry_after <= PAIRING_GUESSES.window.total_seconds()
    assert '/' in limited.value.message  # zh-CN and English
    assert await stored(db) == before
    screen = await pairing.pair(KIOSK, issued.code, address='10.0.0.67')  # another address is not held back
    assert (await pairing.authenticate(KIOSK, screen.token)).device_code == KIOSK


async def test_pairing_again_revokes_the_previous_screen(
    pairing: KioskPairingService, db: Database, bus: InProcessBus
) -> None:
    recorder = Recorder(bus)
    first = await pairing.pair(KIOSK, (await pairing.issue_code(ADMIN, KIOSK)).code, address='10.0.0.1')
    second = await pairing.pair(KIOSK, (await pairing.issue_code(ADMIN, KIOSK)).code, address='10.0.0.2')
    with pytest.raises(Unauthorized):
        await pairing.authenticate(KIOSK, first.token)
    assert (await pairing.authenticate(KIOSK, second.token)).device_code == KIOSK
    assert [row.revoked_at is None for row in await screens(db)] == [False, True]
    await bus.drain()
    assert changes(recorder) == [(KIOSK, 'paired'), (KIOSK, 'paired')]
    async with db.read_session() as s:
        paired = (await s.execute(select(AuditEntry).where(AuditEntry.action == kiosk_pairing.PAIRED))).scalars()
        assert [entry.detail['replaced'] for entry in paired] == [0, 1]


@pytest.mark.parametrize('caller', NOT_ADMINS, ids=lambda c: f'{c.kind}-{c.role}-{c.assisted_by}')
async def test_only_admins_issue_list_and_revoke(pairing: KioskPairingService, db: Database, caller: Principal) -> None:
    await pairing.pair(KIOSK, (await pairing.issue_code(ADMIN, KIOSK)).code, address='10.0.0.1')
    before = await stored(db)
    for attempt in (
        lambda: pairing.issue_code(caller, KIOSK),
        lambda: pairing.revoke(caller, KIOSK),
        lambda: pairing.kiosks(caller),
    ):
        with pytest.raises(Forbidden) as error:
            await attempt()
        assert error.value.code == 'forbidden'
    assert await stored(db) == before
    denied = [a for a in await audit_actions(db) if a[1] == audit.ROLE_DENIED]
    assert [(actor, outcome) for actor, _, _, outcome in denied] == [(caller.name, audit.OUTCOME_DENIED)] * 3


async def test_revoking_stops_the_screen_and_its_unused_code(
    pairing: KioskPairingService, db: Database, bus: InProcessBus
) -> None:
    screen = await pairing.pair(KIOSK, (await pairing.issue_code(ADMIN, KIOSK)).code, address='10.0.0.1')
    pending = await pairing.issue_code(ADMIN, KIOSK)
    recorder = Recorder(bus)
    await pairing.revoke(ADMIN, KIOSK)
    with pytest.raises(Unauthorized):
        await pairing.authenticate(KIOSK, screen.token)
    with pytest.raises(Unauthorized):
        await pairing.pair(KIOSK, pending.code, address='10.0.0.2')
    await bus.drain()
    assert changes(recorder) == [(KIOSK, 'revoked')]
    async with db.read_session() as s:
        entry = (await s.execute(select(AuditEntry).where(AuditEntry.action == kiosk_pairing.UNPAIRED))).scalar_one()
    assert (entry.actor, entry.target, entry.detail, entry.client_address) == (
        'adm01',
        'kiosk:K01',
        {'screens': 1, 'codes': 1},
        audited('10.0.0.9'),
    )
    before = await stored(db)
    with pytest.raises(Conflict) as error:
        await pairing.revoke(ADMIN, KIOSK)  # nothing left to end
    assert error.value.code == 'kiosk_not_paired' and await stored(db) == before
    for unknown in ('NOPE', READER):
        with pytest.raises(NotFound):
            await pairing.issue_code(ADMIN, unknown)
        with pytest.raises(NotFound):
            await pairing.revoke(ADMIN, unknown)
    assert await stored(db) == before


async def test_the_admin_list_shows_each_kiosks_pairing(pairing: KioskPairingService, clock: FakeClock) -> None:
    paired_at = clock.now
    screen = await pairing.pair(KIOSK, (await pairing.issue_code(ADMIN, KIOSK)).code, address='10.0.0.1')
    pending = await pairing.issue_code(ADMIN, BARE_KIOSK)
    clock.advance(5)
    await pairing.authenticate(KIOSK, screen.token)
    k01, k02 = await pairing.kiosks(ADMIN)
    assert (k01.code, k01.paired, k01.paired_at, k01.paired_by, k01.paired_from) == (
        KIOSK,
        True,
        paired_at,
        'adm01',
        '10.0.0.1',
    )
    assert k01.last_seen_at == clock.now and k01.code_expires_at is None
    assert (k02.code, k02.paired, k02.code_expires_at) == (BARE_KIOSK, False, pending.expires_at)
    clock.advance(6)
    assert (await pairing.kiosks(ADMIN))[1].code_expires_at is None  # expired codes are not pending


async def test_last_seen_is_written_at_most_once_a_minute(
    pairing: KioskPairingService, db: Database, clock: FakeClock
) -> None:
    screen = await pairing.pair(KIOSK, (await pairing.issue_code(ADMIN, KIOSK)).code, address='10.0.0.1')
    paired_at = clock.now
    clock.advance(0.5)
    await pairing.authenticate(KIOSK, screen.token)
    assert [row.last_seen_at for row in await screens(db)] == [paired_at]
    clock.advance(0.6)
    await pairing.authenticate(KIOSK, screen.token)
    assert [row.last_seen_at for row in await screens(db)] == [clock.now]


async def test_an_empty_or_forged_credential_is_not_a_kiosk(pairing: KioskPairingService) -> None:
    screen = await pairing.pair(KIOSK, (await pairing.issue_code(ADMIN, KIOSK)).code, address='10.0.0.1')
    row_hash = hashlib.sha256(screen.token.encode()).hexdigest()
    for forged in ('', screen.token[:-1], screen.token.upper(), row_hash, 'x' * 5000):
        with pytest.raises(Unauthorized):
            await pairing.authenticate(KIOSK, forged)
