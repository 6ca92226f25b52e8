"""The face camera through OpenCV: a V4L2 device, an RTSP stream or a video file.

The camera sends nothing on its own: when the hub asks for a capture (a citizen at the kiosk has
agreed to 刷脸), the bridge takes the newest frame, shrinks it to at most `max_side` pixels (the
protocol asks for 640–1024), encodes it as JPEG in memory and sends it with the kiosk session's id.
No frame is written anywhere. A video file loops, so a demo or a test always has a frame.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
from typing import Any

import cv2
import numpy as np

from devices import protocol
from devices.bridge.link import BridgedPeripheral, Check

MAX_IMAGE_BYTES = 360_000  # leaves room for base64 and the envelope within the 512 KiB image frame
FLUSH_GRABS = 4  # a live stream buffers a few frames: skip them so the picture is of now


def shrink(frame: np.ndarray, max_side: int) -> np.ndarray:
    height, width = frame.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return frame
    return cv2.resize(
        frame, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA
    )


def jpeg(frame: np.ndarray) -> bytes:
    """JPEG bytes under the frame limit (lower quality, then smaller, until it fits)."""
    for quality in (85, 70, 55):
        ok, encoded = cv2.imencode('.jpg', frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok and len(encoded) <= MAX_IMAGE_BYTES:
            return encoded.tobytes()
    return jpeg(shrink(frame, max(frame.shape[:2]) * 3 // 4))


class Camera(BridgedPeripheral):
    what = 'camera'

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._capture: cv2.VideoCapture | None = None
        self._lock = asyncio.Lock()

    @property
    def source(self) -> str:
        return self.spec.text('source')

    @property
    def shown(self) -> str:
        """The source for logs, fault reports and --check: an RTSP URL without its user and password."""
        return re.sub(r'^(rtsps?://)[^@/]*@', r'\1***@', self.source)

    @property
    def live(self) -> bool:
        return self.source.startswith(('/dev/', 'rtsp://', 'rtsps://')) or self.source.isdigit()

    def _open(self) -> cv2.VideoCapture:
        if self._capture is not None and self._capture.isOpened():
            return self._capture
        source = self.source
        if source.isdigit():
            capture = cv2.VideoCapture(int(source), cv2.CAP_V4L2)
        elif source.startswith('/dev/'):
            capture = cv2.VideoCapture(source, cv2.CAP_V4L2)
        else:
            capture = cv2.VideoCapture(source, cv2.CAP_FFMPEG)
        if not capture.isOpened():
            capture.release()
            raise ConnectionError(f'cannot open {self.shown}')
        self._capture = capture
        return capture

    def _release(self) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.release()

    def _frame_blocking(self) -> np.ndarray:
        capture = self._open()
        if self.live:
            for _ in range(FLUSH_GRABS):
                capture.grab()
        ok, frame = capture.read()
        if not ok and not self.live:  # the end of a video file: start again
            capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = capture.read()
        if not ok or frame is None or frame.size == 0:
            self._release()
            raise ConnectionError(f'no picture from {self.shown}')
        return shrink(frame, self.spec.integer('max_side', 800))

    async def frame(self) -> bytes:
        """One downscaled JPEG of now, in memory only."""
        async with self._lock:
            picture = await asyncio.to_thread(self._frame_blocking)
            return await asyncio.to_thread(jpeg, picture)

    async def work(self) -> None:
        """Keep the camera open and watch that it still gives pictures (one check a `watch_seconds`)."""
        while True:
            await self.frame()
            await self.hardware_up()
            await asyncio.sleep(self.spec.number('watch_seconds', 30.0))

    async def command(self, type_: str, command_id: str, data: dict[str, Any]) -> None:
        if type_ != 'capture':
            await super().command(type_, command_id, data)
            return
        session_id = str(data.get('session_id', ''))[:64]
        try:
            image = await self.frame()
        except ConnectionError as error:
            await self.hardware_down(str(error))
            await self.client.ack(command_id, ok=False, error='unreachable')
            return
        await self.hardware_up()
        frame = {'image': base64.b64encode(image).decode(), 'format': 'jpeg', 'session_id': session_id}
        sent = await self.deliver('face_image', frame)
        await self.client.ack(command_id, ok=sent, error='' if sent else 'not_delivered')

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            async with self._lock:
                await asyncio.to_thread(self._release)

    async def check_hardware(self, check: Check) -> None:
        try:
            image = await self.frame()
        except ConnectionError as error:
            check.fail(
                f'camera {self.shown} gives no picture ({error}): is it plugged in (ls /dev/video*), is '
                f'the RTSP address and password right, is the bridge user in the "video" group?'
            )
            return
        finally:
            await self.close()
        picture = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR)
        height, width = picture.shape[:2]
        check.ok(f'camera {self.shown} gives pictures ({width}x{height} after shrinking, {len(image) // 1024} KB)')
        if max(width, height) < 640:
            check.fail(
                'the picture is smaller than 640 px: face matching needs 640–1024 px; use a better camera '
                'setting or raise max_side'
            )
        limit = protocol.MAX_IMAGE_FRAME_BYTES
        if len(image) * 4 // 3 > limit:
            check.fail('the picture is too large to send')
