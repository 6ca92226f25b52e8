"""The device registry as rules: admins register, rotate and retire devices; every change is audited and
announced after commit, a credential is kept only as its hash, and bad input changes nothing."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from sqlmodel import col, select

from app.bus import InProcessBus
from app.db import Database
from app.events import DeviceCredentialRotated, DeviceRegistered, DeviceRetired, KioskPairingChanged
from app.models import AuditEntry, Device, Window, Zone
from app.models.device import DeviceKind
from app.models.people import Role
from app.services import audit, device_registry
from app.services.device_registry import DeviceDraft, DeviceRegistryService
from app.services.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, Unauthorized
from app.services.kiosk_devices import load_kiosk
from app.services.kiosk_pairing import KioskPairingService
from app.services.principal import Kind, Principal
from tests.callers import deps_for, limits_for
from tests.conftest import FakeClock
from tests.factories import SmallHall
from tests.kiosk_hall import BARE_KIOSK, KIOSK, READER, add_kiosk_hall
from tests.twinkit import Recorder

ADMIN = Principal(Kind.STAFF, 'adm01', Role.ADMIN, address='10.0.0.9')
NOT_ADMINS = [
    Principal(Kind.STAFF, 'boss', Role.MANAGER),
    Principal(Kind.STAFF, 'w01', Role.STAFF, window_id=1),
    Principal(Kind.STAFF, 'rv01', Role.REVIEWER),
    Principal.kiosk(KIOSK),
    Principal.anonymous('10.0.0.66'),
    Principal.citizen(1),
]


@pytest.fixture
async def registry(db: Database, bus: InProcessBus, hall: SmallHall, clock: FakeClock) -> DeviceRegistryService:
    await add_kiosk_hall(db, hall.hall_id)
    return DeviceRegistryService(deps_for(db, bus, hall_id=hall.hall_id, clock=clock))


async def zone_id(db: Database, code: str = 'general') -> int:
    async with db.read_session() as s:
        zone = (await s.execute(select(Zone).where(Zone.code == code))).scalar_one()
        return zone.id or 0


async def window_id(db: Database, number: int) -> int:
    async with db.read_session() as s:
        window = (await s.execute(select(Window).where(Window.number == number))).scalar_one()
        return window.id or 0


async def stored(db: Database) -> list[tuple[Any, ...]]:
    """Everything the registry may change on a device."""
    async with db.read_session() as s:
        rows = (await s.execute(select(Device).order_by(col(Device.code)))).scalars()
        return [(d.code, d.kind, d.credential_hash, d.credential_issued_at, d.retired_at) for d in rows]


async def audit_actions(db: Database) -> list[tuple[str, str, str, str]]:
    async with db.read_session() as s:
        rows = (await s.execute(select(AuditEntry).order_by(col(AuditEntry.id)))).scalars()
        return [(e.actor, e.action, e.target, e.outcome) for e in rows]


async def device(db: Database, code: str) -> Device:
    async with db.read_session() as s:
        return (await s.execute(select(Device).where(Device.code == code))).scalar_one()


async def test_an_admin_registers_a_camera_and_only_the_hash_of_its_credential_is_kept(
    registry: DeviceRegistryService, db: Database, bus: InProcessBus, clock: FakeClock
) -> None:
    recorder = Recorder(bus)
    general = await zone_id(db)
    draft = DeviceDraft('K02-CAM', 'camera', ' 2号取号机摄像头 ', zone_id=general, attached_to=BARE_KIOSK, x=40, y=50)

    issued = await registry.register(ADMIN, draft)

    assert issued.device_code == 'K02-CAM' and len(issued.credential) == 64
    assert issued.credential not in repr(issued)
    row = await device(db, 'K02-CAM')
    assert row.credential_hash == hashlib.sha256(issued.credential.encode()).hexdigest()
    assert row.credential_issued_at == clock() and row.retired_at is None
    assert (row.name, row.attached_to, row.zone_id, row.x, row.y) == ('2号取号机摄像头', BARE_KIOSK, general, 40, 50)
    await bus.drain()
    [event] = recorder.of(DeviceRegistered)
    assert isinstance(event, DeviceRegistered)
    assert (event.device.device_id, event.device.code, event.device.kind) == (row.id, 'K02-CAM', 'camera')
    assert (event.place.name, event.place.attached_to, event.place.x) == ('2号取号机摄像头', BARE_KIOSK, 40)
    assert (await audit_actions(db))[-1] == ('adm01', device_registry.REGISTERED, 'device:K02-CAM', 'ok')


async def test_two_registrations_get_different_credentials(registry: DeviceRegistryService, db: Database) -> None:
    general = await zone_id(db)
    first = await registry.register(ADMIN, DeviceDraft('S-10', 'seat', '座椅10', zone_id=general, x=10, y=10))
    second = await registry.register(ADMIN, DeviceDraft('S-11', 'seat', '座椅11', zone_id=general, x=20, y=10))
    assert first.credential != second.credential


async def test_a_window_display_stands_in_its_windows_zone(registry: DeviceRegistryService, db: Database) -> None:
    window = await window_id(db, 1)
    await registry.register(ADMIN, DeviceDraft('CD-W1', 'call_display', '1号窗口屏', window_id=window, x=5, y=5))
    row = await device(db, 'CD-W1')
    async with db.read_session() as s:
        own = await s.get(Window, window)
    assert own is not None and (row.window_id, row.zone_id) == (window, own.zone_id)


async def test_a_rating_pad_is_registered_at_its_window_and_is_then_listed_for_pairing(
    registry: DeviceRegistryService, db: Database, bus: InProcessBus, hall: SmallHall, clock: FakeClock
) -> None:
    window = await window_id(db, 2)
    await registry.register(ADMIN, DeviceDraft('RP-W2', 'rating_pad', '2号窗口评价器', window_id=window, x=5, y=5))
    row = await device(db, 'RP-W2')
    assert (row.kind, row.window_id) == (DeviceKind.RATING_PAD, window)
    pairing = KioskPairingService(deps_for(db, bus, hall_id=hall.hall_id, clock=clock))
    listed = {screen.code: screen for screen in await pairing.kiosks(ADMIN)}
    assert (listed['RP-W2'].kind, listed['RP-W2'].window_number) == (DeviceKind.RATING_PAD, 2)
    assert await pairing.pad_at(2) == 'RP-W2'


BAD_DRAFTS = [
    ({'code': 'K 07'}, Invalid, 'device_code_invalid'),
    ({'code': ''}, Invalid, 'device_code_invalid'),
    ({'code': 'X' * 33}, Invalid, 'device_code_invalid'),
    ({'kind': 'toaster'}, Invalid, 'device_kind_invalid'),
    ({'name': '   '}, Invalid, 'device_name_invalid'),
    ({'name': '名' * 101}, Invalid, 'device_name_invalid'),
    ({'zone_id': None}, Invalid, 'device_zone_invalid'),
    ({'zone_id': 999_999}, Invalid, 'device_zone_invalid'),
    ({'window': 1}, Invalid, 'device_window_invalid'),  # a kiosk belongs to no window
    ({'kind': 'rating_pad'}, Invalid, 'device_window_invalid'),  # a rating pad always belongs to a window
    ({'kind': 'printer'}, Invalid, 'device_attachment_invalid'),  # a printer needs its kiosk
    ({'kind': 'printer', 'attached_to': 'K404'}, Invalid, 'device_attachment_invalid'),
    ({'kind': 'printer', 'attached_to': READER}, Invalid, 'device_attachment_invalid'),  # not a kiosk
    ({'attached_to': KIOSK}, Invalid, 'device_attachment_invalid'),  # a kiosk is attached to nothing
    ({'x': -1}, Invalid, 'device_place_invalid'),
    ({'y': 100_000}, Invalid, 'device_place_invalid'),
    ({'code': KIOSK}, Conflict, 'device_code_taken'),
]


@pytest.mark.parametrize(('change', 'error', 'code'), BAD_DRAFTS)
async def test_a_bad_draft_is_refused_with_its_reason_and_changes_nothing(
    registry: DeviceRegistryService,
    db: Database,
    bus: InProcessBus,
    change: dict[str, Any],
    error: type[DomainError],
    code: str,
) -> None:
    values: dict[str, Any] = {'code': 'K07', 'kind': 'kiosk', 'name': '7号取号机', 'zone_id': await zone_id(db)}
    values |= {'x': 100, 'y': 100}
    values |= {key: value for key, value in change.items() if key != 'window'}
    if 'window' in change:
        values['window_id'] = await window_id(db, change['window'])
    before, trail = await stored(db), await audit_actions(db)
    recorder = Recorder(bus)
    with pytest.raises(error) as raised:
        await registry.register(ADMIN, DeviceDraft(**values))
    assert raised.value.code == code
    await bus.drain()
    assert await stored(db) == before and await audit_actions(db) == trail and recorder.events == []


async def test_a_new_credential_replaces_the_old_hash_and_is_announced(
    registry: DeviceRegistryService, db: Database, bus: InProcessBus, clock: FakeClock
) -> None:
    recorder = Recorder(bus)
    old = (await device(db, READER)).credential_hash

    issued = await registry.rotate(ADMIN, READER)

    row = await device(db, READER)
    assert row.credential_hash != old
    assert row.credential_hash == hashlib.sha256(issued.credential.encode()).hexdigest()
    assert row.credential_issued_at == clock()
    await bus.drain()
    assert [e.device.code for e in recorder.of(DeviceCredentialRotated)] == [READER]  # type: ignore[attr-defined]
    assert (await audit_actions(db))[-1] == ('adm01', device_registry.ROTATED, f'device:{READER}', 'ok')


async def test_a_retired_device_keeps_its_row_and_nothing_more_can_be_done_to_it_or_its_code(
    registry: DeviceRegistryService, db: Database, bus: InProcessBus, clock: FakeClock
) -> None:
    recorder = Recorder(bus)
    await registry.retire(ADMIN, READER)

    row = await device(db, READER)
    assert row.retired_at == clock()
    await bus.drain()
    assert [e.device.code for e in recorder.of(DeviceRetired)] == [READER]  # type: ignore[attr-defined]
    assert (await audit_actions(db))[-1] == ('adm01', device_registry.RETIRED, f'device:{READER}', 'ok')
    before = await stored(db)
    with pytest.raises(Conflict) as rotated:
        await registry.rotate(ADMIN, READER)
    with pytest.raises(Conflict) as retired:
        await registry.retire(ADMIN, READER)
    with pytest.raises(Conflict) as again:
        await registry.register(ADMIN, DeviceDraft(READER, 'kiosk', '新设备', zone_id=await zone_id(db), x=1, y=1))
    assert (rotated.value.code, retired.value.code, again.value.code) == (
        'device_retired',
        'device_retired',
        'device_code_taken',
    )
    assert await stored(db) == before
    listed = {d.code: d for d in await registry.devices(ADMIN)}
    assert listed[READER].retired and not listed[KIOSK].retired


async def test_a_kiosk_with_peripherals_in_service_is_not_retired(
    registry: DeviceRegistryService, db: Database
) -> None:
    before = await stored(db)
    with pytest.raises(Conflict) as refused:
        await registry.retire(ADMIN, KIOSK)
    assert refused.value.code == 'device_has_peripherals'
    assert await stored(db) == before


async def test_retiring_a_paired_kiosk_ends_its_screen_at_once(
    registry: DeviceRegistryService, db: Database, bus: InProcessBus, hall: SmallHall, clock: FakeClock
) -> None:
    pairing = KioskPairingService(deps_for(db, bus, hall_id=hall.hall_id, clock=clock, limits=limits_for(db, clock)))
    issued = await pairing.issue_code(ADMIN, BARE_KIOSK)
    screen = await pairing.pair(BARE_KIOSK, issued.code, address='10.0.0.20')
    await pairing.authenticate(BARE_KIOSK, screen.token)
    recorder = Recorder(bus)

    await registry.retire(ADMIN, BARE_KIOSK)

    with pytest.raises(Unauthorized):
        await pairing.authenticate(BARE_KIOSK, screen.token)
    assert BARE_KIOSK not in {k.code for k in await pairing.kiosks(ADMIN)}
    await bus.drain()
    assert [(e.device.code, e.change) for e in recorder.of(KioskPairingChanged)] == [(BARE_KIOSK, 'revoked')]  # type: ignore[attr-defined]


async def test_an_unknown_device_is_not_found(registry: DeviceRegistryService) -> None:
    with pytest.raises(NotFound):
        await registry.rotate(ADMIN, 'NOPE')
    with pytest.raises(NotFound):
        await registry.retire(ADMIN, 'NOPE')


@pytest.mark.parametrize('caller', NOT_ADMINS, ids=lambda p: f'{p.kind}-{p.role}')
async def test_nobody_but_an_admin_lists_registers_rotates_or_retires_and_each_try_is_audited(
    registry: DeviceRegistryService, db: Database, bus: InProcessBus, caller: Principal
) -> None:
    recorder = Recorder(bus)
    before, trail = await stored(db), await audit_actions(db)
    draft = DeviceDraft('K07', 'kiosk', '7号取号机', zone_id=await zone_id(db), x=10, y=10)
    attempts = [
        registry.devices(caller),
        registry.choices(caller),
        registry.register(caller, draft),
        registry.rotate(caller, READER),
        registry.retire(caller, BARE_KIOSK),
    ]
    for attempt in attempts:
        with pytest.raises(Forbidden):
            await attempt
    await bus.drain()
    assert await stored(db) == before and recorder.events == []
    denied = (await audit_actions(db))[len(trail) :]
    assert len(denied) == len(attempts)
    assert {(action, outcome) for _, action, _, outcome in denied} == {(audit.ROLE_DENIED, audit.OUTCOME_DENIED)}


async def test_a_replaced_reader_does_not_shadow_its_successor_at_the_kiosk(
    registry: DeviceRegistryService, db: Database, hall: SmallHall
) -> None:
    await registry.retire(ADMIN, READER)
    draft = DeviceDraft('K01-ID2', 'id_reader', '新读卡器', zone_id=await zone_id(db), attached_to=KIOSK, x=5, y=5)
    await registry.register(ADMIN, draft)
    kiosk = await load_kiosk(db, hall.hall_id, KIOSK)
    assert kiosk.peripherals['id_reader'] == 'K01-ID2'
