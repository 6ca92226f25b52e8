"""Face camera: frames identified through FaceEngine against the consented gallery; answers, never guesses."""

from __future__ import annotations

import dataclasses
import io
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import matplotlib
import numpy as np
import pytest
from PIL import Image
from skimage import data
from sqlmodel import col, select, update

from app.db import Database
from app.events import FaceMatched
from app.models.device import Device, DeviceKind
from app.models.operations import DeviceEvent
from app.settings import Settings
from devices.gallery import FaceGallery
from devices.sim import samples
from tests.conftest import FakeClock
from tests.devices.hubharness import FAST, HubHarness
from tests.factories import SmallHall

ASTRONAUT = 7


def jpeg(pixels: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(pixels).convert('RGB').save(buffer, format='JPEG', quality=90)
    return samples.b64(buffer.getvalue())


class ScriptedEngine:
    """Stands in for devices.face.FaceEngine: answers what it is told, after an optional delay."""

    def __init__(self, outcome: str = 'match', *, delay: float = 0.0) -> None:
        self.outcome, self.delay = outcome, delay
        self.gallery: list[tuple[int, bytes]] = []
        self.images: list[tuple[int, ...]] = []

    def load_gallery(self, entries: list[tuple[int, bytes]]) -> None:
        self.gallery = entries

    def identify(self, image: np.ndarray) -> SimpleNamespace:
        self.images.append(image.shape)
        time.sleep(self.delay)
        citizen = ASTRONAUT if self.outcome == 'match' else None
        return SimpleNamespace(outcome=self.outcome, citizen_id=citizen, distance=0.2 if citizen else None)


async def entries() -> list[tuple[int, bytes]]:
    return [(ASTRONAUT, np.zeros(128).tobytes())]


@pytest.fixture
async def camera_hub(
    sqlite_db: Database, settings: Settings, device_hall: SmallHall, clock: FakeClock
) -> AsyncIterator[tuple[HubHarness, FaceGallery]]:
    engine = ScriptedEngine()
    gallery = FaceGallery(lambda: engine, entries)
    tuning = dataclasses.replace(FAST, face_time_limit=0.3)
    harness = HubHarness(sqlite_db, settings, device_hall.hall_id, clock=clock, faces=gallery, tuning=tuning)
    await harness.start()
    yield harness, gallery
    await harness.stop()


async def test_the_real_engine_matches_the_enrolled_person_and_not_a_stranger(
    sqlite_db: Database, settings: Settings, device_hall: SmallHall, clock: FakeClock
) -> None:
    from devices.face import FaceEngine

    engine = FaceEngine()
    astronaut = data.astronaut()
    (enrolled,) = engine.encode(astronaut)

    async def consented() -> list[tuple[int, bytes]]:
        return [(ASTRONAUT, enrolled.astype(np.float64).tobytes())]

    gallery = FaceGallery(lambda: engine, consented)
    harness = await HubHarness(sqlite_db, settings, device_hall.hall_id, clock=clock, faces=gallery).start()
    try:
        client = harness.client('K01-CAM')
        await client.connected.wait()
        await harness.service.sweep()  # a camera is connected: the gallery is loaded
        crop = np.asarray(Image.fromarray(astronaut[0:400, 50:400]).resize((400, 457)))
        hopper = np.asarray(Image.open(Path(matplotlib.get_data_path()) / 'sample_data' / 'grace_hopper.jpg'))
        for pixels in (crop, hopper, data.camera()):
            await client.send('face_image', {'image': jpeg(pixels), 'format': 'jpeg'})
        await harness.bus.drain()
        outcomes = [(e.outcome, e.citizen_id) for e in harness.events_of(FaceMatched)]
        assert outcomes == [('match', ASTRONAUT), ('no_match', None), ('no_face', None)]
    finally:
        await harness.stop()


async def test_frames_reach_the_engine_downscaled_and_leave_nothing_behind(
    camera_hub: tuple[HubHarness, FaceGallery],
) -> None:
    harness, gallery = camera_hub
    client = harness.client('K01-CAM')
    await client.connected.wait()
    await harness.service.sweep()
    assert gallery.engine is not None and gallery.engine.gallery == await entries()  # type: ignore[attr-defined]
    big = np.full((1500, 2000, 3), 128, np.uint8)
    await client.send('face_image', {'image': jpeg(big), 'format': 'jpeg', 'session_id': 'k1'})
    await harness.bus.drain()
    (event,) = harness.events_of(FaceMatched)
    assert (event.outcome, event.citizen_id, event.session_id) == ('match', ASTRONAUT, 'k1')
    assert gallery.engine.images == [(768, 1024, 3)]  # type: ignore[attr-defined]
    await harness.service.recorder.flush()
    async with harness.db.read_session() as s:
        rows = (await s.execute(select(DeviceEvent).where(DeviceEvent.kind == 'face'))).scalars().all()
    assert [row.detail for row in rows] == [{'outcome': 'match'}]  # no image, no encoding, no distance


async def test_a_slow_or_failing_search_is_unavailable_never_a_guess(
    camera_hub: tuple[HubHarness, FaceGallery],
) -> None:
    harness, gallery = camera_hub
    client = harness.client('K01-CAM')
    await client.connected.wait()
    await client.send('face_image', {'image': jpeg(data.astronaut()), 'format': 'jpeg'})  # no gallery loaded yet
    await harness.service.sweep()
    gallery.engine.delay = 0.6  # type: ignore[union-attr]
    await client.send('face_image', {'image': jpeg(data.astronaut()), 'format': 'jpeg'})
    await client.send('face_image', {'image': samples.b64(b'\x89PNG broken'), 'format': 'png'})
    await harness.bus.drain()
    assert [(e.outcome, e.citizen_id) for e in harness.events_of(FaceMatched)] == [('unavailable', None)] * 3


async def test_the_gallery_is_rebuilt_only_when_the_consented_templates_change() -> None:
    built: list[ScriptedEngine] = []
    rows = [(1, b'a' * 1024)]

    def factory() -> ScriptedEngine:
        built.append(ScriptedEngine())
        return built[-1]

    async def load() -> list[tuple[int, bytes]]:
        return list(rows)

    gallery = FaceGallery(factory, load)
    assert await gallery.refresh() is True
    assert await gallery.refresh() is False
    rows.append((2, b'b' * 1024))  # a new 刷脸 consent
    assert await gallery.refresh() is True
    rows.pop(0)  # a revoked one
    assert await gallery.refresh() is True
    assert len(built) == 1 and built[0].gallery == [(2, b'b' * 1024)]


async def test_a_hall_with_cameras_loads_the_models_at_start_and_one_without_never_does(
    sqlite_db: Database, settings: Settings, device_hall: SmallHall, clock: FakeClock
) -> None:
    built: list[ScriptedEngine] = []

    def factory() -> ScriptedEngine:
        built.append(ScriptedEngine())
        return built[-1]

    gallery = FaceGallery(factory, entries)
    harness = HubHarness(sqlite_db, settings, device_hall.hall_id, clock=clock, faces=gallery)
    await harness.service.start()  # no camera has connected, the hub does not even listen yet
    try:
        assert len(built) == 1  # paid before the hall serves, not in the middle of its first requests
        assert gallery.engine is None  # no gallery yet: a frame now is 'unavailable', never searched against nothing
        await gallery.refresh()
        assert len(built) == 1 and gallery.engine is built[0] and built[0].gallery == await entries()
    finally:
        await harness.service.stop()

    async with sqlite_db.session() as s, s.begin():
        await s.execute(update(Device).where(col(Device.kind) == DeviceKind.CAMERA).values(retired_at=clock()))
    without = FaceGallery(factory, entries)
    harness = HubHarness(sqlite_db, settings, device_hall.hall_id, clock=clock, faces=without)
    await harness.service.start()
    try:
        assert len(built) == 1 and without.engine is None
    finally:
        await harness.service.stop()
