"""Abuse limits that hold across processes and restarts: counted in Redis when REDIS_URL is set, else in the database.

Why not in memory: one process's counter is forgotten by a restart and not seen by a second process, so
an attacker only has to wait for one or spread over both. Each limit counts attempts per subject (an
address, a phone, a tracking code, an account) in fixed windows: the window's number is part of the key,
so old counts expire by themselves. Subjects are stored only as keyed hashes (phones and addresses are
personal data). A refusal is `TooManyRequests`: HTTP 429 with Retry-After, and the same words on pages.

With Redis configured, a Redis outage falls back to the database counters (limits keep holding, slower)
and is logged once each way. Without Redis on SQLite, a take counts its limits in the transaction that writes its
ticket (`Limits.hit_all_in`): one durable commit for both; a take refused after counting rolls back and counts
again in a transaction of its own, so every attempt counts as before.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import bindparam, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.clock import utcnow
from app.db import Database
from app.models.security import RateCounter
from app.services.errors import DomainError
from app.services.uow import unit_of_work

log = logging.getLogger(__name__)

REDIS_PREFIX = 'halltwin:limit:'
CLEANUP_EVERY = 500  # database counters: delete expired rows once per this many increments


def _counter_upsert(dialect: Any) -> Any:
    """Add one to a counter (a new row starts at 1), returning the count: built once, bound per call."""
    columns = RateCounter.__table__.c  # type: ignore[attr-defined]
    statement = dialect.insert(RateCounter).values(
        key=bindparam('key', type_=columns.key.type),
        count=1,
        expires_at=bindparam('expires_at', type_=columns.expires_at.type),
    )
    return statement.on_conflict_do_update(index_elements=['key'], set_={'count': RateCounter.count + 1}).returning(
        col(RateCounter.count)
    )


UPSERT_SQLITE = _counter_upsert(sqlite)
UPSERT_POSTGRESQL = _counter_upsert(postgresql)


class TooManyRequests(DomainError):
    status = 429

    def __init__(self, code: str, *, retry_after: int, text: str | None = None, **params: object) -> None:
        super().__init__(code, text=text, **params)
        self.retry_after = max(1, retry_after)


@dataclass(frozen=True)
class Limit:
    """At most `max` attempts per subject within each `window` (fixed windows)."""

    name: str
    max: int
    window: dt.timedelta
    code: str  # what clients read; the words are the text 'limit.<name>' of app/services/error_texts.py

    def refusal(self, retry_after: int) -> TooManyRequests:
        minutes = max(1, math.ceil(retry_after / 60))
        return TooManyRequests(self.code, text=f'limit.{self.name}', minutes=minutes, retry_after=retry_after)


@dataclass(frozen=True)
class Slot:
    """One limit's counter for the current window: its key, when it expires, and the most it may reach."""

    key: str
    expires_at: dt.datetime
    ttl: int
    max: int


class CounterStore(ABC):
    """Counters that expire: `incr` adds one and returns the new count."""

    @abstractmethod
    async def incr(self, key: str, *, ttl: int, expires_at: dt.datetime) -> int: ...

    async def incr_until_over(self, slots: Sequence[Slot]) -> list[int]:
        """Add one to each counter in order, stopping after the first that goes over its `max`: the counts so far.

        The same counts as one `incr` after another that stops at the first refusal; a store may do it in one write.
        """
        counts: list[int] = []
        for slot in slots:
            counts.append(await self.incr(slot.key, ttl=slot.ttl, expires_at=slot.expires_at))
            if counts[-1] > slot.max:
                break
        return counts

    @abstractmethod
    async def get(self, key: str) -> int: ...

    @abstractmethod
    async def delete(self, key: str) -> None: ...

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections (nothing to release for the database counters)."""


class DatabaseCounters(CounterStore):
    """One row per key and window (`rate_counter`), upserted in its own short transaction, or in the caller's
    (`incr_in`: a take counts its limits in the transaction that writes its ticket)."""

    def __init__(self, db: Database, *, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.db = db
        self.clock = clock
        self._increments = 0
        self._upsert = UPSERT_SQLITE if db.is_sqlite else UPSERT_POSTGRESQL

    async def incr(self, key: str, *, ttl: int, expires_at: dt.datetime) -> int:
        return (await self.incr_until_over([Slot(key, expires_at, ttl, max=0)]))[0]

    async def incr_until_over(self, slots: Sequence[Slot]) -> list[int]:
        """All of them in one transaction: one durable commit for a take's two or three limits, not one each."""
        async with unit_of_work(self.db, short=True) as uow:
            return await self.incr_in(uow.session, slots)

    async def incr_in(self, s: AsyncSession, slots: Sequence[Slot]) -> list[int]:
        """`incr_until_over` inside the caller's transaction on this database: committed or rolled back with it."""
        counts: list[int] = []
        for slot in slots:
            values = {'key': slot.key, 'expires_at': slot.expires_at}
            counts.append(int((await s.execute(self._upsert, values)).scalar_one()))
            self._increments += 1
            if self._increments % CLEANUP_EVERY == 0:
                await s.execute(delete(RateCounter).where(col(RateCounter.expires_at) < self.clock()))
            if counts[-1] > slot.max:
                break
        return counts

    async def get(self, key: str) -> int:
        async with self.db.read_session() as s:
            row = (await s.execute(select(RateCounter.count).where(RateCounter.key == key))).scalar_one_or_none()
        return int(row or 0)

    async def delete(self, key: str) -> None:
        async with unit_of_work(self.db) as uow:
            s = uow.session
            await s.execute(delete(RateCounter).where(RateCounter.key == key))


