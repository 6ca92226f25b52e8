"""Every seeded device, simulated, connected over real websockets with the credentials it is handed.

Used by `python -m devices.sim` and, with DEVICE_MODE=simulated, inside the app itself (the fleet
connects to the process's own /ws/devices once the server listens, thanks to the client's backoff).
The fleet never sees SECRET_KEY: whoever starts it derives each device's credential and hands over
only those (`fleet_specs`), as a provisioned device holds only its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from sqlmodel import col, select

from app.db import Database
from app.models.device import Device, DeviceKind
from devices.sim import samples
from devices.sim.behaviours import SIMULATORS, SimulatedDevice, SimWorld

log = logging.getLogger(__name__)

HALL_POLL_SECONDS = 15.0


@dataclass(frozen=True)
class DeviceSpec:
    code: str
    kind: DeviceKind
    credential: str


async def seeded_devices(db: Database, hall_id: int) -> dict[str, DeviceKind]:
    """Every device of the hall in service whose credential follows SECRET_KEY, by code: a retired one is refused,
    one /admin issued a random credential to (registered or rotated there) is a real device holding it, and another
    hall's (several halls may share the database) connects to that hall's processes."""
    async with db.read_session() as s:
        devices = (
            (
                await s.execute(
                    select(Device)
                    .where(
                        Device.hall_id == hall_id,
                        col(Device.retired_at).is_(None),
                        col(Device.credential_issued_at).is_(None),
                    )
                    .order_by(Device.code)
                )
            )
            .scalars()
            .all()
        )
    return {d.code: DeviceKind(d.kind) for d in devices}


def fleet_specs(devices: Mapping[str, DeviceKind], credentials: Mapping[str, str]) -> list[DeviceSpec]:
    """The devices to simulate, each with the credential its firmware would hold (none handed: not simulated)."""
    return [DeviceSpec(code, kind, credentials[code]) for code, kind in devices.items() if code in credentials]


def http_base(ws_url: str) -> str:
    parts = urlsplit(ws_url)
    return f'{"https" if parts.scheme == "wss" else "http"}://{parts.netloc}'


class SimulatedFleet:
    def __init__(self, url: str, specs: list[DeviceSpec], world: SimWorld) -> None:
        self.url = url
        self.world = world
        world.cards = world.cards or samples.card_pool(world.rng)
        world.seats = max(1, sum(1 for spec in specs if spec.kind == DeviceKind.SEAT))
        self.devices: dict[str, SimulatedDevice] = {
            spec.code: SIMULATORS[spec.kind](world, url, spec.code, spec.credential) for spec in specs
        }
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(device.run(), name=f'sim-{code}') for code, device in self.devices.items()]
        if self.world.activity:
            self._tasks.append(loop.create_task(self._watch_hall(), name='sim-hall-watcher'))
        log.info('simulated devices: %d connecting to %s', len(self.devices), self.url)

    async def stop(self) -> None:
        for device in self.devices.values():
            await device.client.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []

    async def wait_connected(self, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            await asyncio.gather(*(device.client.connected.wait() for device in self.devices.values()))

    async def _watch_hall(self) -> None:
        """Seats follow the queue: read how many tickets wait from GET /api/hall."""
        async with httpx.AsyncClient(base_url=http_base(self.url), timeout=5.0) as http:
            while True:
                with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
                    hall = (await http.get('/api/hall')).json()
                    self.world.waiting = sum(int(service['waiting']) for service in hall['services'])
                await self.world.pause(HALL_POLL_SECONDS)
