"""One peripheral on the bridge: its own hall connection, its hardware loop, and its availability.

Each peripheral is its own hall device (own code, own credential, own websocket), so a printer
that is out of paper never holds up the scanner beside it. Two things are tracked and each change
is logged once: the link to the hall (welcomed / lost) and the hardware (working / a fault code).
A hardware fault is reported to the hub as a `fault` frame and its end as `recovered`, and a
standing fault is reported again after every reconnect. What a peripheral reads (a scanned code,
a card, a frame) is held in memory only while it is being delivered: nothing is queued on disk.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

from app import tasks
from devices.bridge.config import Peripheral
from devices.sim.client import AuthRefused, Backoff, DeviceClient, Refused

log = logging.getLogger('devices.bridge')

FIRMWARE = 'halltwin-bridge/1'
UNREACHABLE = 'unreachable'  # fault code: the bridge cannot talk to the peripheral (unplugged, off, wrong address)


class Check:
    """What `--check` found for one peripheral: lines in a technician's words, each passed or failed."""

    def __init__(self) -> None:
        self.lines: list[tuple[bool, str]] = []

    def ok(self, text: str) -> None:
        self.lines.append((True, text))

    def fail(self, text: str) -> None:
        self.lines.append((False, text))

    @property
    def passed(self) -> bool:
        return all(ok for ok, _ in self.lines)


class BridgedPeripheral:
    """Base of every bridged peripheral; subclasses implement `work` (the hardware loop) and `check_hardware`."""

    what: ClassVar[str] = 'peripheral'

    def __init__(self, spec: Peripheral, hub: str, credential: str, *, backoff: Backoff | None = None) -> None:
        self.spec = spec
        self.code = spec.device
        self.client = DeviceClient(
            hub,
            spec.device,
            credential,
            on_command=self._on_command,
            backoff=backoff,
            firmware=FIRMWARE,
            on_link=self._on_link,
        )
        self.fault: tuple[str, str] | None = None  # (code, detail) of the standing hardware fault
        self.reported: str | None = None  # the fault code the hub was last told (None: working)
        self.linked: bool | None = None
        self.refused = False  # the hall refused the credential: this peripheral has stopped
        self._hardware_known = False  # the first state is always logged
        self.hardware_backoff = Backoff(initial=0.5, maximum=10.0)
        self.dropped = 0  # inputs refused on the bridge (garbled, oversized): they never reach the hub
        self._tasks: set[asyncio.Task[Any]] = set()
        self._report_lock = asyncio.Lock()

    # ---- life ----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Until stopped; a refused credential stops this peripheral's hall link (it cannot heal by retrying)."""
        work = asyncio.get_running_loop().create_task(self._work_forever(), name=f'bridge-{self.code}')
        try:
            await self.client.run()
        except AuthRefused:
            self.refused = True
            log.error("%s: the hall refused this device's credential; check its credential file", self.code)
        finally:
            await tasks.stop(work)

    async def stop(self) -> None:
        await self.client.stop()
        for task in list(self._tasks):
            task.cancel()
        await self.close()

    async def close(self) -> None:
        """Release the hardware (subclasses)."""

    async def _work_forever(self) -> None:
        while True:
            try:
                await self.work()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a peripheral's failure must never take the bridge down
                await self.hardware_down(f'{type(error).__name__}: {error}')
            await asyncio.sleep(self.hardware_backoff.next_delay())

    async def work(self) -> None:
        """Open the hardware and serve it until it fails (subclasses); raising means: reopen after a backoff."""
        await asyncio.Event().wait()

    async def check_hardware(self, check: Check) -> None:
        """Try the hardware once and say what works (subclasses)."""

    # ---- availability --------------------------------------------------------------------------

    def _on_link(self, up: bool) -> None:
        if up == self.linked:
            return
        self.linked = up
        if up:
            log.info('%s: connected to the hall', self.code)
            self.reported = None  # a new connection starts online: tell it again about a standing fault
            self._spawn(self._report())
        else:
            log.warning('%s: lost the connection to the hall; reconnecting', self.code)

    @property
    def hardware_working(self) -> bool:
        """The peripheral's hardware was opened and has no fault (a serial port: open, so bytes now reach us)."""
        return self._hardware_known and self.fault is None

    async def hardware_up(self) -> None:
        self.hardware_backoff.reset()
        await self.set_fault(None)

    async def hardware_down(self, detail: str) -> None:
        await self.set_fault(UNREACHABLE, f'{self.what} not reachable: {detail}')

    async def set_fault(self, code: str | None, detail: str = '') -> None:
        """Log a change of the hardware's state once, and tell the hall."""
        current = self.fault[0] if self.fault else None
        if code == current and self._hardware_known:
            return
        self._hardware_known = True
        self.fault = (code, detail[:200]) if code else None
        if code:
            log.warning('%s: %s (%s)', self.code, code, detail[:200])
        else:
            log.info('%s: %s working', self.code, self.what)
        await self._report()

    async def _report(self) -> None:
        """Bring the hub's view of the fault in line with ours (sent only while connected; redone on reconnect)."""
        async with self._report_lock:
            wanted = self.fault[0] if self.fault else None
            if wanted == self.reported or not self.client.connected.is_set():
                return
            try:
                if self.fault:
                    await self.client.send('fault', {'code': self.fault[0], 'detail': self.fault[1]}, tries=1)
                else:
                    await self.client.send('recovered', tries=1)
            except (Refused, TimeoutError) as error:
                log.debug('%s: fault report not acknowledged: %s', self.code, error)
                return
            self.reported = wanted

    def hub_marked_fault(self, code: str) -> None:
        """The hub marks a device faulty when it refuses a command: remember, so `recovered` follows the fix."""
        self.reported = code

    # ---- frames --------------------------------------------------------------------------------

    async def deliver(self, type_: str, data: dict[str, Any]) -> bool:
        """Send one reading to the hub (retried with the same id); False if it could not be delivered."""
        try:
            await self.client.send(type_, data)
        except Refused as refused:
            log.warning('%s: the hall refused a %s frame (%s)', self.code, type_, refused.code)
            return False
        except TimeoutError:
            log.warning('%s: a %s frame could not be delivered (no connection to the hall)', self.code, type_)
            return False
        return True

    def drop(self, why: str) -> None:
        """An input refused on the bridge: logged (never its content), counted, and never sent."""
        self.dropped += 1
        log.warning('%s: ignored input from the %s: %s', self.code, self.what, why)

    async def _on_command(self, client: DeviceClient, type_: str, command_id: str, data: dict[str, Any]) -> None:
        try:
            await self.command(type_, command_id, data)
        except Exception:
            log.exception('%s: the %s command failed', self.code, type_)
            await client.ack(command_id, ok=False, error='hardware')

    async def command(self, type_: str, command_id: str, data: dict[str, Any]) -> None:
        """Carry out a hub command and ack it (subclasses); unknown commands are `unsupported`."""
        await self.client.ack(command_id, ok=False, error='unsupported')

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
