"""QR/barcode scanners: serial (pyserial-asyncio-fast) or a USB HID keyboard wedge, one code per line.

A scanner is a stream of bytes the bridge does not control, so every line is bounded and checked
here before anything is sent: over-long lines (no terminator within 512 characters), text that is
not UTF-8, and control characters are dropped on the bridge and never reach the hub. Codes are never
logged. The keyboard wedge is read from its Linux input device (`/dev/input/by-id/...-event-kbd`),
grabbed so its keystrokes do not also land in the kiosk's browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import struct
from collections.abc import Iterator
from typing import Any

import serial_asyncio_fast

from devices.bridge.link import BridgedPeripheral, Check

MAX_CODE = 512  # the protocol's qr_text limit
TERMINATORS = b'\r\n'
EVENT = struct.Struct('llHHi')  # struct input_event on 64-bit Linux: time, type, code, value
EV_KEY = 1
EVIOCGRAB = 0x40044590
SHIFT_KEYS = frozenset({42, 54})
ENTER_KEYS = frozenset({28, 96})
# Linux key codes of a US keyboard layout (what scanners emulate): plain and shifted characters.
_ROWS = {2: '1234567890-=', 16: 'qwertyuiop[]', 30: "asdfghjkl;'`", 43: '\\zxcvbnm,./'}
_SHIFTED_ROWS = {2: '!@#$%^&*()_+', 16: 'QWERTYUIOP{}', 30: 'ASDFGHJKL:"~', 43: '|ZXCVBNM<>?'}
KEYMAP = {first + i: ch for first, row in _ROWS.items() for i, ch in enumerate(row)} | {57: ' '}
SHIFTED = {first + i: ch for first, row in _SHIFTED_ROWS.items() for i, ch in enumerate(row)} | {57: ' '}


class LineAssembler:
    """Bytes in, complete lines out; a line longer than `limit` is discarded up to its terminator."""

    def __init__(self, limit: int = MAX_CODE) -> None:
        self.limit = limit
        self._buffer = bytearray()
        self._overflow = False
        self.overflows = 0

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        for byte in chunk:
            if byte in TERMINATORS:
                if self._overflow:
                    self._overflow = False
                elif self._buffer:
                    yield bytes(self._buffer)
                self._buffer.clear()
            elif self._overflow:
                continue
            elif len(self._buffer) >= self.limit * 4:  # UTF-8: at most 4 bytes a character
                self._buffer.clear()
                self._overflow = True
                self.overflows += 1
            else:
                self._buffer.append(byte)


def clean_code(line: bytes) -> str | None:
    """The scanned text, or None if it is not a code a scanner could have meant (garbled, too long, control bytes)."""
    try:
        text = line.decode('utf-8').strip()
    except UnicodeDecodeError:
        return None
    if not text or len(text) > MAX_CODE or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        return None
    return text


class Scanner(BridgedPeripheral):
    what = 'scanner'

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines = LineAssembler()

    async def handle(self, chunk: bytes) -> None:
        overflows = self.lines.overflows
        for line in self.lines.feed(chunk):
            text = clean_code(line)
            if text is None:
                self.drop(f'not a readable code ({len(line)} bytes)')
            else:
                await self.deliver('qr_text', {'text': text})
        if self.lines.overflows > overflows:
            self.drop(f'a code longer than {MAX_CODE} characters')


class SerialScanner(Scanner):
    """A scanner on a serial port (RS-232, or USB in CDC/virtual COM mode)."""

    async def work(self) -> None:
        port = self.spec.text('port')
        reader, writer = await serial_asyncio_fast.open_serial_connection(
            url=port, baudrate=self.spec.integer('baudrate', 9600)
        )
        try:
            await self.hardware_up()
            while True:
                chunk = await reader.read(4096)
                if not chunk:
                    raise ConnectionError(f'{port} closed')
                await self.handle(chunk)
        finally:
            writer.close()

    async def check_hardware(self, check: Check) -> None:
        port = self.spec.text('port')
        try:
            _, writer = await serial_asyncio_fast.open_serial_connection(
                url=port, baudrate=self.spec.integer('baudrate', 9600)
            )
        except (OSError, ValueError) as error:
            check.fail(
                f'serial port {port} cannot be opened ({error}): is the scanner plugged in, is it the right '
                f'port (ls /dev/serial/by-id/), is the bridge user in the "dialout" group?'
            )
            return
        writer.close()
        check.ok(f'serial port {port} opens; scan a code while the bridge runs to see it arrive')


class KeyboardScanner(Scanner):
    """A USB HID scanner that types like a keyboard, read from its input device and grabbed from the desktop."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shift = False

    def keys(self, data: bytes) -> bytes:
        """Key presses (input events) to the text they type; Enter ends a code."""
        typed: list[str] = []
        for _, _, type_, code, value in EVENT.iter_unpack(data[: len(data) - len(data) % EVENT.size]):
            if type_ != EV_KEY:
                continue
            if code in SHIFT_KEYS:
                self._shift = value != 0
            elif value == 1 and code in ENTER_KEYS:
                typed.append('\n')
            elif value == 1:
                typed.append((SHIFTED if self._shift else KEYMAP).get(code, '\x00'))
        return ''.join(typed).encode()

    async def work(self) -> None:
        path = self.spec.text('path')
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[bytes] = asyncio.Queue()
        pending = bytearray()

        def readable() -> None:
            try:
                data = os.read(fd, EVENT.size * 64)
            except BlockingIOError:
                return
            except OSError:
                data = b''
            chunks.put_nowait(data)

        with contextlib.suppress(OSError):  # a FIFO (tests) cannot be grabbed; a real input device can
            fcntl.ioctl(fd, EVIOCGRAB, 1)
        loop.add_reader(fd, readable)
        try:
            await self.hardware_up()
            while True:
                data = await chunks.get()
                if not data:
                    raise ConnectionError(f'{path} went away')
                pending += data
                whole = len(pending) - len(pending) % EVENT.size
                await self.handle(self.keys(bytes(pending[:whole])))
                del pending[:whole]
        finally:
            loop.remove_reader(fd)
            os.close(fd)

    async def check_hardware(self, check: Check) -> None:
        path = self.spec.text('path')
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as error:
            check.fail(
                f'keyboard scanner {path} cannot be opened ({error.strerror}): is it plugged in '
                f'(ls /dev/input/by-id/), is the bridge user in the "input" group?'
            )
            return
        os.close(fd)
        check.ok(f'keyboard scanner {path} opens; scan a code while the bridge runs to see it arrive')
