"""The event bus across processes: every process delivers its own events at once, and shares them over a
Redis stream that the others read.

Why a stream and not PUBLISH: a process whose connection blips resumes reading from the last entry it
saw, so its twin misses nothing; and events published while Redis is unreachable wait in a bounded
local backlog and go out, in order, once it is back. The stream is capped (MAXLEN ~, `STREAM_LENGTH`),
so it never grows without bound. Each entry names its origin process, which skips its own entries.
Losing and regaining Redis is logged once each way.

Why entries are signed: whoever can write to Redis could otherwise put events into every process (a
forged TicketCalled on every call board). The publisher signs stream, origin and event with the bus key
(HMAC-SHA256, `settings.key(Purpose.BUS)`); a reader drops an entry without a valid signature, and one
whose event id it has already delivered (a signed entry copied back into the stream), counts each drop
in `BusStats` (the manager's ops counters) and warns once per burst, not once per entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.bus import InProcessBus
from app.events import Event

log = logging.getLogger(__name__)

STREAM = 'halltwin:events'
STREAM_LENGTH = 10_000  # entries kept: minutes of a busy hall, enough to ride out a reconnect
BACKLOG = 10_000  # events kept while Redis is unreachable; the oldest go first beyond that
READ_BLOCK_MS = 1_000
RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)
CONNECT_TIMEOUT = 1.0  # a publisher never waits long for an unreachable Redis
SOCKET_TIMEOUT = 5.0  # longer than a blocking read
STOP_SECONDS = SOCKET_TIMEOUT + 1.0
SIGNATURE_VERSION = b'halltwin-bus/1'
MIN_KEY_BYTES = 16
REPLAY_WINDOW = STREAM_LENGTH  # event ids remembered to refuse a copied entry (as many as the stream keeps)
DROP_BURST_GAP = 60.0  # seconds without a dropped entry that end a burst (the next drop warns again)
DROP_REMINDER = 600.0  # a burst that never ends is warned about again this often


class Dropped(StrEnum):
    """Why a reader dropped an entry: the keys of `BusStats.dropped`."""

    UNSIGNED = 'unsigned'
    FORGED = 'bad_signature'
    REPLAYED = 'replayed'
    UNREADABLE = 'unreadable'


@dataclass
class BusStats:
    """What this process read from the stream: events delivered, entries dropped by reason."""

    delivered: int = 0
    dropped: Counter[str] = field(default_factory=Counter)

    def snapshot(self) -> dict[str, Any]:
        return {'delivered': self.delivered, 'dropped': dict(self.dropped)}


def hall_stream(hall_code: str) -> str:
    """A hall's own stream: halls sharing one Redis never apply each other's events (a ticket of one hall in
    another's twin); the signature covers the stream, so an entry cannot be moved to another hall's either."""
    return f'{STREAM}:{hall_code}'


def entry_signature(key: bytes, stream: str, origin: str, event: str) -> str:
    """HMAC-SHA256 over stream, origin and event, so an entry cannot be moved to another stream or origin."""
    message = b'\n'.join((SIGNATURE_VERSION, stream.encode(), origin.encode(), event.encode()))
    return hmac.new(key, message, hashlib.sha256).hexdigest()


class RedisBus(InProcessBus):
    def __init__(self, url: str, *, key: bytes, stream: str = STREAM, origin: str | None = None) -> None:
        """`key` is the bus key (`settings.key(Purpose.BUS)`), the same in every process of the hall."""
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f'the bus key must have at least {MIN_KEY_BYTES} bytes')
        super().__init__()
        self.url = url
        self.stream = stream
        self.origin = origin or uuid.uuid4().hex
        self.available = True
        self.stats = BusStats()
        self._key = key
        self._seen: deque[str] = deque(maxlen=REPLAY_WINDOW)
        self._seen_ids: set[str] = set()
        self._last_drop = self._last_drop_warning = -float('inf')
        self._redis: Redis | None = None
        self._reader: asyncio.Task[None] | None = None
        self._backlog: deque[str] = deque(maxlen=BACKLOG)
        self._send_lock = asyncio.Lock()
        self._last_id = '$'
        self._stopping = False
        self._when_back: list[Callable[[], object]] = []

    def when_back(self, callback: Callable[[], object]) -> None:
        """Call `callback` each time Redis is reachable again after an outage (e.g. resync state from the
        database: an event another process held could have been lost with that process)."""
        self._when_back.append(callback)

    async def start(self) -> None:
        """Connect and read from the stream's current end: a new process builds its state from the database."""
        self._redis = Redis.from_url(self.url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=SOCKET_TIMEOUT)
        try:
            await self._pin_start()
        except RedisError as error:
            self._lost(error)
        self._reader = asyncio.get_running_loop().create_task(self._read_forever(), name='bus.redis.read')

    async def stop(self) -> None:
        """Stop reading (the flag ends the loop within one blocking read even if a cancellation is lost
        inside the Redis client), send what waits, close."""
        self._stopping = True
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.wait({self._reader}, timeout=STOP_SECONDS)
            self._reader = None
        await super().stop()
        if self._redis is not None:
            with contextlib.suppress(RedisError, TimeoutError):
                async with asyncio.timeout(STOP_SECONDS):
                    await self._send_backlog()
            with contextlib.suppress(RedisError, TimeoutError):
                async with asyncio.timeout(STOP_SECONDS):
                    await self._redis.aclose()
            self._redis = None

    async def publish(self, event: Event) -> None:
        """Deliver here at once, then share it (kept in the backlog while Redis is away: the reader's
        reconnect loop sends it, so a publisher never waits on an outage)."""
        self.deliver(event)
        self._backlog.append(event.to_json())
        if self.available:
            try:
                await self._send_backlog()
            except RedisError as error:
                self._lost(error)

    async def _send_backlog(self) -> None:
        async with self._send_lock:
            while self._backlog and self._redis is not None:
                event = self._backlog[0]
                signature = entry_signature(self._key, self.stream, self.origin, event)
                await self._redis.xadd(
                    self.stream,
                    {'origin': self.origin, 'event': event, 'sig': signature},
                    maxlen=STREAM_LENGTH,
                    approximate=True,
                )
                self._backlog.popleft()
            self._back()

    async def _read_forever(self) -> None:
        attempt = 0
        while not self._stopping:
            try:
                await self._send_backlog()
                await self._read_once()
                attempt = 0
            except asyncio.CancelledError:
                raise
            except RedisError as error:
                self._lost(error)
                await asyncio.sleep(RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)])
                attempt += 1
            except Exception:
                log.exception('event bus: reading %s failed', self.stream)
                await asyncio.sleep(RETRY_SECONDS[-1])

    async def _pin_start(self) -> None:
        """Read on from the stream's newest entry (as of the first time Redis answers), never from a moving '$'
        that would skip what arrives between two reads."""
        assert self._redis is not None
        entries = await self._redis.xrevrange(self.stream, count=1)
        self._last_id = entries[0][0].decode() if entries else '0-0'

    async def _read_once(self) -> None:
        assert self._redis is not None
        if self._last_id == '$':
            await self._pin_start()
        answer = await self._redis.xread({self.stream: self._last_id}, block=READ_BLOCK_MS, count=500)
        self._back()
        for _, entries in answer or ():
            for entry_id, fields in entries:
                self._last_id = entry_id.decode()
                self._receive(fields)

    def _receive(self, fields: dict[bytes, bytes]) -> None:
        """Deliver one entry of another process if its signature holds and its event is new; else count the drop."""
        try:
            origin, text = fields[b'origin'].decode(), fields[b'event'].decode()
        except (KeyError, UnicodeDecodeError):
            self._drop(Dropped.UNREADABLE)
            return
        if origin == self.origin:
            return
        signature = fields.get(b'sig', b'')
        if not signature:
            self._drop(Dropped.UNSIGNED)
            return
        if not hmac.compare_digest(signature, entry_signature(self._key, self.stream, origin, text).encode()):
            self._drop(Dropped.FORGED)
            return
        try:
            event = Event.from_json(text)
        except (KeyError, ValueError, TypeError):
            self._drop(Dropped.UNREADABLE)
            return
        if event.id in self._seen_ids:
            self._drop(Dropped.REPLAYED)
            return
        self._remember(event.id)
        self.stats.delivered += 1
        self.deliver(event)

    def _remember(self, event_id: str) -> None:
        if len(self._seen) == self._seen.maxlen:
            self._seen_ids.discard(self._seen[0])
        self._seen.append(event_id)
        self._seen_ids.add(event_id)

    def _drop(self, reason: Dropped) -> None:
        """Count a dropped entry; warn at the first drop after a quiet spell (and every DROP_REMINDER seconds of a
        burst that goes on), so a flood is one log line, not one per entry."""
        self.stats.dropped[reason.value] += 1
        now = time.monotonic()
        if now - self._last_drop >= DROP_BURST_GAP or now - self._last_drop_warning >= DROP_REMINDER:
            self._last_drop_warning = now
            log.warning(
                'event bus: dropped an entry of %s (%s); further drops in this burst are only counted (%s)',
                self.stream,
                reason.value,
                self.stats.snapshot()['dropped'],
            )
        self._last_drop = now

    def _lost(self, error: Exception) -> None:
        if self.available:
            self.available = False
            log.warning('event bus: Redis unreachable (%s); events wait here and go out once it is back', error)

    def _back(self) -> None:
        if not self.available:
            self.available = True
            log.info('event bus: Redis reachable again')
            for callback in self._when_back:
                callback()