class RedisCounters(CounterStore):
    """INCR with an expiry; while Redis is unreachable the database counters stand in."""

    def __init__(self, redis: Redis, fallback: CounterStore) -> None:
        self.redis = redis
        self.fallback = fallback
        self.available = True

    async def incr(self, key: str, *, ttl: int, expires_at: dt.datetime) -> int:
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(REDIS_PREFIX + key)
                pipe.expire(REDIS_PREFIX + key, ttl, nx=True)
                count, _ = await pipe.execute()
        except (RedisError, OSError) as error:
            self._lost(error)
            return await self.fallback.incr(key, ttl=ttl, expires_at=expires_at)
        self._back()
        return int(count)

    async def get(self, key: str) -> int:
        try:
            value = await self.redis.get(REDIS_PREFIX + key)
        except (RedisError, OSError) as error:
            self._lost(error)
            return await self.fallback.get(key)
        self._back()
        return int(value or 0)

    async def delete(self, key: str) -> None:
        try:
            await self.redis.delete(REDIS_PREFIX + key)
        except (RedisError, OSError) as error:
            self._lost(error)
        await self.fallback.delete(key)

    async def close(self) -> None:
        await self.redis.aclose()

    def _lost(self, error: Exception) -> None:
        if self.available:
            self.available = False
            log.warning('limits: Redis unreachable (%s); counting in the database until it is back', error)

    def _back(self) -> None:
        if not self.available:
            self.available = True
            log.info('limits: Redis reachable again')


class Limits:
    """Counts attempts against `Limit`s; the rules of which limit applies where live with each service."""

    def __init__(self, store: CounterStore, *, key: bytes, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.store = store
        self._key = key
        self.clock = clock

    async def hit_all(self, hits: Sequence[tuple[Limit, str]]) -> None:
        """Count one attempt against each (limit, subject) in order, in one write where the store can; refuse
        (TooManyRequests) at the first that is over, without counting the ones after it: as `hit` one by one."""
        slots = self._slots(hits)
        self._refuse_over(slots, await self.store.incr_until_over([slot for _, slot, _ in slots]))

    def counts_in(self, db: Database) -> bool:
        """Whether a writer to `db` may count in its own transaction (`hit_all_in`) instead of one more commit: the
        counters are rows of `db`, and `db` is SQLite, whose writers queue for one lock anyway. On PostgreSQL a
        hall-wide counter's row lock would be held through the caller's whole transaction: there they count apart."""
        return isinstance(self.store, DatabaseCounters) and self.store.db is db and db.is_sqlite

    async def hit_all_in(self, s: AsyncSession, hits: Sequence[tuple[Limit, str]]) -> None:
        """`hit_all` inside the caller's transaction (only where `counts_in` its database): the counts commit with
        the caller's write, or roll back with it; a caller that rolls back still owes the attempt its `hit_all`."""
        assert isinstance(self.store, DatabaseCounters)
        slots = self._slots(hits)
        self._refuse_over(slots, await self.store.incr_in(s, [slot for _, slot, _ in slots]))

    def _slots(self, hits: Sequence[tuple[Limit, str]]) -> list[tuple[Limit, Slot, int]]:
        slots: list[tuple[Limit, Slot, int]] = []
        for limit, subject in hits:
            key, ends, retry_after = self._slot(limit, subject)
            slots.append((limit, Slot(key, ends, retry_after + 1, limit.max), retry_after))
        return slots

    @staticmethod
    def _refuse_over(slots: Sequence[tuple[Limit, Slot, int]], counts: Sequence[int]) -> None:
        for (limit, _, retry_after), count in zip(slots, counts, strict=False):
            if count > limit.max:
                raise limit.refusal(retry_after)

    def _slot(self, limit: Limit, subject: str) -> tuple[str, dt.datetime, int]:
        """The counter's key for the current window, when the window ends, and seconds until then."""
        now = self.clock()
        span = limit.window.total_seconds()
        index = math.floor(now.timestamp() / span)
        ends = dt.datetime.fromtimestamp((index + 1) * span, tz=dt.UTC)
        digest = hmac.new(self._key, subject.encode(), hashlib.sha256).hexdigest()[:32]
        return f'{limit.name}:{digest}:{index}', ends, math.ceil((ends - now).total_seconds())

    async def hit(self, limit: Limit, subject: str) -> int:
        """Count one attempt and return the count; refuse it (TooManyRequests) when it is over the limit."""
        key, ends, retry_after = self._slot(limit, subject)
        count = await self.store.incr(key, ttl=retry_after + 1, expires_at=ends)
        if count > limit.max:
            raise limit.refusal(retry_after)
        return count

    async def check(self, limit: Limit, subject: str) -> None:
        """Refuse at once when the subject has used up its attempts, without counting this one."""
        key, _, retry_after = self._slot(limit, subject)
        if await self.store.get(key) >= limit.max:
            raise limit.refusal(retry_after)

    async def count(self, limit: Limit, subject: str) -> int:
        key, _, _ = self._slot(limit, subject)
        return await self.store.get(key)

    async def reset(self, limit: Limit, subject: str) -> None:
        key, _, _ = self._slot(limit, subject)
        await self.store.delete(key)

    async def close(self) -> None:
        await self.store.close()


def build_limits(db: Database, *, redis_url: str, key: bytes, clock: Callable[[], dt.datetime] = utcnow) -> Limits:
    """Redis counters when REDIS_URL is set (the database standing in during an outage), else the database's."""
    database = DatabaseCounters(db, clock=clock)
    if not redis_url:
        return Limits(database, key=key, clock=clock)
    redis = Redis.from_url(redis_url, socket_connect_timeout=1.0, socket_timeout=2.0)
    return Limits(RedisCounters(redis, database), key=key, clock=clock)
