"""The driver base: one device, its current connection, availability, heartbeats, commands and events.

Availability follows Home Assistant's coordinator: a change (online, offline, fault) is logged once
and published once; staying in a state logs nothing. A device is offline after `missed_heartbeats`
heartbeat intervals without any frame. Commands are frames with an id, answered by the device's
`ack` frame of that id, or failed by a timeout. Subclasses handle their kind's frames in
`on_<type>` methods and turn them into typed bus events.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from app.bus import Bus
from app.clock import utcnow
from app.events import DeviceHealth, DevicePayload, Event
from app.models.device import DeviceKind, DeviceState
from app.services import thresholds
from app.services.errors import DomainError
from app.services.hall_rules import RulesHolder
from app.services.principal import Principal
from app.settings import Settings
from devices import protocol
from devices.gallery import FaceGallery
from devices.health import HEALTH_EVENT, HealthRecord, UsageMeter
from devices.recorder import DeviceRecorder
from devices.transport import Transport, TransportClosed

log = logging.getLogger(__name__)


class DeviceUnavailable(DomainError):
    """A command could not be carried out: device offline, no ack in time, or refused (e.g. paper_out)."""

    status = 503


@dataclass(frozen=True)
class DeviceInfo:
    id: int
    code: str
    kind: DeviceKind
    hall_id: int
    credential_hash: str
    zone_id: int | None = None
    window_id: int | None = None
    attached_to: str | None = None

    @property
    def payload(self) -> DevicePayload:
        return DevicePayload(device_id=self.id, code=self.code, kind=self.kind)


@dataclass(frozen=True)
class DeviceTuning:
    """Timings and thresholds; the defaults are the hall's, tests shrink them."""

    heartbeat_interval: float = 10.0
    missed_heartbeats: int = 3
    command_timeout: float = 5.0
    announce_timeout: float = 15.0
    recent_ids: int = 1024
    comfort_after: dt.timedelta = thresholds.SEAT_COMFORT
    usage_window: dt.timedelta = thresholds.USAGE_WINDOW
    usage_high: float = thresholds.USAGE_HIGH
    usage_rearm: float = thresholds.USAGE_REARM
    image_time_limit: float = 1.0
    face_time_limit: float = 3.0
    sweep_interval: float = 15.0
    gallery_refresh: float = 60.0
    card_claim_seconds: float = 120.0

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> DeviceTuning:
        return cls(heartbeat_interval=settings.device_heartbeat_seconds, **overrides)


@dataclass
class DriverContext:
    """What every driver shares: where events go, where history is kept, the clock and the hall's texts."""

    bus: Bus
    recorder: DeviceRecorder
    settings: Settings
    secret: bytes  # settings.secret read once: signed QR codes are verified with it
    tuning: DeviceTuning
    faces: FaceGallery | None = None  # the consented gallery the cameras search
    hall_name: str = ''
    prompts: dict[str, Any] = field(default_factory=dict)
    clock: Callable[[], dt.datetime] = utcnow
    rules: RulesHolder = field(default_factory=RulesHolder)
    # a rating pad's tap: EvaluationService.rate_at_pad (the device service wires it; None: pads cannot rate)
    rate_at_pad: Callable[[Principal, int, str], Awaitable[object]] | None = (
        None  # the hall rules in force (the elder age), read at use
    )

    def __post_init__(self) -> None:
        self.rules.start_from(self.settings)

    def prompt(self, key: str) -> tuple[str, str]:
        text = self.prompts.get(key) or {}
        return str(text.get('zh', '')), str(text.get('en', ''))


