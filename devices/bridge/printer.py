"""Receipt printers over ESC/POS: network (TCP 9100) or USB, through python-escpos's connections.

The hub sends each ticket ready to print (`escpos`, base64); the bridge checks the printer's
real-time status first (DLE EOT 2: cover open; DLE EOT 4: paper roll) and refuses the job with
`paper_out` or `cover_open` rather than print into nothing. The status is also polled between jobs,
so a technician who opens the cover or a roll that runs out shows on the hall's map within seconds,
and the fix shows as `recovered`. python-escpos's calls block, so they run in one worker thread, one
at a time.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import importlib.util
from typing import Any

from escpos.escpos import Escpos

from devices.bridge.config import ConfigError, Peripheral
from devices.bridge.link import UNREACHABLE, BridgedPeripheral, Check

DLE_EOT = b'\x10\x04'
OFFLINE_STATUS, PAPER_STATUS = DLE_EOT + b'\x02', DLE_EOT + b'\x04'
COVER_OPEN = 0x04  # offline status, bit 2
PAPER_END = 0x60  # paper roll sensor status, bits 5 and 6
FIXED_BITS = 0x12  # bits 1 and 4 are always set in a real-time status byte; anything else is not an answer
PAPER_OUT, COVER = 'paper_out', 'cover_open'
MAX_JOB_BYTES = 64 * 1024
ADVICE = {
    PAPER_OUT: 'the paper roll is empty: put in a new roll',
    COVER: 'the printer cover is open: close it',
}


class PrinterError(OSError):
    """The printer did not answer, or answered something that is not an ESC/POS status."""


def parse_status(offline: int, paper: int) -> str | None:
    """The fault an ESC/POS printer's two status bytes show (None: ready)."""
    for byte in (offline, paper):
        if byte & 0x93 != FIXED_BITS:
            raise PrinterError(f'not an ESC/POS status byte: 0x{byte:02x}')
    if offline & COVER_OPEN:
        return COVER
    if paper & PAPER_END:
        return PAPER_OUT
    return None


class EscposPrinter(BridgedPeripheral):
    what = 'printer'

    def __init__(self, spec: Peripheral, *args: Any, **kwargs: Any) -> None:
        super().__init__(spec, *args, **kwargs)
        if spec.choice('connection', ('network', 'usb')) == 'usb' and importlib.util.find_spec('usb') is None:
            raise ConfigError(
                f"[printer] {spec.device}: USB printers need pyusb: pip install '.[usb]' in the bridge's environment"
            )
        self._device: Escpos | None = None
        self._lock = asyncio.Lock()

    @property
    def where(self) -> str:
        if self.spec.choice('connection', ('network', 'usb')) == 'usb':
            return f'USB {self.spec.integer("vendor_id", 0):04x}:{self.spec.integer("product_id", 0):04x}'
        return f'{self.spec.text("host")}:{self.spec.integer("port", 9100)}'

    def _open(self) -> Escpos:
        if self._device is not None:
            return self._device
        timeout = self.spec.number('timeout', 3.0)
        if self.spec.choice('connection', ('network', 'usb')) == 'usb':
            from escpos.printer import Usb  # needs pyusb (the `usb` extra)

            device: Escpos = Usb(
                self.spec.integer('vendor_id', 0),
                self.spec.integer('product_id', 0),
                timeout=int(timeout * 1000),
                in_ep=self.spec.integer('in_ep', 0x82),
                out_ep=self.spec.integer('out_ep', 0x01),
            )
        else:
            from escpos.printer import Network

            device = Network(self.spec.text('host'), port=self.spec.integer('port', 9100), timeout=timeout)
        device.open(raise_not_found=True)
        self._device = device
        return device

    def _drop(self) -> None:
        device, self._device = self._device, None
        if device is not None:
            with contextlib.suppress(Exception):
                device.close()

    def _query(self, device: Escpos, request: bytes) -> int:
        device._raw(request)
        answer = device._read()
        if not answer:
            raise PrinterError('no status answer')
        return int(answer[-1])

    def _status_blocking(self) -> str | None:
        try:
            device = self._open()
            return parse_status(self._query(device, OFFLINE_STATUS), self._query(device, PAPER_STATUS))
        except Exception:
            self._drop()
            raise

    def _print_blocking(self, job: bytes) -> None:
        try:
            self._open()._raw(job)
        except Exception:
            self._drop()
            raise

    async def status(self) -> str | None:
        async with self._lock:
            try:
                return await asyncio.to_thread(self._status_blocking)
            except Exception as error:
                raise PrinterError(str(error) or type(error).__name__) from error

    async def print_job(self, job: bytes) -> None:
        async with self._lock:
            try:
                await asyncio.to_thread(self._print_blocking, job)
            except Exception as error:
                raise PrinterError(str(error) or type(error).__name__) from error

    async def work(self) -> None:
        """Poll the status; a printer that stops answering is `unreachable` until it answers again."""
        while True:
            fault = await self.status()
            if fault is None:
                await self.hardware_up()
            else:
                self.hardware_backoff.reset()
                await self.set_fault(fault, ADVICE[fault])
            await asyncio.sleep(self.spec.number('status_seconds', 5.0))

    async def command(self, type_: str, command_id: str, data: dict[str, Any]) -> None:
        if type_ != 'print':
            await super().command(type_, command_id, data)
            return
        try:
            job = base64.b64decode(str(data.get('escpos', '')), validate=True)
        except binascii.Error:
            job = b''
        if not job or len(job) > MAX_JOB_BYTES:
            await self.client.ack(command_id, ok=False, error='bad_job')
            return
        try:
            fault = await self.status()
            if fault is None:
                await self.print_job(job)
        except PrinterError as error:
            await self.hardware_down(str(error))
            fault = UNREACHABLE
        if fault is not None:
            if fault != UNREACHABLE:
                await self.set_fault(fault, ADVICE[fault])
            self.hub_marked_fault(fault)  # the hub marks the printer faulty when it refuses a job
            await self.client.ack(command_id, ok=False, error=fault)
            return
        await self.client.ack(command_id)

    async def close(self) -> None:
        async with self._lock:
            await asyncio.to_thread(self._drop)

    async def check_hardware(self, check: Check) -> None:
        try:
            fault = await self.status()
        except PrinterError as error:
            check.fail(
                f'printer at {self.where} does not answer ({error}): is it switched on, is the cable in, '
                f'is the address right (print its self-test page)?'
            )
            return
        finally:
            await self.close()
        check.ok(f'printer at {self.where} answers its status')
        if fault is None:
            check.ok('paper in and cover closed')
        else:
            check.fail(ADVICE[fault])
