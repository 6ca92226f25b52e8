"""A real hub on a free loopback port (uvicorn in the test's event loop) over a small hall with one device per kind.

`HubHarness.start()` starts a DeviceService, a DeviceHub and uvicorn; `connect(code)` opens a raw
websocket that has been welcomed, `client(code)` runs the simulator's DeviceClient; every bus event
lands in `events`, and `wait_for` polls a condition; `stop()` ends it all.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from fastapi import FastAPI
from sqlmodel import select
from websockets.asyncio.client import ClientConnection, connect

from app.bus import InProcessBus
from app.db import Database
from app.events import Event
from app.models import Hall, Window, Zone
from app.models.device import Device, DeviceKind
from app.security.credentials import credential_hash, device_credential
from app.services.evaluation import EvaluationService
from app.services.kiosk import TicketSlip
from app.settings import Settings
from devices import protocol
from devices.driver import DeviceTuning
from devices.gallery import FaceGallery
from devices.hub import DeviceHub
from devices.service import DeviceService
from devices.sim.client import Backoff, CommandHandler, DeviceClient
from tests.apphost import (
    TEST_SECRET,
    AppProcess,
    free_port,
    prepare_database_async,
    run_coroutine,
    sqlite_url,
    start_app,
)

E = TypeVar('E', bound=Event)

FAST = DeviceTuning(  # quick, yet with room for a stalled test loop: 3 s of silence before offline or a timeout
    heartbeat_interval=1.0,
    command_timeout=3.0,
    announce_timeout=3.0,
    sweep_interval=3600,
    image_time_limit=2.0,
    face_time_limit=10.0,
)
TICKET = TicketSlip(  # the slip the printer tests print
    number='A012',
    service_name='社保卡补办',
    window_hint='5号、6号窗口',
    people_ahead=3,
    eta_minutes=12,
    track_url='http://127.0.0.1:8080/track/abc123',
    taken_at=dt.datetime(2026, 11, 28, 10, 5),
)
PROMPTS = {
    'long_wait_comfort': {'zh': '您已等候超过30分钟，辛苦了！', 'en': 'You have been waiting for over 30 minutes.'},
    'device_usage_high': {'zh': '设备使用率超过80%', 'en': 'Device usage is above 80%.'},
}
# code, kind, zone ('general' has the windows, 'waiting' has none), window number, attached to
DEVICES = [
    ('K01', DeviceKind.KIOSK, 'waiting', None, None),
    ('K01-ID', DeviceKind.ID_READER, 'waiting', None, 'K01'),
    ('K01-QR', DeviceKind.QR_SCANNER, 'waiting', None, 'K01'),
    ('K01-CAM', DeviceKind.CAMERA, 'waiting', None, 'K01'),
    ('K01-PRN', DeviceKind.PRINTER, 'waiting', None, 'K01'),
    ('CD-MAIN', DeviceKind.CALL_DISPLAY, 'waiting', None, None),
    ('CD-GENERAL', DeviceKind.CALL_DISPLAY, 'general', None, None),
    ('CD-W1', DeviceKind.CALL_DISPLAY, 'general', 1, None),
    ('CD-W2', DeviceKind.CALL_DISPLAY, 'general', 2, None),
    ('S-01', DeviceKind.SEAT, 'waiting', None, None),
    ('S-02', DeviceKind.SEAT, 'waiting', None, None),
]


async def add_devices(db: Database, secret: bytes, hall_id: int) -> None:
    """Give the small test hall a waiting zone, prompts and DEVICES (credentials derived from `secret`)."""
    async with db.session() as s, s.begin():
        hall_row = await s.get(Hall, hall_id)
        assert hall_row is not None
        hall_row.prompts = PROMPTS
        s.add(Zone(hall_id=hall_id, code='waiting', name='候办区', width=500, height=300))
        await s.flush()
        zones = {z.code: z.id for z in (await s.execute(select(Zone))).scalars()}
        windows = {w.number: w.id for w in (await s.execute(select(Window))).scalars()}
        for code, kind, zone, window, attached in DEVICES:
            s.add(
                Device(
                    hall_id=hall_id,
                    code=code,
                    kind=kind,
                    zone_id=zones[zone],
                    window_id=windows[window] if window else None,
                    attached_to=attached,
                    credential_hash=credential_hash(device_credential(secret, code)),
                )
            )


class HubHarness:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        hall_id: int,
        *,
        clock: Callable[[], dt.datetime],
        tuning: DeviceTuning = FAST,
        faces: FaceGallery | None = None,
        hello_timeout: float = 1.0,
        port: int | None = None,
        evaluations: EvaluationService | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.bus = InProcessBus()
        self.service = DeviceService(
            db=db,
            bus=self.bus,
            settings=settings,
            hall_id=hall_id,
            tuning=tuning,
            faces=faces,
            clock=clock,
            evaluations=evaluations,
        )
        self.hub = DeviceHub(hello_timeout=hello_timeout)
        self.port = port or free_port()
        self.events: list[Event] = []
        self._server: uvicorn.Server | None = None
        self._serving: asyncio.Task[None] | None = None
        self._clients: list[tuple[DeviceClient, asyncio.Task[None]]] = []
        self._sockets: list[ClientConnection] = []

    @property
    def url(self) -> str:
        return f'ws://127.0.0.1:{self.port}{protocol.PATH}'

    async def start(self) -> HubHarness:
        self.bus.subscribe(self.events.append, name='test-recorder')
        await self.service.start()
        self.hub.bind(self.service)
        await self.listen()
        return self

    async def listen(self) -> None:
        """Start (or restart) only the web server: the service and its drivers keep running."""
        app = FastAPI()
        self.hub.mount(app)
        config = uvicorn.Config(app, host='127.0.0.1', port=self.port, log_level='warning', lifespan='off')
        self._server = uvicorn.Server(config)
        self._serving = asyncio.get_running_loop().create_task(self._server.serve())
        while not self._server.started:
            if self._serving.done():
                self._serving.result()
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self.hub.bind(None)
        await self.service.stop()  # first: the clients' goodbyes are then not logged as devices going offline
        for client, task in self._clients:
            await client.stop()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for ws in self._sockets:
            await ws.close()
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            await self._serving
        await self.bus.stop()

    # ---- devices -------------------------------------------------------------------------------

    def credential(self, code: str) -> str:
        return device_credential(self.settings.secret, code)

    def client(
        self,
        code: str,
        *,
        on_command: CommandHandler | None = None,
        backoff: Backoff | None = None,
        credential: str | None = None,
    ) -> DeviceClient:
        """The simulator's client, with the device's derived credential unless one (issued on /admin) is given."""
        client = DeviceClient(
            self.url,
            code,
            credential or self.credential(code),
            on_command=on_command,
            backoff=backoff or Backoff(initial=0.05, maximum=0.2, jitter=0),
            ack_timeout=1.0,
        )
        self._clients.append((client, asyncio.get_running_loop().create_task(client.run())))
        return client

    async def open(self) -> ClientConnection:
        ws = await connect(self.url, max_size=2**21)
        self._sockets.append(ws)
        return ws

    async def connect(self, code: str) -> ClientConnection:
        """A raw websocket that has said hello and been welcomed."""
        ws = await self.open()
        await send(ws, 'hello', {'device': code, 'credential': self.credential(code)})
        welcome = await receive(ws)
        assert welcome['type'] == 'welcome', welcome
        return ws

    # ---- events --------------------------------------------------------------------------------

    def events_of(self, kind: type[E], code: str | None = None) -> list[E]:
        """Published events of a kind; with `code`, only those of that device."""
        found = [e for e in self.events if isinstance(e, kind)]
        return found if code is None else [e for e in found if getattr(getattr(e, 'device', None), 'code', '') == code]

    async def wait_for(self, condition: Callable[[], Any], timeout: float = 5.0) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            result = condition()
            if result:
                return result
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f'condition not met within {timeout} s')
            await asyncio.sleep(0.01)


async def hall_with_devices(url: str) -> None:
    """Migrate `url` and build the small hall with one device per kind, credentials from the app's SECRET_KEY
    (tests/apphost.py TEST_SECRET), as a hall provisions them."""
    prepared = await prepare_database_async(url)
    assert prepared.small_hall is not None
    db = Database(url)
    try:
        await add_devices(db, TEST_SECRET.encode(), prepared.small_hall.hall_id)
    finally:
        await db.dispose()


async def send(ws: ClientConnection, type_: str, data: dict[str, Any] | None = None, *, id_: str | None = None) -> str:
    id_ = id_ or protocol.new_id()
    await ws.send(protocol.encode(type_, data, id_=id_))
    return id_


async def receive(ws: ClientConnection, timeout: float = 3.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def receive_type(ws: ClientConnection, type_: str, timeout: float = 3.0) -> dict[str, Any]:
    """The next frame of this type (acks of heartbeats and the like are skipped)."""
    while True:
        frame = await receive(ws, timeout)
        if frame['type'] == type_:
            return frame


@contextlib.contextmanager
def running_hub_app(tmp: Path) -> Iterator[AppProcess]:
    """The real app as its own process over the small hall with one device per kind, devices on the hub only.

    Credentials come from the app's SECRET_KEY (tests/apphost.py TEST_SECRET), as a hall provisions them.
    """
    url = sqlite_url(tmp / 'hall.db')
    run_coroutine(lambda: hall_with_devices(url))
    app = start_app(url, tmp, {'DEVICE_MODE': 'websocket'})
    try:
        yield app
    finally:
        app.stop()
