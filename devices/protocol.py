"""The device protocol: versioned JSON frames, their schemas per device kind, limits and close codes.

One module owns the wire format so the hub, the drivers, the simulator and docs/device-protocol.md
agree. Every frame is `{"v": 1, "id": "<msg id>", "type": "...", "ts": <epoch s>, "data": {...}}`.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import uuid
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from app.models.device import DeviceKind

VERSION = 1
PATH = '/ws/devices'
MAX_FRAME_BYTES = 16 * 1024
MAX_IMAGE_FRAME_BYTES = 512 * 1024
# The server's websocket limit (uvicorn ws_max_size, for /ws/devices and NiceGUI's socket.io alike): the largest
# frame plus room, so a slightly oversized image still gets a readable `too_large` error; beyond it the
# transport closes with 1009 before the hub reads anything.
MAX_MESSAGE_BYTES = MAX_IMAGE_FRAME_BYTES + 64 * 1024
IMAGE_TYPES = frozenset({'qr_image', 'face_image', 'face_frames'})
IMAGE_KINDS = frozenset({DeviceKind.QR_SCANNER, DeviceKind.CAMERA})
TOKEN = r'^[A-Za-z0-9._:-]+$'


class CloseCode(IntEnum):
    NORMAL = 1000
    GOING_AWAY = 1001
    POLICY = 1008  # too many rejected frames on one connection
    MESSAGE_TOO_BIG = 1009  # over MAX_MESSAGE_BYTES: sent by the server's websocket, before the hub reads the frame
    SERVER_RESTART = 1012  # the server is shutting down (sent by uvicorn, seen by the hub as the disconnect code)
    TRY_AGAIN_LATER = 1013  # the hub is starting or stopping, or too many connections are waiting for hello
    BAD_HELLO = 4400
    AUTH_FAILED = 4401
    REVOKED = 4403  # the credential this connection said hello with was rotated, or the device retired
    TIMEOUT = 4408  # no hello in time, or heartbeats missed
    REPLACED = 4409  # the same device connected again


class Reason(StrEnum):
    """Why a frame or connection was refused: the `code` of error frames and the keys of the hub's counters."""

    MALFORMED = 'malformed'
    TOO_LARGE = 'too_large'
    BINARY = 'binary'
    UNSUPPORTED_VERSION = 'unsupported_version'
    UNKNOWN_TYPE = 'unknown_type'
    WRONG_KIND = 'wrong_kind'
    INVALID_DATA = 'invalid_data'
    UNEXPECTED_HELLO = 'unexpected_hello'
    HANDLER_FAILED = 'handler_failed'
    UNAUTHENTICATED = 'unauthenticated'
    AUTH_FAILED = 'auth_failed'
    HELLO_TIMEOUT = 'hello_timeout'
    NOT_READY = 'not_ready'
    TOO_MANY_PENDING = 'too_many_pending'
    TOO_MANY_ERRORS = 'too_many_errors'


