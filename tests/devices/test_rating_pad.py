"""Hardware rating pads over /ws/devices: a completion at the window is shown, the pad's tap is the one rating."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlmodel import col, select

from app.bus import InProcessBus
from app.db import Database
from app.models.cases import Evaluation
from app.models.device import DeviceKind
from app.security.credentials import credential_hash, device_credential
from app.services.evaluation import EvaluationService
from app.services.queue import QueueService
from app.settings import Settings
from devices import protocol
from devices.drivers.rating_pad import RatingPadDriver
from devices.sim.client import DeviceClient
from tests.callers import deps_for
from tests.conftest import FakeClock
from tests.devices.hubharness import HubHarness
from tests.factories import SmallHall
from tests.journeyhall import served_ticket
from tests.ratingpads import add_pad

PAD = 'RP-W1'


class PadFirmware:
    """Acks `show_rating`, remembers what it showed and taps `level` for the ticket it was shown."""

    def __init__(self, level: str = 'good') -> None:
        self.level = level
        self.shown: list[dict[str, Any]] = []
        self.client: DeviceClient | None = None

    async def __call__(self, client: DeviceClient, type_: str, command_id: str, data: dict[str, Any]) -> None:
        await client.ack(command_id)
        self.shown.append(data)
        await client.send('rating', {'ticket': data['ticket'], 'level': self.level})


@pytest.fixture
async def pad_harness(
    sqlite_db: Database, settings: Settings, device_hall: SmallHall, clock: FakeClock
) -> AsyncIterator[HubHarness]:
    secret = device_credential(settings.secret, PAD)
    await add_pad(sqlite_db, device_hall.hall_id, window_number=1, code=PAD, credential_hash=credential_hash(secret))
    ratings_bus = InProcessBus()  # where the ratings' own events go
    deps = deps_for(sqlite_db, ratings_bus, hall_id=device_hall.hall_id, settings=settings, clock=clock)
    hub = HubHarness(sqlite_db, settings, device_hall.hall_id, clock=clock, evaluations=EvaluationService(deps))
    await hub.start()
    yield hub
    await hub.stop()
    await ratings_bus.stop()


async def ratings(db: Database) -> list[Evaluation]:
    async with db.read_session() as s:
        return list((await s.execute(select(Evaluation).order_by(col(Evaluation.id)))).scalars())


async def test_a_completion_is_shown_on_its_windows_pad_and_its_tap_is_the_tickets_one_rating(
    pad_harness: HubHarness, sqlite_db: Database, settings: Settings, device_hall: SmallHall, clock: FakeClock
) -> None:
    firmware = PadFirmware('very_good')
    client = pad_harness.client(PAD, on_command=firmware)
    await client.connected.wait()
    queue = QueueService(
        deps_for(sqlite_db, pad_harness.bus, hall_id=device_hall.hall_id, settings=settings, clock=clock)
    )
    view = await served_ticket(queue, device_hall.window_1, 'SVC-A', complete=True)
    for _ in range(200):
        if await ratings(sqlite_db):
            break
        await asyncio.sleep(0.05)
    (rating,) = await ratings(sqlite_db)
    assert (rating.ticket_id, rating.level, rating.window_id) == (view.ticket.id, 'very_good', device_hall.window_1)
    assert firmware.shown == [
        {'ticket': view.ticket.id, 'number': view.ticket.number, 'service': firmware.shown[0]['service']}
    ]
    assert firmware.shown[0]['service']  # the service's name, for the citizen to recognise


async def test_a_replayed_or_forged_rating_frame_is_refused_and_changes_nothing(
    pad_harness: HubHarness, sqlite_db: Database, settings: Settings, device_hall: SmallHall, clock: FakeClock
) -> None:
    queue = QueueService(
        deps_for(sqlite_db, pad_harness.bus, hall_id=device_hall.hall_id, settings=settings, clock=clock)
    )
    done = await served_ticket(queue, device_hall.window_1, 'SVC-A', complete=True)
    other = await served_ticket(queue, device_hall.window_2, 'SVC-B', complete=True)  # another window's
    ws = await pad_harness.connect(PAD)
    pad = pad_harness.service.driver(PAD, RatingPadDriver)
    assert pad.info.kind == DeviceKind.RATING_PAD
    for ticket, level in (
        (other.ticket.id, 'very_bad'),
        (done.ticket.id, 'good'),
        (done.ticket.id, 'very_bad'),
        (10**6, 'good'),
    ):
        await ws.send(protocol.encode('rating', {'ticket': ticket, 'level': level}))
    await pad_harness.wait_for(lambda: pad.health.uses['rated'] == 1, timeout=5)
    await asyncio.sleep(0.3)  # the refused frames are handled in order, after the good one or before it
    assert [(r.ticket_id, r.level) for r in await ratings(sqlite_db)] == [(done.ticket.id, 'good')]
