"""刷脸 end to end in chromium: a paired kiosk reads an ID card, the citizen opts in (本次 / 同类), the simulated
camera's still photo is refused and its blink enrolled; on the next visit 刷脸取号 matches that person and the
kiosk's agreement is stored with the scope the citizen chose.

The app runs with DEVICE_MODE=simulated (simulated landmarks are honoured), and the kiosk's card reader and
camera are this test's own devices over real websockets: they send what the simulated fleet sends
(devices/sim/face_motion.py frames, devices/sim/samples.py faces), but in the order the test needs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from app.clock import utcnow
from app.db import Database
from app.models.device import Device
from app.models.security import Consent, ConsentScope, FaceEncoding
from app.security.credentials import credential_hash
from devices import protocol
from devices.sim import face_motion, samples
from devices.sim.client import DeviceClient
from tests.apphost import AppProcess, PreparedDatabase, prepare_database, run_coroutine, sqlite_url, start_app
from tests.idnumbers import make_id
from tests.kiosk_hall import CAMERA, KIOSK, READER, add_kiosk_hall
from tests.kioskpairing import pair_page

CITIZEN = make_id(dt.date(1984, 6, 7), sequence='468')
WAIT_MS = 60_000  # dlib's searches on a shared machine are slow
ENGINE_WAIT_SECONDS = 240


@dataclass
class Peripherals:
    """K01's card reader and camera, run on their own event loop; the camera shows its cues in the given order."""

    url: str
    credentials: dict[str, str]
    cues: list[str] = field(default_factory=lambda: [face_motion.STILL, face_motion.BLINK])
    face: str = field(default_factory=lambda: samples.b64(samples.face_jpegs()[0]))
    shown: list[str] = field(default_factory=list)
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)

    def start(self) -> None:
        threading.Thread(target=self.loop.run_forever, daemon=True, name='e2e-devices').start()
        self.reader = self._client(READER)
        self.camera = self._client(CAMERA, self._camera)
        for client in (self.reader, self.camera):
            self.loop.call_soon_threadsafe(lambda c=client: self.loop.create_task(c.run()))
        self._wait(self._connected())

    def _client(self, code: str, on_command: Any = None) -> DeviceClient:
        return DeviceClient(self.url, code, self.credentials[code], on_command=on_command)

    async def _connected(self) -> None:
        await asyncio.wait_for(asyncio.gather(self.reader.connected.wait(), self.camera.connected.wait()), 30)

    async def _camera(self, client: DeviceClient, type_: str, command_id: str, data: dict[str, Any]) -> None:
        """`enrol_capture`: the next cue's landmark frames and the sample face; `capture`: the same face."""
        session_id = str(data.get('session_id', ''))
        if type_ == 'enrol_capture':
            cue = self.cues.pop(0)
            self.shown.append(cue)
            frames = face_motion.frames(cue, random.Random(len(self.shown)))
            await client.send('face_frames', {'session_id': session_id, 'landmarks': frames, 'image': self.face})
        elif type_ == 'capture':
            self.shown.append('capture')
            await client.send('face_image', {'image': self.face, 'format': 'jpeg', 'session_id': session_id})
        await client.ack(command_id)

    def read_card(self) -> None:
        self._wait(self.reader.send('card_read', {'id_number': CITIZEN, 'name': '李明'}))

    def _wait(self, work: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(work, self.loop)
        return future.result(timeout=60)

    def stop(self) -> None:
        self._wait(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)

    async def _stop(self) -> None:
        await asyncio.gather(self.reader.stop(), self.camera.stop())


async def _kiosk_with_own_peripherals(url: str, hall_id: int, credentials: dict[str, str]) -> None:
    """The kiosk hall, its reader and camera holding credentials /admin issued (so no simulated twin takes them)."""
    db = Database(url)
    try:
        await add_kiosk_hall(db, hall_id)
        async with db.session() as s, s.begin():
            for device in (await s.execute(select(Device))).scalars():
                device.credential_issued_at = utcnow()
                if device.code in credentials:
                    device.credential_hash = credential_hash(credentials[device.code])
    finally:
        await db.dispose()


def _wait_for_face_engine(app: AppProcess) -> None:
    """dlib's models load once a camera connects, which can hold the app a while on a busy machine: start after."""
    deadline = time.monotonic() + ENGINE_WAIT_SECONDS
    while 'face gallery loaded' not in app.output(limit=200_000):
        assert time.monotonic() < deadline, app.output()
        time.sleep(0.5)


@pytest.fixture
def face_hall(tmp_path: Path) -> Iterator[tuple[AppProcess, PreparedDatabase, Peripherals]]:
    prepared = prepare_database(sqlite_url(tmp_path / 'hall.db'))
    assert prepared.small_hall is not None
    credentials = {code: secrets.token_urlsafe(32) for code in (READER, CAMERA)}
    run_coroutine(lambda: _kiosk_with_own_peripherals(prepared.url, prepared.small_hall.hall_id, credentials))
    with start_app(prepared.url, tmp_path, {'DEVICE_MODE': 'simulated'}) as app:
        devices = Peripherals(f'ws://127.0.0.1:{app.port}{protocol.PATH}', credentials)
        devices.start()
        _wait_for_face_engine(app)
        try:
            yield app, prepared, devices
        finally:
            devices.stop()


async def _stored(url: str) -> tuple[list[Consent], list[FaceEncoding]]:
    db = Database(url)
    try:
        async with db.read_session() as s:
            consents = list((await s.execute(select(Consent).order_by(Consent.id))).scalars())
            faces = list((await s.execute(select(FaceEncoding))).scalars())
        return consents, faces
    finally:
        await db.dispose()


def test_a_citizen_enrols_at_the_kiosk_with_a_blink_and_is_matched_by_face_on_the_next_visit(
    page: Page, face_hall: tuple[AppProcess, PreparedDatabase, Peripherals]
) -> None:
    app, prepared, devices = face_hall
    page.set_viewport_size({'width': 1080, 'height': 1920})
    pair_page(page, app.base_url, prepared.url, KIOSK)

    # the card is read at this kiosk; 开通刷脸 is offered, with its purpose and the scope
    devices.read_card()
    expect(page.get_by_test_id('kiosk-identity')).to_be_visible(timeout=WAIT_MS)
    page.get_by_test_id('kiosk-enrol-open').click()
    expect(page.get_by_test_id('kiosk-enrol-purpose')).to_be_visible()
    page.get_by_test_id('kiosk-enrol-scope').get_by_text('同类事项').click()
    expect(page.get_by_test_id('kiosk-enrol-agree')).to_be_disabled()  # the separate tick comes first
    page.get_by_test_id('kiosk-enrol-check').click()
    page.get_by_test_id('kiosk-enrol-agree').click()

    # the camera holds up a still photo: refused; then the person blinks: enrolled
    page.get_by_test_id('kiosk-enrol-capture').click()
    expect(page.get_by_text('画面静止，疑似照片')).to_be_visible(timeout=WAIT_MS)
    consents, faces = run_coroutine(lambda: _stored(prepared.url))
    assert faces == [] and [c.scope for c in consents] == [ConsentScope.SAME_KIND]
    page.get_by_test_id('kiosk-enrol-capture').click()
    expect(page.get_by_text('已开通刷脸取号')).to_be_visible(timeout=WAIT_MS)
    page.get_by_test_id('kiosk-service-SVC-C').click()
    page.get_by_test_id('kiosk-take').click()
    expect(page.get_by_test_id('kiosk-ticket-number')).to_be_visible(timeout=WAIT_MS)
    page.get_by_test_id('kiosk-ticket-done').click()

    # the next visit: 刷脸取号, this time only, and the camera finds the person just enrolled
    page.get_by_test_id('kiosk-start-face').click()
    page.get_by_test_id('kiosk-consent-scope').get_by_text('仅本次取号').click()
    page.get_by_test_id('kiosk-consent-check').click()
    page.get_by_test_id('kiosk-consent-agree').click()
    expect(page.get_by_test_id('kiosk-identity')).to_contain_text(CITIZEN[:6], timeout=WAIT_MS)
    page.get_by_test_id('kiosk-service-SVC-C').click()
    page.get_by_test_id('kiosk-take').click()
    expect(page.get_by_test_id('kiosk-ticket-number')).to_be_visible(timeout=WAIT_MS)

    assert devices.shown == [face_motion.STILL, face_motion.BLINK, 'capture']
    consents, faces = run_coroutine(lambda: _stored(prepared.url))
    enrolled, agreed = consents
    assert [face.consent_id for face in faces] == [enrolled.id], 'the 同类 template stays for later visits'
    assert (enrolled.scope, enrolled.channel) == (ConsentScope.SAME_KIND, 'kiosk')
    assert (agreed.scope, agreed.channel, agreed.citizen_id) == (ConsentScope.ONCE, 'kiosk', enrolled.citizen_id)
    assert agreed.used_at is not None and agreed.ticket_id is not None, 'the agreement went with the new ticket'
