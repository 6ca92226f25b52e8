"""The device registry against the real app: a device registered, rotated or retired in ANOTHER process (they
share Redis, as a scaled-out hall does) changes who `/ws/devices` lets in at once, with no restart.

The app runs as its own process (`python main.py`, DEVICE_MODE=websocket, its own redis-server); this test
process is a second process of the same hall: it writes through DeviceRegistryService and publishes on the
same Redis stream. Devices connect the way an attacker or a real device would, over a real websocket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import select
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.bus_redis import RedisBus, hall_stream
from app.db import Database
from app.models import Zone
from app.models.people import Role
from app.security.keys import Purpose, derive_key
from app.services.device_registry import DeviceDraft, DeviceRegistryService, new_credential
from app.services.principal import Kind, Principal
from devices import protocol
from devices.protocol import CloseCode
from tests.apphost import AppProcess, prepare_database, run_coroutine, sqlite_url, start_app
from tests.callers import deps_for
from tests.devices.hubharness import add_devices
from tests.redisserver import RedisServer

ADMIN = Principal(Kind.STAFF, 'adm01', Role.ADMIN, address='10.0.0.9')
WAIT = 10.0


@dataclass(frozen=True)
class Hall:
    app: AppProcess
    redis: RedisServer
    url: str
    hall_id: int
    secret: bytes

    @property
    def ws_url(self) -> str:
        return self.app.base_url.replace('http://', 'ws://') + protocol.PATH


@pytest.fixture(scope='module')
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hall]:
    tmp: Path = tmp_path_factory.mktemp('device-registry')
    url = sqlite_url(tmp / 'hall.db')
    prepared = prepare_database(url)
    assert prepared.small_hall is not None
    hall_id = prepared.small_hall.hall_id
    redis = RedisServer().start()
    app = AppProcess(url, tmp)  # only to read the secret the app will run with
    secret = app.environment()['SECRET_KEY'].encode()

    async def with_devices() -> None:
        db = Database(url)
        try:
            await add_devices(db, secret, hall_id)
        finally:
            await db.dispose()

    run_coroutine(with_devices)
    try:
        with start_app(url, tmp, {'DEVICE_MODE': 'websocket', 'REDIS_URL': redis.url}) as running:
            yield Hall(running, redis, url, hall_id, secret)
    finally:
        redis.stop()


@pytest.fixture
async def registry(hall: Hall) -> AsyncIterator[DeviceRegistryService]:
    """The registry as a second process of the hall runs it: same database, same Redis stream and bus key."""
    db = Database(hall.url, audit_key=derive_key(hall.secret, Purpose.AUDIT))
    bus = RedisBus(hall.redis.url, key=derive_key(hall.secret, Purpose.BUS), stream=hall_stream('main'))
    await bus.start()
    try:
        yield DeviceRegistryService(deps_for(db, bus, hall_id=hall.hall_id))
    finally:
        await bus.stop()
        await db.dispose()


async def waiting_zone(hall: Hall) -> int:
    db = Database(hall.url)
    try:
        async with db.read_session() as s:
            zone = (await s.execute(select(Zone).where(Zone.code == 'waiting'))).scalar_one()
            return zone.id or 0
    finally:
        await db.dispose()


async def hello(hall: Hall, code: str, credential: str) -> tuple[ClientConnection | None, int | None]:
    """Say hello: the open connection once welcomed, or None and the close code the hub refused it with."""
    ws = await connect(hall.ws_url)
    await ws.send(protocol.encode('hello', {'device': code, 'credential': credential}))
    try:
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
            if frame['type'] == 'welcome':
                return ws, None
    except ConnectionClosed as closed:
        return None, closed.rcvd.code if closed.rcvd else None


async def welcomed(hall: Hall, code: str, credential: str) -> ClientConnection:
    """The event crosses processes through Redis: retry for a moment, as a device's backoff would."""
    deadline = asyncio.get_running_loop().time() + WAIT
    while True:
        ws, refused = await hello(hall, code, credential)
        if ws is not None:
            return ws
        assert refused == CloseCode.AUTH_FAILED, refused
        assert asyncio.get_running_loop().time() < deadline, f'{code} was never let in'
        await asyncio.sleep(0.1)


async def closed_with(ws: ClientConnection) -> int | None:
    """Keep the device alive with heartbeats until the hub closes the connection; its close code."""
    try:
        while True:
            await ws.send(protocol.encode('heartbeat', {}))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ws.recv(), 0.2)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


async def register(registry: DeviceRegistryService, hall: Hall, code: str) -> str:
    draft = DeviceDraft(code, 'seat', f'{code} 新座椅', zone_id=await waiting_zone(hall), x=120, y=120)
    return (await registry.register(ADMIN, draft)).credential


async def test_a_device_registered_in_another_process_connects_without_a_restart(
    hall: Hall, registry: DeviceRegistryService
) -> None:
    ws, refused = await hello(hall, 'S-NEW', new_credential())
    assert ws is None and refused == CloseCode.AUTH_FAILED  # not known yet

    credential = await register(registry, hall, 'S-NEW')

    ws = await welcomed(hall, 'S-NEW', credential)
    await ws.close()


async def test_a_registered_device_is_refused_with_any_other_credential(
    hall: Hall, registry: DeviceRegistryService
) -> None:
    credential = await register(registry, hall, 'S-GUESS')
    await (await welcomed(hall, 'S-GUESS', credential)).close()
    for wrong in (new_credential(), credential.upper(), credential[:-1], 'x'):
        ws, refused = await hello(hall, 'S-GUESS', wrong)
        assert ws is None and refused == CloseCode.AUTH_FAILED, wrong
    ws, refused = await hello(hall, 'S-01', credential)  # another device's code with this credential
    assert ws is None and refused == CloseCode.AUTH_FAILED


async def test_after_a_rotation_the_open_connection_is_closed_and_only_the_new_credential_works(
    hall: Hall, registry: DeviceRegistryService
) -> None:
    old = await register(registry, hall, 'S-ROT')
    ws = await welcomed(hall, 'S-ROT', old)

    new = (await registry.rotate(ADMIN, 'S-ROT')).credential

    assert await asyncio.wait_for(closed_with(ws), WAIT) == CloseCode.REVOKED
    again, refused = await hello(hall, 'S-ROT', old)
    assert again is None and refused == CloseCode.AUTH_FAILED
    ws = await welcomed(hall, 'S-ROT', new)
    await ws.close()


async def test_a_retired_device_is_disconnected_and_refused_from_then_on(
    hall: Hall, registry: DeviceRegistryService
) -> None:
    credential = await register(registry, hall, 'S-OLD')
    ws = await welcomed(hall, 'S-OLD', credential)

    await registry.retire(ADMIN, 'S-OLD')

    assert await asyncio.wait_for(closed_with(ws), WAIT) == CloseCode.REVOKED
    again, refused = await hello(hall, 'S-OLD', credential)
    assert again is None and refused == CloseCode.AUTH_FAILED
