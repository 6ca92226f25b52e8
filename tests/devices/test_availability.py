"""Availability: heartbeat timeout -> offline -> reconnect -> online, one log line each way; faults; backoff; MTTR."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import itertools
import logging
from collections.abc import AsyncIterator

import pytest

from app.db import Database
from app.events import DeviceHealth
from app.settings import Settings
from devices.health import UsageMeter, mean_time_to_repair, mttr_by_device
from devices.sim.client import AuthRefused, Backoff, DeviceClient
from tests.conftest import FakeClock
from tests.devices.hubharness import FAST, HubHarness
from tests.factories import SmallHall

QUICK_BEATS = dataclasses.replace(FAST, heartbeat_interval=0.4)  # the timeout itself is under test: 1.2 s of silence


def availability_lines(caplog: pytest.LogCaptureFixture, code: str) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == 'devices.driver' and f'device {code} ' in r.getMessage()
    ]


@pytest.fixture
async def quick_hub(
    sqlite_db: Database, settings: Settings, device_hall: SmallHall, clock: FakeClock
) -> AsyncIterator[HubHarness]:
    hub = await HubHarness(sqlite_db, settings, device_hall.hall_id, clock=clock, tuning=QUICK_BEATS).start()
    yield hub
    await hub.stop()


async def test_missed_heartbeats_make_a_device_offline_and_reconnecting_online_logged_once_each(
    quick_hub: HubHarness, caplog: pytest.LogCaptureFixture
) -> None:
    harness = quick_hub
    caplog.set_level(logging.INFO, logger='devices.driver')
    driver = harness.service.drivers['S-01']
    client = harness.client('S-01')
    await harness.wait_for(lambda: driver.state == 'online')
    client.heartbeats = False  # hung: connected, silent
    started = asyncio.get_running_loop().time()
    await harness.wait_for(lambda: driver.state == 'offline', timeout=3)
    silent_for = asyncio.get_running_loop().time() - started
    tuning = harness.service.tuning
    assert tuning.heartbeat_interval * tuning.missed_heartbeats <= silent_for + 0.25  # not before 3 intervals
    assert silent_for < tuning.heartbeat_interval * (tuning.missed_heartbeats + 4)
    client.heartbeats = True
    await harness.wait_for(lambda: driver.state == 'online', timeout=3)  # the client reconnected by itself
    await asyncio.sleep(tuning.heartbeat_interval * 5)  # healthy heartbeats: nothing more is logged
    lines = availability_lines(caplog, 'S-01')
    assert lines == [
        'device S-01 (seat) is online: connected',
        'device S-01 (seat) is offline: heartbeat_timeout',
        'device S-01 (seat) is online: connected',
    ]
    await harness.bus.drain()
    assert [e.state for e in harness.events_of(DeviceHealth, 'S-01')] == ['online', 'offline', 'online']
    assert driver.health.last_seen is not None and driver.health.online_since is not None
    assert len(client.attempts) == 2


async def test_a_fault_is_logged_once_and_recovery_brings_the_device_back(
    harness: HubHarness, caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    caplog.set_level(logging.INFO, logger='devices.driver')
    client = harness.client('K01-CAM')
    await client.connected.wait()
    await client.send('fault', {'code': 'lens_blocked', 'detail': 'covered'})
    await client.send('fault', {'code': 'lens_blocked'})  # still the same fault: no new line
    await client.send('recovered')
    lines = availability_lines(caplog, 'K01-CAM')
    assert lines[1:] == [
        'device K01-CAM (camera) is fault: lens_blocked',
        'device K01-CAM (camera) is online: recovered',
    ]
    health = harness.service.drivers['K01-CAM'].health
    assert (health.faults, health.last_fault) == (1, 'lens_blocked')
    clock.advance(5)
    assert health.uptime(clock.now) == dt.timedelta(minutes=5)  # a fault is not a disconnection


async def test_the_client_reconnects_with_growing_backoff_until_the_hub_is_there(
    sqlite_db: Database, settings: Settings, device_hall: SmallHall, clock: FakeClock
) -> None:
    harness = HubHarness(sqlite_db, settings, device_hall.hall_id, clock=clock)
    client = DeviceClient(
        harness.url, 'S-02', harness.credential('S-02'), backoff=Backoff(initial=0.05, factor=2, jitter=0)
    )
    running = asyncio.get_running_loop().create_task(client.run())
    try:
        await harness.wait_for(lambda: len(client.attempts) >= 4, timeout=5)  # nobody listens yet
        await harness.start()
        await asyncio.wait_for(client.connected.wait(), 5)
        gaps = [b - a for a, b in itertools.pairwise(client.attempts)]
        assert all(gap >= 0.05 * 2**n * 0.95 for n, gap in enumerate(gaps[:3])), gaps  # 0.05, 0.1, 0.2 s, ...
        assert client.backoff.failures == 0  # welcomed: the next outage starts from the initial delay again
        assert harness.service.drivers['S-02'].state == 'online'
    finally:
        await client.stop()
        running.cancel()
        await harness.stop()


async def test_a_refused_credential_stops_the_client_instead_of_retrying(harness: HubHarness) -> None:
    client = DeviceClient(harness.url, 'S-01', 'wrong', backoff=Backoff(initial=0.01))
    with pytest.raises(AuthRefused):
        await asyncio.wait_for(client.run(), 3)
    assert len(client.attempts) == 1


async def test_mttr_is_the_mean_time_from_fault_to_online(harness: HubHarness, clock: FakeClock) -> None:
    client = harness.client('K01-PRN')
    await client.connected.wait()
    for minutes in (4, 8):
        await client.send('fault', {'code': 'paper_out'})
        clock.advance(minutes)
        await client.send('recovered')
        clock.advance(30)
    await harness.service.recorder.flush()
    since = clock.now - dt.timedelta(days=1)
    mttr = await mttr_by_device(harness.db, harness.service.hall_id, since=since)
    assert mttr == {harness.service.drivers['K01-PRN'].info.id: dt.timedelta(minutes=6)}


def test_mean_time_to_repair_pairs_each_fault_with_the_next_online() -> None:
    t0 = dt.datetime(2026, 11, 28, 8)
    at = [t0 + dt.timedelta(minutes=m) for m in range(6)]
    transitions = [(at[0], 'online'), (at[1], 'fault'), (at[2], 'offline'), (at[4], 'online'), (at[5], 'offline')]
    assert mean_time_to_repair(transitions) == dt.timedelta(minutes=3)
    assert mean_time_to_repair([(at[0], 'online'), (at[1], 'fault')]) is None


def test_usage_rate_is_the_busy_fraction_of_the_window() -> None:
    meter = UsageMeter(dt.timedelta(hours=1))
    t0 = dt.datetime(2026, 11, 28, 8, tzinfo=dt.UTC)
    meter.add(t0 - dt.timedelta(minutes=90), t0 - dt.timedelta(minutes=45))  # half of it inside the window
    meter.begin(t0 - dt.timedelta(minutes=15))  # still busy
    assert meter.rate(t0) == pytest.approx(0.5)
    meter.end(t0)
    assert meter.rate(t0 + dt.timedelta(minutes=30)) == pytest.approx(0.25)
