"""Emulators of the bridge's peripherals, one per transport, for tests and the bridge bench.

* `EscposPrinterEmulator`: a TCP server on loopback that decodes ESC/POS as a receipt printer would
  (text in GB18030, QR codes, cuts) and answers real-time status queries (DLE EOT) from its state
  (paper out, cover open, or garbage for a broken printer).
* `SerialPair`: a pty pair; the bridge opens `.port` like a serial device, the test writes and reads
  the other end (a scanner's lines, a display's bytes, a serial card reader's output).
* `IdServiceEmulator`: the vendor's local card reading service over HTTP (JSON answers, or garbage).
* `KeyboardWedge`: a FIFO that carries Linux input events as a USB HID scanner's keystrokes.
* `make_video`: a small video file of a face for the camera.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import struct
import tty
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ESC, GS, DLE, LF = 0x1B, 0x1D, 0x10, 0x0A


@dataclass
class Receipt:
    """One cut-off receipt as the emulated printer printed it."""

    lines: list[str] = field(default_factory=list)
    qr: list[str] = field(default_factory=list)


class EscposPrinterEmulator:
    def __init__(self) -> None:
        self.paper_out = False
        self.cover_open = False
        self.garbage_status = False
        self.receipts: list[Receipt] = []
        self.status_queries = 0
        self.connections = 0
        self._current = Receipt()
        self._text = bytearray()
        self._qr_store = b''
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> EscposPrinterEmulator:
        self._server = await asyncio.start_server(self._serve, '127.0.0.1', 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def status(self, n: int) -> int:
        if self.garbage_status:
            return 0xFF
        byte = 0x12
        if n == 2:
            byte |= (0x04 if self.cover_open else 0) | (0x20 if self.paper_out else 0)
        elif n == 4:
            byte |= 0x60 if self.paper_out else 0
        return byte

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        buffer = bytearray()
        try:
            while chunk := await reader.read(4096):
                buffer += chunk
                for answer in self._parse(buffer):
                    writer.write(bytes([answer]))
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    def _parse(self, buffer: bytearray) -> list[int]:
        """Consume whole commands from the buffer (an incomplete one stays); returns status answers to send."""
        answers: list[int] = []
        while buffer:
            used = self._command(buffer, answers)
            if used == 0:
                break
            del buffer[:used]
        return answers

    def _command(self, b: bytearray, answers: list[int]) -> int:
        first = b[0]
        if first == DLE:
            if len(b) < 3:
                return 0
            self.status_queries += 1
            answers.append(self.status(b[2]))
            return 3
        if first == ESC:
            if len(b) < 2:
                return 0
            if b[1] == ord('@'):
                return 2
            return 3 if len(b) >= 3 else 0
        if first == GS:
            if len(b) < 3:
                return 0
            if b[1] == ord('V'):
                if b[2] in (65, 66):
                    if len(b) < 4:
                        return 0
                    self._cut()
                    return 4
                self._cut()
                return 3
            if b[1] == ord('(') and b[2] == ord('k'):
                if len(b) < 5:
                    return 0
                size = b[3] + 256 * b[4]
                if len(b) < 5 + size:
                    return 0
                data = bytes(b[5 : 5 + size])
                if data[1:2] == b'P':
                    self._qr_store = data[3:]
                elif data[1:2] == b'Q':
                    self._current.qr.append(self._qr_store.decode('ascii', errors='replace'))
                return 5 + size
            return 3
        if first == LF:
            self._line()
            return 1
        self._text.append(first)
        return 1

    def _line(self) -> None:
        if self._text:
            self._current.lines.append(self._text.decode('gb18030', errors='replace'))
        self._text.clear()

    def _cut(self) -> None:
        self._line()
        self.receipts.append(self._current)
        self._current = Receipt()


class SerialPair:
    """A pty: `.port` is the device path the bridge opens; the test uses the controller end."""

    def __init__(self) -> None:
        self.controller, self._device = os.openpty()
        tty.setraw(self.controller)
        tty.setraw(self._device)
        self.port = os.ttyname(self._device)
        os.set_blocking(self.controller, False)
        self._received = bytearray()

    async def send(self, data: bytes) -> None:
        """Write it all, yielding while the pty is full (the bridge reads the other end in this loop)."""
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.controller, view) :]
            except BlockingIOError:
                await asyncio.sleep(0.001)

    def read_available(self) -> bytes:
        with contextlib.suppress(BlockingIOError, OSError):
            while chunk := os.read(self.controller, 65536):
                self._received += chunk
        return bytes(self._received)

    def close(self) -> None:
        for fd in (self.controller, self._device):
            with contextlib.suppress(OSError):
                os.close(fd)


class IdServiceEmulator:
    """The vendor's local reading service: GET or POST /readcard answers with the card on the reader."""

    def __init__(self) -> None:
        self.card: dict[str, Any] | None = None  # e.g. {'certNumber': ..., 'partyName': ...}
        self.raw: bytes | None = None  # when set, answered as is (a broken service)
        self.requests = 0
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f'http://127.0.0.1:{self.port}/readcard'

    async def start(self, port: int = 0) -> IdServiceEmulator:
        """Listen on `port` (0: a free one; the same port again after `stop`: the service restarted)."""
        self._server = await asyncio.start_server(self._serve, '127.0.0.1', port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def answer(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if self.card is None:
            return json.dumps({'retcode': '0x41', 'message': 'no card'}).encode()
        return json.dumps({'retcode': '0x90', **self.card}, ensure_ascii=False).encode()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b'\r\n\r\n')
            self.requests += 1
            body = self.answer()
            head = f'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n'
            writer.write(head.encode() + b'Connection: close\r\n\r\n' + body)
            await writer.drain()
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


KEY_EVENT = struct.Struct('llHHi')
KEYCODES = {ch: 2 + i for i, ch in enumerate('1234567890-=')} | {
    ch: first + i
    for first, row in {16: 'qwertyuiop[]', 30: "asdfghjkl;'`", 44: 'zxcvbnm,./'}.items()
    for i, ch in enumerate(row)
}

SHIFTED_KEYCODES = dict(zip('!@#$%^&*()_+', range(2, 14), strict=True)) | {
    '{': 26,
    '}': 27,
    ':': 39,
    '"': 40,
    '~': 41,
    '|': 43,
    '<': 51,
    '>': 52,
    '?': 53,
}


class KeyboardWedge:
    """A FIFO standing in for `/dev/input/event*`: the test types codes, the bridge reads key events."""

    def __init__(self, path: Path) -> None:
        self.path = path
        os.mkfifo(path)
        self._fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)  # held open: the reader never sees EOF

    def events(self, text: str) -> bytes:
        out = bytearray()
        for ch in text:
            shifted = ch.isupper() or ch in SHIFTED_KEYCODES
            code = SHIFTED_KEYCODES.get(ch) or KEYCODES.get(ch.lower())
            if code is None:
                code = 0x70  # a key with no character (a scanner sending something odd)
            if shifted:
                out += KEY_EVENT.pack(0, 0, 1, 42, 1)
            out += KEY_EVENT.pack(0, 0, 1, code, 1) + KEY_EVENT.pack(0, 0, 1, code, 0)
            if shifted:
                out += KEY_EVENT.pack(0, 0, 1, 42, 0)
        out += KEY_EVENT.pack(0, 0, 1, 28, 1) + KEY_EVENT.pack(0, 0, 1, 28, 0)
        return bytes(out)

    def type(self, text: str) -> None:
        os.write(self._fd, self.events(text))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)


