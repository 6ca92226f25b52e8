"""Face camera: a frame -> FaceEngine.identify (in the image pool) -> FaceMatched.

The frame lives only in memory for the search: no image is stored or logged, and the event carries
only the outcome. 'no_match', 'ambiguous', 'no_face' and 'unavailable' (no engine, bad frame, over
the time limit) are answers the kiosk turns into the ID-card / staffed-counter fallback (人工兜底).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from app.events import FaceMatched
from app.models.device import DeviceKind
from devices import protocol
from devices.driver import Driver
from devices.health import NOMINAL_BUSY
from devices.imaging import rgb_array, run_limited

MAX_SIDE = 1024
UNAVAILABLE = 'unavailable'


class FaceAnswer(Protocol):
    outcome: str
    citizen_id: int | None
    distance: float | None


class CameraDriver(Driver):
    kind = DeviceKind.CAMERA

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
