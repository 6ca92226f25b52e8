"""Device fixtures: the small hall with one device per kind, and a real hub serving it on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from app.db import Database
from app.settings import Settings
from tests.conftest import FakeClock
from tests.devices.hubharness import HubHarness, add_devices
from tests.factories import SmallHall, build_small_hall


@pytest.fixture
async def device_hall(sqlite_db: Database, settings: Settings) -> SmallHall:
    hall = await build_small_hall(sqlite_db)
    await add_devices(sqlite_db, settings.secret, hall.hall_id)
    return hall


@pytest.fixture
async def harness(
    sqlite_db: Database, settings: Settings, device_hall: SmallHall, clock: FakeClock
) -> AsyncIterator[HubHarness]:
    hub = HubHarness(sqlite_db, settings, device_hall.hall_id, clock=clock)
    await hub.start()
    yield hub
    await hub.stop()
