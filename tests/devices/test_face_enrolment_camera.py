"""刷脸 enrolment through a camera on the real hub: real frames judged from dlib's landmarks, simulated landmarks
honoured only in the simulated hall, and a capture reaches only the session that asked for it."""

from __future__ import annotations

import dataclasses
import json
import random
from typing import Any

import numpy as np
from skimage import data

from app.db import Database
from app.services.face_liveness import BLINK, STILL, TURN, judge
from app.settings import Settings
from devices import protocol
from devices.face import FaceEngine
from devices.gallery import FaceGallery
from devices.sim import face_motion, samples
from devices.sim.behaviours import CameraSim, SimWorld
from devices.sim.client import DeviceClient
from tests.conftest import FakeClock
from tests.devices.hubharness import FAST, HubHarness
from tests.devices.test_camera import jpeg
from tests.factories import SmallHall

CAMERA = 'K01-CAM'
PATIENT = dataclasses.replace(FAST, heartbeat_interval=2.0)  # dlib's first calls outlast FAST's heartbeats


async def no_templates() -> list[tuple[int, bytes]]:
    return []


def camera_answering(payload: dict[str, Any]) -> Any:
    """A camera that answers `enrol_capture` with `payload` (its session id filled in), then acks."""

    async def on_command(client: DeviceClient, type_: str, command_id: str, command: dict[str, Any]) -> None:
        await client.send('face_frames', {**payload, 'session_id': command['session_id']})
        await client.ack(command_id)

    return on_command


async def capture_with(
    db: Database, settings: Settings, hall: SmallHall, clock: FakeClock, engine: FaceEngine, payload: dict[str, Any]
) -> Any:
    harness = await HubHarness(
        db, settings, hall.hall_id, clock=clock, tuning=PATIENT, faces=FaceGallery(lambda: engine, no_templates)
    ).start()
    try:
        client = harness.client(CAMERA, on_command=camera_answering(payload))
        await client.connected.wait()
        await harness.service.sweep()  # a camera is connected: the engine is loaded
        return await harness.service.capture_enrolment(CAMERA, 'K01')
    finally:
        await harness.stop()


async def test_a_real_camera_showing_a_photo_gives_dlib_landmarks_that_are_judged_still(
    sqlite_db: Database, settings: Settings, device_hall: SmallHall, clock: FakeClock
) -> None:
    engine = FaceEngine()
    photo = jpeg(data.astronaut())
    captured = await capture_with(
        sqlite_db, settings, device_hall, clock, engine, {'images': [photo] * 4, 'format': 'jpeg'}
    )
    assert captured is not None and len(captured.frames) == 4
    assert len(np.frombuffer(captured.encoding)) == 128
    verdict = judge(captured.frames)
    assert not verdict.live and verdict.reason == STILL


async def test_the_simulated_camera_sends_a_blink_and_its_sample_persons_template(
    sqlite_db: Database, settings: Settings, device_hall: SmallHall, clock: FakeClock
) -> None:
    engine = FaceEngine()
    astronaut = samples.face_jpegs()[0]
    payload = {
        'landmarks': face_motion.frames(face_motion.BLINK, random.Random(2)),
        'image': samples.b64(astronaut),
    }
    simulated = settings.model_copy(update={'device_mode': 'simulated'})
    captured = await capture_with(sqlite_db, simulated, device_hall, clock, engine, payload)
    assert captured is not None and judge(captured.frames).reason == BLINK
    result = engine.search(np.frombuffer(captured.encoding))
    assert result.outcome == 'no_match'  # a real template: searchable (the gallery is empty here)
    real = settings.model_copy(update={'device_mode': 'websocket'})
    assert await capture_with(sqlite_db, real, device_hall, clock, engine, payload) is None  # made-up landmarks


async def test_the_simulated_camera_shows_sample_people_blinking_turning_or_as_a_still_photo() -> None:
    world = SimWorld(qr=samples.QrSamples(('HT1.appt.X.Y',)), rng=random.Random(11))
    camera = CameraSim(world, 'ws://127.0.0.1:9/unused', CAMERA, 'credential')
    sent: list[tuple[str, dict[str, Any]]] = []
    acked: list[str] = []

    async def send(type_: str, data: dict[str, Any]) -> None:
        sent.append((type_, data))

    async def ack(of: str, *, ok: bool = True, error: str = '') -> None:
        acked.append(of)

    camera.client.send, camera.client.ack = send, ack  # type: ignore[method-assign]
    for n in range(12):
        await camera.on_command(camera.client, 'enrol_capture', f'c{n}', {'session_id': 'K01'})
    verdicts = set()
    for type_, payload in sent:
        frames = protocol.FaceFrames.model_validate(json.loads(json.dumps(payload)))  # as it crosses the wire
        assert type_ == 'face_frames' and frames.session_id == 'K01' and frames.image in samples.face_jpegs()
        verdicts.add(judge(frames.landmarks).reason)
    assert verdicts == {BLINK, TURN, STILL} and acked == [f'c{n}' for n in range(12)]
