"""The simulator: every device connects over real websockets; with activity on it is busy, with it off it is quiet."""

from __future__ import annotations

import datetime as dt
import random
import types

import pytest
from stdnum.cn import ric

from app.events import CardRead, DeviceHealth, FaceMatched, HelpRequested, QrScanned, SeatChanged
from app.security import codes
from app.security.keys import Purpose, derive_key
from app.services.errors import Invalid
from app.services.identity import parse_id_number
from devices import lifecycle
from devices.sim import samples
from devices.sim.behaviours import SimWorld
from devices.sim.fleet import SimulatedFleet, fleet_specs, seeded_devices
from tests.devices.hubharness import DEVICES, HubHarness

ACTIVITY = (CardRead, QrScanned, FaceMatched, SeatChanged, HelpRequested)


async def fleet_for(harness: HubHarness, *, activity: bool, speed: float = 1.0) -> SimulatedFleet:
    devices = await seeded_devices(harness.db, harness.service.hall_id)
    credentials = {code: harness.credential(code) for code in devices}
    qr = samples.signed_qr_samples(harness.settings.key(Purpose.CODE_SIGNING))
    world = SimWorld(qr=qr, activity=activity, speed=speed, rng=random.Random(4), waiting=20)
    fleet = SimulatedFleet(harness.url, fleet_specs(devices, credentials), world)
    fleet.start()
    await fleet.wait_connected(10)
    return fleet


async def test_with_activity_every_kind_of_device_produces_its_events(harness: HubHarness) -> None:
    fleet = await fleet_for(harness, activity=True, speed=300)
    try:
        await harness.wait_for(
            lambda: all(harness.events_of(kind) for kind in (CardRead, QrScanned, FaceMatched, SeatChanged)), timeout=10
        )
    finally:
        await fleet.stop()
    assert {d.state for d in harness.service.drivers.values()} <= {'online', 'offline'}
    scans = harness.events_of(QrScanned)
    assert all(e.valid == (not e.reason) for e in scans)


async def test_without_activity_devices_stay_connected_and_quiet(harness: HubHarness) -> None:
    fleet = await fleet_for(harness, activity=False, speed=300)
    try:
        await harness.wait_for(lambda: all(d.state == 'online' for d in harness.service.drivers.values()))
        await harness.bus.drain()
        assert not [e for e in harness.events if isinstance(e, ACTIVITY)]
        online = [e.device.code for e in harness.events_of(DeviceHealth) if e.state == 'online']
        assert sorted(online) == sorted(code for code, *_ in DEVICES)
    finally:
        await fleet.stop()


def test_the_card_pool_is_valid_with_mixed_ages_and_broken_cards_are_not() -> None:
    today = dt.date(2026, 11, 28)
    cards = samples.card_pool(random.Random(1), 40, today=today)
    ages = [parse_id_number(card.id_number, today=today).age_on(today) for card in cards]
    assert min(ages) >= 18 and any(age >= 65 for age in ages) and any(age < 65 for age in ages)
    assert len({card.id_number for card in cards}) == len(cards)
    broken = samples.broken_card(cards[0])
    assert broken.id_number != cards[0].id_number and not ric.is_valid(broken.id_number)


def test_sample_codes_signed_with_the_code_key_verify_and_their_forgeries_do_not() -> None:
    secret = b'sim-test-secret-0123456789abcdef0123456789'
    qr = samples.signed_qr_samples(derive_key(secret, Purpose.CODE_SIGNING), count=6)
    rng = random.Random(2)
    assert {codes.verify(secret, text.split('.')[1], text) for text in qr.signed}  # every sample is genuine
    assert {text.split('.')[1] for text in qr.signed} == {'appt', 'track'}
    for _ in range(5):
        forged = qr.forged(rng)
        with pytest.raises(Invalid, match='altered'):
            codes.verify(secret, forged.split('.')[1], forged)
    with pytest.raises(ValueError):
        samples.QrSamples(())


async def test_the_in_process_fleet_holds_its_devices_credentials_and_no_key(harness: HubHarness) -> None:
    """DEVICE_MODE=simulated hands the fleet each device's own credential and signed codes, nothing to derive more."""
    settings = harness.settings
    fleet = await lifecycle.simulated_fleet(settings, harness.db, harness.service.hall_id)
    secret = settings.secret
    keys = [secret, *(settings.key(purpose) for purpose in Purpose)]
    forbidden = {*keys, *(key.hex() for key in keys), secret.decode()}
    held = reachable_values(fleet)
    assert not forbidden & held
    credentials = {device.client.credential for device in fleet.devices.values()}
    assert credentials == {harness.credential(code) for code, *_ in DEVICES} and credentials <= held
    assert fleet.world.qr.signed and set(fleet.world.qr.signed) <= held


def reachable_values(root: object) -> set[object]:
    """Every str and bytes value reachable from `root` through attributes and containers (not code or modules)."""
    found: set[object] = set()
    seen: set[int] = set()
    stack = [root]
    while stack:
        item = stack.pop()
        if id(item) in seen or isinstance(item, type | types.ModuleType | types.FunctionType | types.MethodType):
            continue
        seen.add(id(item))
        if isinstance(item, str | bytes):
            found.add(item)
        elif isinstance(item, dict):
            stack.extend([*item.keys(), *item.values()])
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
        elif hasattr(item, '__dict__'):
            stack.extend(vars(item).values())
    return found
