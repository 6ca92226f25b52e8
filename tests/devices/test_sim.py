"""The simulator: every device connects over real websockets; with activity on it is busy, with it off it is quiet."""

from __future__ import annotations

import datetime as dt
import random

from stdnum.cn import ric

from app.events import CardRead, DeviceHealth, FaceMatched, HelpRequested, QrScanned, SeatChanged
from app.services.identity import parse_id_number
from devices.sim import samples
from devices.sim.behaviours import SimWorld
from devices.sim.fleet import SimulatedFleet, load_specs
from tests.devices.hubharness import DEVICES, HubHarness

ACTIVITY = (CardRead, QrScanned, FaceMatched, SeatChanged, HelpRequested)


async def fleet_for(harness: HubHarness, *, activity: bool, speed: float = 1.0) -> SimulatedFleet:
    secret = harness.settings.secret
    world = SimWorld(secret=secret, activity=activity, speed=speed, rng=random.Random(4), waiting=20)
    fleet = SimulatedFleet(harness.url, await load_specs(harness.db, secret), world)
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