class Driver:
    kind: ClassVar[DeviceKind]

    def __init__(self, info: DeviceInfo, ctx: DriverContext) -> None:
        self.info = info
        self.ctx = ctx
        self.health = HealthRecord(usage=UsageMeter(ctx.tuning.usage_window))
        self.transport: Transport | None = None
        self._last_frame = 0.0  # monotonic
        self._watchdog: asyncio.Task[None] | None = None
        self._pending: dict[str, asyncio.Future[protocol.Ack]] = {}
        self._expected: dict[tuple[str, str], asyncio.Future[None]] = {}
        self._recent_ids: OrderedDict[str, None] = OrderedDict()
        self._usage_alerted = False

    def __repr__(self) -> str:
        return f'<{type(self).__name__} {self.info.code} {self.health.state}>'

    @property
    def code(self) -> str:
        return self.info.code

    @property
    def state(self) -> DeviceState:
        return self.health.state

    @property
    def connected(self) -> bool:
        return self.transport is not None

    # ---- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the driver's own work (subclasses with a queue or a timer extend this)."""

    async def stop(self) -> None:
        """Close the connection without logging the device offline: the hub is going, not the device."""
        transport, self.transport = self.transport, None
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._fail_pending('hub stopping')
        if transport is not None:
            await transport.close(protocol.CloseCode.GOING_AWAY, 'hub stopping')

    async def attach(self, transport: Transport) -> None:
        """A freshly authenticated connection: replace any older one, then the device is online."""
        previous, self.transport = self.transport, transport
        if previous is not None:
            self._fail_pending('replaced by a newer connection')
            await previous.close(protocol.CloseCode.REPLACED, 'replaced by a newer connection')
        self.seen()
        now = self.ctx.clock()
        if self.health.online_since is None:
            self.health.online_since = now
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = asyncio.get_running_loop().create_task(self._watch(), name=f'watchdog-{self.code}')
        await self.set_state(DeviceState.ONLINE, 'connected')

    async def detach(self, transport: Transport, reason: str, *, server_stopping: bool = False) -> None:
        """The connection ended; only the current connection's end makes the device offline.

        When the server itself is stopping, nothing is logged or published per device (a stopping
        hall is not a hall full of failing devices): DeviceService.stop marks them all offline at once.
        """
        if transport is not self.transport:
            return
        self.transport = None
        if self._watchdog is not None and self._watchdog is not asyncio.current_task():
            self._watchdog.cancel()
        self._watchdog = None
        self._fail_pending(reason)
        self.health.online_since = None
        self.on_disconnect()
        if not server_stopping:
            await self.set_state(DeviceState.OFFLINE, reason)

    async def revoke(self, reason: str) -> None:
        """Close the current connection: the credential it said hello with was rotated, or the device retired.

        The device goes offline now (logged and published once); it is refused until it says hello with
        the credential the registry holds."""
        transport = self.transport
        if transport is None:
            return
        await self.detach(transport, reason)
        await transport.close(protocol.CloseCode.REVOKED, reason)

    def on_disconnect(self) -> None:
        """Close what was open when the connection went (a kiosk session, an occupied seat)."""

    def seen(self) -> None:
        self._last_frame = time.monotonic()
        self.health.last_seen = self.ctx.clock()

    async def _watch(self) -> None:
        interval = self.ctx.tuning.heartbeat_interval
        limit = interval * self.ctx.tuning.missed_heartbeats
        while self.transport is not None:
            await asyncio.sleep(interval / 2)
            if time.monotonic() - self._last_frame > limit and self.transport is not None:
                transport = self.transport
                await self.detach(transport, 'heartbeat_timeout')
                await transport.close(protocol.CloseCode.TIMEOUT, 'heartbeats missed')
                return

    # ---- availability --------------------------------------------------------------------------

    async def set_state(self, state: DeviceState, reason: str = '') -> None:
        """Log, persist and publish a change of availability exactly once; the same state again is a no-op."""
        if state == self.health.state:
            return
        now = self.ctx.clock()
        self.health.state, self.health.state_since = state, now
        level = logging.INFO if state == DeviceState.ONLINE else logging.WARNING
        log.log(level, 'device %s (%s) is %s%s', self.code, self.info.kind, state, f': {reason}' if reason else '')
        self.ctx.recorder.set_state(self.info.id, state, self.health.last_seen)
        self.record(HEALTH_EVENT, {'state': state.value, 'reason': reason})
        await self.publish(
            DeviceHealth(hall_id=self.info.hall_id, device=self.info.payload, state=state, reason=reason)
        )

    async def report_fault(self, code: str) -> bool:
        """Count a fault and make the device 'fault'; False if it already stands in that same fault."""
        if self.state == DeviceState.FAULT and self.health.last_fault == code:
            return False
        self.health.faults += 1
        self.health.last_fault, self.health.last_fault_at = code, self.ctx.clock()
        await self.set_state(DeviceState.FAULT, code)
        return True

    async def on_fault(self, frame: protocol.Frame) -> None:
        data = frame.data
        assert isinstance(data, protocol.Fault)
        await self.report_fault(data.code)

    async def on_recovered(self, frame: protocol.Frame) -> None:
        await self.set_state(DeviceState.ONLINE, 'recovered')

    async def on_heartbeat(self, frame: protocol.Frame) -> None:
        """Any frame counts as a sign of life; a heartbeat carries nothing else."""

    # ---- frames in -----------------------------------------------------------------------------

    async def receive(self, frame: protocol.Frame) -> bool:
        """Handle a validated frame; False if its id was seen recently (a retry: ack it, do nothing)."""
        self.seen()
        if frame.id in self._recent_ids:
            self._recent_ids.move_to_end(frame.id)
            return False
        self._recent_ids[frame.id] = None
        if len(self._recent_ids) > self.ctx.tuning.recent_ids:
            self._recent_ids.popitem(last=False)
        try:
            await getattr(self, f'on_{frame.type}')(frame)
        except BaseException:
            self._recent_ids.pop(frame.id, None)  # not handled: a retry may try again
            raise
        return True

    async def on_ack(self, frame: protocol.Frame) -> None:
        data = frame.data
        assert isinstance(data, protocol.Ack)
        future = self._pending.pop(data.of, None)
        if future is not None and not future.done():
            future.set_result(data)

    def expect(self, report: str, of: str) -> asyncio.Future[None]:
        """A future resolved when the device reports `report` for command `of` (e.g. announced)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._expected[(report, of)] = future
        return future

    def forget(self, report: str, of: str) -> None:
        self._expected.pop((report, of), None)

    def fulfil(self, report: str, of: str) -> None:
        future = self._expected.pop((report, of), None)
        if future is not None and not future.done():
            future.set_result(None)

    # ---- commands out --------------------------------------------------------------------------

    async def command(
        self, type_: str, data: dict[str, Any], *, timeout: float | None = None, command_id: str | None = None
    ) -> protocol.Ack:
        """Send a command and wait for its ack; DeviceUnavailable if offline, refused or not acked in time."""
        transport = self.transport
        if transport is None:
            raise DeviceUnavailable('device_offline', f'设备 {self.code} 离线 / device {self.code} is offline')
        command_id = command_id or protocol.new_id()
        future: asyncio.Future[protocol.Ack] = asyncio.get_running_loop().create_future()
        self._pending[command_id] = future
        try:
            await transport.send(protocol.encode(type_, data, id_=command_id))
            async with asyncio.timeout(timeout or self.ctx.tuning.command_timeout):
                ack = await future
        except TimeoutError:
            raise DeviceUnavailable(
                'device_timeout', f'设备 {self.code} 无响应 / device {self.code} did not answer'
            ) from None
        except TransportClosed:
            raise DeviceUnavailable(
                'device_offline', f'设备 {self.code} 离线 / device {self.code} is offline'
            ) from None
        finally:
            self._pending.pop(command_id, None)
        if not ack.ok:
            raise DeviceUnavailable(ack.error or 'device_refused', f'设备 {self.code}: {ack.error or "refused"}')
        return ack

    def _fail_pending(self, reason: str) -> None:
        error = TransportClosed(None, reason)
        for future in [*self._pending.values(), *self._expected.values()]:
            if not future.done():
                future.set_exception(error)
                future.exception()  # retrieved: nobody may be waiting any more
        self._pending.clear()
        self._expected.clear()

    # ---- events and history --------------------------------------------------------------------

    async def publish(self, event: Event) -> None:
        await self.ctx.bus.publish(event)

    def record(self, kind: str, detail: dict[str, Any]) -> None:
        self.ctx.recorder.record(
            hall_id=self.info.hall_id, device_id=self.info.id, kind=kind, at=self.ctx.clock(), detail=detail
        )

    def count_use(self, what: str, *, busy: dt.timedelta | None = None) -> None:
        """Count a use; with `busy`, it also occupied the device for that long (ending now)."""
        self.health.uses[what] += 1
        if busy:
            now = self.ctx.clock()
            self.health.usage.add(now - busy, now)

    def usage_rate(self) -> float:
        return self.health.usage.rate(self.ctx.clock())

    def usage_crossed_high(self) -> bool:
        """True once each time the rolling usage rises above the high mark (re-armed below the re-arm mark)."""
        tuning, was = self.ctx.tuning, self._usage_alerted
        self._usage_alerted = thresholds.usage_alerted(
            was, self.usage_rate(), high=tuning.usage_high, rearm=tuning.usage_rearm
        )
        return self._usage_alerted and not was