class FrameRejected(Exception):
    def __init__(self, reason: Reason, message: str, *, of: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.of = of


class Payload(BaseModel):
    model_config = ConfigDict(extra='forbid', frozen=True)


def _decode_image(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as error:
        raise ValueError('image must be standard base64') from error


# ---- device -> hub -----------------------------------------------------------------------------


class Hello(Payload):
    device: str = Field(min_length=1, max_length=32)
    credential: str = Field(min_length=1, max_length=128)
    firmware: str = Field(default='', max_length=64)


class Heartbeat(Payload):
    pass


class Fault(Payload):
    code: str = Field(min_length=1, max_length=32, pattern=r'^[a-z_]+$')
    detail: str = Field(default='', max_length=200)


class Recovered(Payload):
    pass


class Ack(Payload):
    """A device's answer to a command: `ok` false carries an error code (e.g. paper_out)."""

    of: str = Field(min_length=1, max_length=64)
    ok: bool = True
    error: str = Field(default='', max_length=32)


class CardReadData(Payload):
    id_number: str = Field(min_length=1, max_length=32)
    name: str = Field(default='', max_length=50)
    session_id: str = Field(default='', max_length=64)


class ImageData(Payload):
    image: bytes
    format: Literal['jpeg', 'png']
    session_id: str = Field(default='', max_length=64)

    @field_validator('image', mode='before')
    @classmethod
    def _base64(cls, value: Any) -> bytes:
        if not isinstance(value, str):
            raise ValueError('image must be a base64 string')
        return _decode_image(value)


MAX_ENROL_FRAMES = 12
Point = tuple[float, float]


class FaceFrames(Payload):
    """A 刷脸 enrolment capture (answer to `enrol_capture`): a real camera sends `images`, a few small frames
    a fraction of a second apart; the simulated camera sends `landmarks` per frame and one real sample `image`
    for the template (honoured only with DEVICE_MODE=simulated). Either way one liveness rule judges them."""

    session_id: str = Field(min_length=1, max_length=64)
    format: Literal['jpeg', 'png'] = 'jpeg'
    images: list[bytes] = Field(default_factory=list, max_length=MAX_ENROL_FRAMES)
    landmarks: list[dict[str, list[Point]]] = Field(default_factory=list, max_length=MAX_ENROL_FRAMES)
    image: bytes | None = None

    @field_validator('images', mode='before')
    @classmethod
    def _base64_list(cls, value: Any) -> list[bytes]:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ValueError('images must be a list of base64 strings')
        return [_decode_image(item) for item in value]

    @field_validator('image', mode='before')
    @classmethod
    def _base64(cls, value: Any) -> bytes | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError('image must be a base64 string')
        return _decode_image(value)

    @model_validator(mode='after')
    def _one_kind(self) -> FaceFrames:
        if bool(self.images) == bool(self.landmarks) or (self.landmarks and self.image is None):
            raise ValueError('send images, or landmarks with one image')
        return self


class QrText(Payload):
    text: str = Field(min_length=1, max_length=512)
    session_id: str = Field(default='', max_length=64)


class Announced(Payload):
    of: str = Field(min_length=1, max_length=64)


class Rating(Payload):
    """A rating pad's one tap: the ticket it was shown (`show_rating`) and the level chosen."""

    ticket: int = Field(ge=1)
    level: str = Field(min_length=1, max_length=16, pattern=TOKEN)


class Occupancy(Payload):
    occupied: bool


class SessionStart(Payload):
    session_id: str = Field(min_length=1, max_length=64)


class SessionEnd(Payload):
    session_id: str = Field(min_length=1, max_length=64)
    outcome: str = Field(default='', max_length=32)


class Help(Payload):
    session_id: str = Field(default='', max_length=64)
    note: str = Field(default='', max_length=200)


COMMON_TYPES: dict[str, type[Payload]] = {
    'heartbeat': Heartbeat,
    'fault': Fault,
    'recovered': Recovered,
    'ack': Ack,
}

KIND_TYPES: dict[DeviceKind, dict[str, type[Payload]]] = {
    DeviceKind.ID_READER: {'card_read': CardReadData},
    DeviceKind.QR_SCANNER: {'qr_image': ImageData, 'qr_text': QrText},
    DeviceKind.CAMERA: {'face_image': ImageData, 'face_frames': FaceFrames},
    DeviceKind.PRINTER: {},
    DeviceKind.CALL_DISPLAY: {'announced': Announced},
    DeviceKind.SEAT: {'occupancy': Occupancy},
    DeviceKind.RATING_PAD: {'rating': Rating},
    DeviceKind.KIOSK: {'session_start': SessionStart, 'session_end': SessionEnd, 'help': Help},
}

KNOWN_TYPES = frozenset(COMMON_TYPES) | {name for types in KIND_TYPES.values() for name in types} | {'hello'}


# ---- frames ------------------------------------------------------------------------------------


class Envelope(BaseModel):
    model_config = ConfigDict(extra='forbid')

    v: int
    id: str = Field(min_length=1, max_length=64, pattern=TOKEN)
    type: str = Field(min_length=1, max_length=32)
    ts: float | None = None
    data: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class Frame:
    id: str
    type: str
    data: Payload


def new_id() -> str:
    return uuid.uuid4().hex


def encode(type_: str, data: dict[str, Any] | None = None, *, id_: str | None = None) -> str:
    """A frame as text; hub frames carry the hub's clock in `ts`."""
    frame = {'v': VERSION, 'id': id_ or new_id(), 'type': type_, 'ts': round(time.time(), 3), 'data': data or {}}
    return json.dumps(frame, ensure_ascii=False, separators=(',', ':'))


def size_limit(kind: DeviceKind | None) -> int:
    """The largest frame a device of this kind may send (image kinds send camera frames)."""
    return MAX_IMAGE_FRAME_BYTES if kind in IMAGE_KINDS else MAX_FRAME_BYTES


def _envelope(raw: str | bytes, limit: int) -> Envelope:
    if isinstance(raw, bytes):
        raise FrameRejected(Reason.BINARY, 'frames are JSON text, not binary')
    size = len(raw.encode())
    if size > limit:
        raise FrameRejected(Reason.TOO_LARGE, f'frame has {size} bytes, the limit is {limit}')
    try:
        document = json.loads(raw)
    except ValueError:
        raise FrameRejected(Reason.MALFORMED, 'not valid JSON') from None
    try:
        envelope = Envelope.model_validate(document)
    except ValidationError as error:
        of = document.get('id') if isinstance(document, dict) and isinstance(document.get('id'), str) else None
        raise FrameRejected(Reason.MALFORMED, _first_error(error), of=of[:64] if of else None) from None
    if envelope.v != VERSION:
        raise FrameRejected(Reason.UNSUPPORTED_VERSION, f'protocol version {VERSION} only', of=envelope.id)
    if size > MAX_FRAME_BYTES and envelope.type not in IMAGE_TYPES:
        raise FrameRejected(
            Reason.TOO_LARGE, f'{envelope.type} frames are limited to {MAX_FRAME_BYTES} bytes', of=envelope.id
        )
    return envelope


def _payload(model: type[Payload], envelope: Envelope) -> Payload:
    try:
        return model.model_validate(envelope.data)
    except ValidationError as error:
        raise FrameRejected(Reason.INVALID_DATA, _first_error(error), of=envelope.id) from None


def decode_hello(raw: str | bytes) -> Frame:
    """The first frame of a connection; anything but a valid hello is refused."""
    envelope = _envelope(raw, MAX_FRAME_BYTES)
    if envelope.type != 'hello':
        raise FrameRejected(Reason.UNAUTHENTICATED, 'the first frame must be hello', of=envelope.id)
    return Frame(envelope.id, envelope.type, _payload(Hello, envelope))


def decode(raw: str | bytes, kind: DeviceKind) -> Frame:
    """A frame from an authenticated device of `kind`, validated against its type's schema."""
    envelope = _envelope(raw, size_limit(kind))
    model = COMMON_TYPES.get(envelope.type) or KIND_TYPES[kind].get(envelope.type)
    if model is None:
        if envelope.type == 'hello':
            raise FrameRejected(Reason.UNEXPECTED_HELLO, 'already authenticated', of=envelope.id)
        if envelope.type in KNOWN_TYPES:
            raise FrameRejected(Reason.WRONG_KIND, f'a {kind} does not send {envelope.type}', of=envelope.id)
        raise FrameRejected(Reason.UNKNOWN_TYPE, f'unknown frame type {envelope.type!r}', of=envelope.id)
    return Frame(envelope.id, envelope.type, _payload(model, envelope))


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = '.'.join(str(part) for part in first['loc'])
    return f'{where}: {first["msg"]}' if where else str(first['msg'])