def make_video(path: Path, *, frames: int = 6, side: int = 960) -> Path:
    """A short MJPEG video of a face (scikit-image's astronaut), `side` pixels square."""
    import cv2
    from skimage import data

    picture = cv2.resize(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR), (side, side))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), 5.0, (side, side))
    try:
        for _ in range(frames):
            writer.write(picture)
    finally:
        writer.release()
    return path


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return '{' + ', '.join(f'{k} = {toml_value(v)}' for k, v in value.items()) + '}'
    return json.dumps(str(value), ensure_ascii=False)


def write_config(
    directory: Path, hub: str, peripherals: dict[str, list[dict[str, Any]]], credentials: dict[str, str]
) -> Path:
    """A bridge.toml in `directory` and one private credential file per device (`credentials`: code -> value)."""
    keys = directory / 'credentials'
    keys.mkdir(exist_ok=True, mode=0o700)
    for code, credential in credentials.items():
        path = keys / f'{code}.key'
        path.write_text(credential + '\n')
        path.chmod(0o600)
    lines = [f'hub = {toml_value(hub)}', f'credentials_dir = {toml_value(keys)}']
    for section, tables in peripherals.items():
        for table in tables:
            lines += ['', f'[[{section}]]'] + [f'{k} = {toml_value(v)}' for k, v in table.items()]
    config = directory / 'bridge.toml'
    config.write_text('\n'.join(lines) + '\n', encoding='utf-8')
    return config
