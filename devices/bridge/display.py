"""Serial LED call displays (条屏): each call the hub announces is shown as one line on the display.

LED line displays differ by controller, so the framing is configured: a text `template` (fields
`number`, `window`, `text`, `text_en`), the `encoding` (GB18030 for most Chinese controllers),
optional `prefix` / `suffix` bytes in hex (e.g. a controller's start byte and CR LF), and the longest
line it holds (`max_chars`). An LED display does not speak, so it reports `announced` after
`hold_seconds`, which keeps the hub's pacing of calls to this display as the spoken boards have it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import serial_asyncio_fast

from devices.bridge.config import ConfigError, Peripheral
from devices.bridge.link import BridgedPeripheral, Check

SAMPLE = {'number': 'A012', 'window': 5, 'text': '请 A012 号到 5 号窗口办理', 'text_en': 'Number A012, window 5'}


class LedDisplay(BridgedPeripheral):
    what = 'call display'

    def __init__(self, spec: Peripheral, *args: Any, **kwargs: Any) -> None:
        super().__init__(spec, *args, **kwargs)
        self.template = spec.text('template', '{number} 请到{window}号窗口')
        self.encoding = spec.text('encoding', 'gb18030')
        self.max_chars = spec.integer('max_chars', 64)
        try:
            self.prefix = bytes.fromhex(str(spec.get('prefix', '')))
            self.suffix = bytes.fromhex(str(spec.get('suffix', '0d0a')))
            self.line(SAMPLE)
        except (ValueError, KeyError, IndexError, LookupError) as error:
            raise ConfigError(
                f'[display] {spec.device}: template, encoding, prefix or suffix is wrong ({error})'
            ) from None
        self._writer: asyncio.StreamWriter | None = None

    @property
    def port_open(self) -> bool:
        """The serial port is open: a call now reaches the display (before it, an announce is refused)."""
        return self._writer is not None

    def line(self, call: dict[str, Any]) -> bytes:
        """The bytes for one call (the template filled in, cut to max_chars, framed)."""
        fields = {key: call.get(key, '') for key in SAMPLE}
        text = self.template.format(**fields)[: self.max_chars]
        return self.prefix + text.encode(self.encoding, errors='replace') + self.suffix

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await serial_asyncio_fast.open_serial_connection(
            url=self.spec.text('port'), baudrate=self.spec.integer('baudrate', 9600)
        )

    async def work(self) -> None:
        reader, writer = await self._open()
        self._writer = writer
        try:
            await self.hardware_up()
            while await reader.read(256):  # displays rarely talk back; EOF means the port is gone
                pass
            raise ConnectionError('serial port closed')
        finally:
            self._writer = None
            writer.close()

    async def command(self, type_: str, command_id: str, data: dict[str, Any]) -> None:
        if type_ != 'announce':
            await super().command(type_, command_id, data)
            return
        writer = self._writer
        if writer is None:
            await self.client.ack(command_id, ok=False, error='unreachable')
            return
        try:
            writer.write(self.line(data))
            async with asyncio.timeout(3.0):
                await writer.drain()
        except (OSError, TimeoutError) as error:
            await self.hardware_down(str(error))
            await self.client.ack(command_id, ok=False, error='unreachable')
            return
        await self.client.ack(command_id)
        await asyncio.sleep(self.spec.number('hold_seconds', 3.0))
        with contextlib.suppress(TimeoutError):
            await self.deliver('announced', {'of': command_id})

    async def check_hardware(self, check: Check) -> None:
        port = self.spec.text('port')
        try:
            _, writer = await self._open()
        except (OSError, ValueError) as error:
            check.fail(
                f"serial port {port} cannot be opened ({error}): is the display's cable in, is it the right "
                f'port, is the bridge user in the "dialout" group?'
            )
            return
        writer.close()
        check.ok(f'serial port {port} opens; a call will show as: {self.line(SAMPLE)!r}')
