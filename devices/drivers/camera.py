"""Face camera: a frame -> FaceEngine.identify (in the image pool) -> FaceMatched; an enrolment capture -> FaceCapture.

The frame lives only in memory for the search: no image is stored or logged, and the event carries
only the outcome. 'no_match', 'ambiguous', 'no_face' and 'unavailable' (no engine, bad frame, over
the time limit) are answers the kiosk turns into the ID-card / staffed-counter fallback (人工兜底).

刷脸 enrolment (`capture_enrolment`): the camera answers `enrol_capture` with `face_frames`. Real cameras send
a few small images: dlib finds the landmarks of each (at 320 px) and the template of the sharpest-eyed one.
The simulated camera sends landmarks plus one sample photo, honoured only in DEVICE_MODE=simulated, so a
real device cannot skip liveness by sending made-up landmarks. The capture goes only to the kiosk session
that asked, in this process's memory; it never crosses the bus.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

import numpy as np

from app.events import FaceMatched
from app.models.device import DeviceKind
from app.services.face_enrolment import FaceCapture
from app.services.face_liveness import Landmarks, eye_aspect_ratio
from devices import protocol
from devices.driver import DeviceInfo, Driver, DriverContext
from devices.health import NOMINAL_BUSY
from devices.imaging import rgb_array, run_limited

log = logging.getLogger(__name__)

MAX_SIDE = 1024
UNAVAILABLE = 'unavailable'
ENROL_FRAMES = 6  # about a second of frames: long enough for a blink


class FaceEnrolmentEngine(Protocol):
    def encode(self, image: np.ndarray) -> list[np.ndarray]: ...

    def landmarks(self, image: np.ndarray) -> dict[str, list[tuple[float, float]]] | None: ...


class FaceAnswer(Protocol):
    outcome: str
    citizen_id: int | None
    distance: float | None


class CameraDriver(Driver):
    kind = DeviceKind.CAMERA

    def __init__(self, info: DeviceInfo, ctx: DriverContext) -> None:
        super().__init__(info, ctx)
        self._enrolments: dict[str, asyncio.Future[FaceCapture | None]] = {}

    async def capture_enrolment(self, session_id: str) -> FaceCapture | None:
        """Ask for an enrolment capture for a kiosk session: its frames' landmarks and one template, or None."""
        future: asyncio.Future[FaceCapture | None] = asyncio.get_running_loop().create_future()
        self._enrolments[session_id] = future
        tuning = self.ctx.tuning
        try:
            await self.command(
                'enrol_capture',
                {'session_id': session_id, 'frames': ENROL_FRAMES},
                timeout=tuning.command_timeout + tuning.face_time_limit,
            )
            return future.result() if future.done() else None
        finally:
            self._enrolments.pop(session_id, None)

    async def on_face_frames(self, frame: protocol.Frame) -> None:
        data = frame.data
        assert isinstance(data, protocol.FaceFrames)
        future = self._enrolments.get(data.session_id)
        if future is None or future.done():
            return  # nobody asked for it: dropped, never kept
        faces = self.ctx.faces
        if faces is not None and faces.engine is None:
            await faces.refresh()  # the first capture after start-up: load dlib's models now
        engine = faces.engine if faces else None
        capture: FaceCapture | None = None
        if engine is not None and (data.images or self.ctx.settings.device_mode == 'simulated'):
            try:
                capture = await run_limited(
                    lambda: _read_capture(engine, data), time_limit=self.ctx.tuning.face_time_limit
                )
            except (TimeoutError, ValueError):
                capture = None
        self.record('enrol_capture', {'outcome': 'captured' if capture else UNAVAILABLE})
        future.set_result(capture)

    async def capture(self, session_id: str) -> None:
        """Ask for one frame for a kiosk session: a bridged camera sends frames only when asked (nothing idle).

        The camera sends the frame (`face_image` with this session id) before it acks, so by the time
        this returns the frame has been matched and its FaceMatched published.
        """
        tuning = self.ctx.tuning
        await self.command(
            'capture', {'session_id': session_id}, timeout=tuning.command_timeout + tuning.face_time_limit
        )

    async def on_face_image(self, frame: protocol.Frame) -> None:
        data = frame.data
        assert isinstance(data, protocol.ImageData)
        engine = self.ctx.faces.engine if self.ctx.faces else None
        answer: FaceAnswer | None = None
        if engine is not None:
            image = data.image

            def identify() -> FaceAnswer:
                pixels: np.ndarray = rgb_array(image, max_side=MAX_SIDE)
                return engine.identify(pixels)

            try:
                answer = await run_limited(identify, time_limit=self.ctx.tuning.face_time_limit)
            except (TimeoutError, ValueError):  # BadImage is a ValueError, as is a frame dlib cannot use
                answer = None
        outcome = answer.outcome if answer else UNAVAILABLE
        self.count_use(outcome, busy=NOMINAL_BUSY[self.kind])
        self.record('face', {'outcome': outcome})
        await self.publish(
            FaceMatched(
                hall_id=self.info.hall_id,
                device=self.info.payload,
                outcome=outcome,
                citizen_id=answer.citizen_id if answer else None,
                distance=answer.distance if answer else None,
                session_id=data.session_id,
            )
        )


def _read_capture(engine: FaceEnrolmentEngine, data: protocol.FaceFrames) -> FaceCapture | None:
    """Landmarks per frame and the template of the frame with the widest-open eyes (the clearest face)."""
    if data.landmarks:
        assert data.image is not None
        frames: list[Landmarks] = list(data.landmarks)
        encodings = engine.encode(rgb_array(data.image, max_side=MAX_SIDE))
        return FaceCapture(frames, encodings[0].tobytes()) if encodings else None
    pictures = [rgb_array(image, max_side=MAX_SIDE) for image in data.images]
    found = [engine.landmarks(picture) for picture in pictures]
    frames = [points if points is not None else {} for points in found]
    seen = [(index, points) for index, points in enumerate(found) if points is not None]
    if not seen:
        return FaceCapture(frames, b'')
    clearest, _ = max(
        seen, key=lambda item: eye_aspect_ratio(item[1]['left_eye']) + eye_aspect_ratio(item[1]['right_eye'])
    )
    encodings = engine.encode(pictures[clearest])
    return FaceCapture(frames, encodings[0].tobytes() if encodings else b'')


def _openness(points: Landmarks) -> float:
    return eye_aspect_ratio(points['left_eye']) + eye_aspect_ratio(points['right_eye'])
