"""Abuse limits that hold across processes and restarts: counted in Redis when REDIS_URL is set, else in the database.

Why not in memory: one process's counter is forgotten by a restart and not seen by a second process, so
an attacker only has to wait for one or spread over both. Each limit counts attempts per subject (an
address, a phone, a tracking code, an account) in a window that starts at the subject's first attempt and
ends `window` later; the next attempt after that starts a new one. Why not windows on the clock's grid (the
hour, the day): a burst that straddles a boundary would get twice the limit, and Retry-After would say when
the grid turns rather than when this subject may go on. Subjects are stored only as keyed hashes (phones and
addresses are personal data). A refusal is `TooManyRequests`: HTTP 429 with Retry-After, and the same words on pages.

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
from sqlalchemy import bindparam, case, delete
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
    """Add one to a counter, returning its count and end: a new row, or one past its end (bound `now`), starts at 1
    and ends at the bound `expires_at`. Built once, bound per call."""
    columns = RateCounter.__table__.c  # type: ignore[attr-defined]
    statement = dialect.insert(RateCounter).values(
        key=bindparam('key', type_=columns.key.type),
        count=1,
        expires_at=bindparam('expires_at', type_=columns.expires_at.type),
    )
    ended = col(RateCounter.expires_at) <= bindparam('now', type_=columns.expires_at.type)
    return statement.on_conflict_do_update(
        index_elements=['key'],
        set_={
            'count': case((ended, 1), else_=col(RateCounter.count) + 1),
            'expires_at': case((ended, statement.excluded.expires_at), else_=col(RateCounter.expires_at)),
        },
    ).returning(col(RateCounter.count), col(RateCounter.expires_at))


UPSERT_SQLITE = _counter_upsert(sqlite)
UPSERT_POSTGRESQL = _counter_upsert(postgresql)


class TooManyRequests(DomainError):
    status = 429

    def __init__(self, code: str, *, retry_after: int, text: str | None = None, **params: object) -> None:
        super().__init__(code, text=text, **params)
        self.retry_after = max(1, retry_after)


@dataclass(frozen=True)
class Limit:
    """At most `max` attempts per subject within `window` of its first attempt."""

    name: str
    max: int
    window: dt.timedelta
    code: str  # what clients read; the words are the text 'limit.<name>' of app/services/error_texts.py

    def refusal(self, retry_after: int) -> TooManyRequests:
        minutes = max(1, math.ceil(retry_after / 60))
        return TooManyRequests(self.code, text=f'limit.{self.name}', minutes=minutes, retry_after=retry_after)


@dataclass(frozen=True)
class Slot:
    """One limit's counter: its key, when a window starting now would end (in `ttl` seconds), the most it may reach."""

    key: str
    expires_at: dt.datetime
    ttl: int
    max: int


@dataclass(frozen=True)
class Counted:
    """A counter's value and the seconds until its window ends (0 for a counter that does not exist)."""

    value: int
    seconds_left: int


class CounterStore(ABC):
    """Counters that expire: `add` adds one to the live counter, or starts a new one that ends at `expires_at`."""

    @abstractmethod
    async def add(self, key: str, *, ttl: int, expires_at: dt.datetime) -> Counted: ...

    async def incr(self, key: str, *, ttl: int, expires_at: dt.datetime) -> int:
        return (await self.add(key, ttl=ttl, expires_at=expires_at)).value

    async def incr_until_over(self, slots: Sequence[Slot]) -> list[Counted]:
        """Add one to each counter in order, stopping after the first that goes over its `max`: the counts so far.

        The same counts as one `add` after another that stops at the first refusal; a store may do it in one write.
        """
        counts: list[Counted] = []
        for slot in slots:
            counts.append(await self.add(slot.key, ttl=slot.ttl, expires_at=slot.expires_at))
            if counts[-1].value > slot.max:
                break
        return counts

    @abstractmethod
    async def peek(self, key: str) -> Counted: ...

    async def get(self, key: str) -> int:
        return (await self.peek(key)).value

    @abstractmethod
    async def delete(self, key: str) -> None: ...

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections (nothing to release for the database counters)."""


class DatabaseCounters(CounterStore):
    """One row per key (`rate_counter`), upserted in its own short transaction or in the caller's (`incr_in`: a take
    counts its limits in the transaction that writes its ticket); a row past its end starts over."""

    def __init__(self, db: Database, *, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.db = db
        self.clock = clock
        self._increments = 0
        self._upsert = UPSERT_SQLITE if db.is_sqlite else UPSERT_POSTGRESQL

    async def add(self, key: str, *, ttl: int, expires_at: dt.datetime) -> Counted:
        return (await self.incr_until_over([Slot(key, expires_at, ttl, max=0)]))[0]

    async def incr_until_over(self, slots: Sequence[Slot]) -> list[Counted]:
        """All of them in one transaction: one durable commit for a take's two or three limits, not one each."""
        async with unit_of_work(self.db, short=True) as uow:
            return await self.incr_in(uow.session, slots)

    async def incr_in(self, s: AsyncSession, slots: Sequence[Slot]) -> list[Counted]:
        """`incr_until_over` inside the caller's transaction on this database: committed or rolled back with it."""
        counts: list[Counted] = []
        now = self.clock()
        for slot in slots:
            values = {'key': slot.key, 'expires_at': slot.expires_at, 'now': now}
            value, ends = (await s.execute(self._upsert, values)).one()
            counts.append(Counted(int(value), _seconds_until(ends, now)))
            self._increments += 1
            if self._increments % CLEANUP_EVERY == 0:
                await s.execute(delete(RateCounter).where(col(RateCounter.expires_at) < now))
            if counts[-1].value > slot.max:
                break
        return counts

    async def peek(self, key: str) -> Counted:
        now = self.clock()
        async with self.db.read_session() as s:
            row = (
                await s.execute(
                    select(RateCounter.count, RateCounter.expires_at).where(
                        RateCounter.key == key, col(RateCounter.expires_at) > now
                    )
                )
            ).one_or_none()
        return Counted(0, 0) if row is None else Counted(int(row[0]), _seconds_until(row[1], now))

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

    async def add(self, key: str, *, ttl: int, expires_at: dt.datetime) -> Counted:
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(REDIS_PREFIX + key)
                pipe.expire(REDIS_PREFIX + key, ttl, nx=True)
                pipe.ttl(REDIS_PREFIX + key)
                count, _, left = await pipe.execute()
        except (RedisError, OSError) as error:
            self._lost(error)
            return await self.fallback.add(key, ttl=ttl, expires_at=expires_at)
        self._back()
        return Counted(int(count), max(int(left), 0))

    async def peek(self, key: str) -> Counted:
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.get(REDIS_PREFIX + key)
                pipe.ttl(REDIS_PREFIX + key)
                value, left = await pipe.execute()
        except (RedisError, OSError) as error:
            self._lost(error)
            return await self.fallback.peek(key)
        self._back()
        return Counted(int(value or 0), max(int(left), 0))

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
        slots = [(limit, self._slot(limit, subject)) for limit, subject in hits]
        self._refuse_over(slots, await self.store.incr_until_over([slot for _, slot in slots]))

    def counts_in(self, db: Database) -> bool:
        """Whether a writer to `db` may count in its own transaction (`hit_all_in`) instead of one more commit: the
        counters are rows of `db`, and `db` is SQLite, whose writers queue for one lock anyway. On PostgreSQL a
        hall-wide counter's row lock would be held through the caller's whole transaction: there they count apart."""
        return isinstance(self.store, DatabaseCounters) and self.store.db is db and db.is_sqlite

    async def hit_all_in(self, s: AsyncSession, hits: Sequence[tuple[Limit, str]]) -> None:
        """`hit_all` inside the caller's transaction (only where `counts_in` its database): the counts commit with
        the caller's write, or roll back with it; a caller that rolls back still owes the attempt its `hit_all`."""
        assert isinstance(self.store, DatabaseCounters)
        slots = [(limit, self._slot(limit, subject)) for limit, subject in hits]
        self._refuse_over(slots, await self.store.incr_in(s, [slot for _, slot in slots]))

    @staticmethod
    def _refuse_over(slots: Sequence[tuple[Limit, Slot]], counts: Sequence[Counted]) -> None:
        for (limit, _), counted in zip(slots, counts, strict=False):
            if counted.value > limit.max:
                raise limit.refusal(counted.seconds_left)

    def _slot(self, limit: Limit, subject: str) -> Slot:
        """The subject's counter for the limit, and when a window that started now would end."""
        span = limit.window.total_seconds()
        digest = hmac.new(self._key, subject.encode(), hashlib.sha256).hexdigest()[:32]
        return Slot(f'{limit.name}:{digest}', self.clock() + limit.window, math.ceil(span) + 1, limit.max)

    async def hit(self, limit: Limit, subject: str) -> int:
        """Count one attempt and return the count; refuse it (TooManyRequests) when it is over the limit."""
        slot = self._slot(limit, subject)
        counted = await self.store.add(slot.key, ttl=slot.ttl, expires_at=slot.expires_at)
        if counted.value > limit.max:
            raise limit.refusal(counted.seconds_left)
        return counted.value

    async def check(self, limit: Limit, subject: str) -> None:
        """Refuse at once when the subject has used up its attempts, without counting this one."""
        counted = await self.store.peek(self._slot(limit, subject).key)
        if counted.value >= limit.max:
            raise limit.refusal(counted.seconds_left)

    async def count(self, limit: Limit, subject: str) -> int:
        return await self.store.get(self._slot(limit, subject).key)

    async def reset(self, limit: Limit, subject: str) -> None:
        await self.store.delete(self._slot(limit, subject).key)

    async def close(self) -> None:
        await self.store.close()


def _seconds_until(ends: dt.datetime, now: dt.datetime) -> int:
    """Whole seconds from now until a stored end (SQLite hands datetimes back without their zone: UTC)."""
    if ends.tzinfo is None:
        ends = ends.replace(tzinfo=dt.UTC)
    return max(math.ceil((ends - now).total_seconds()), 0)


def build_limits(db: Database, *, redis_url: str, key: bytes, clock: Callable[[], dt.datetime] = utcnow) -> Limits:
    """Redis counters when REDIS_URL is set (the database standing in during an outage), else the database's."""
    database = DatabaseCounters(db, clock=clock)
    if not redis_url:
        return Limits(database, key=key, clock=clock)
    redis = Redis.from_url(redis_url, socket_connect_timeout=1.0, socket_timeout=2.0)
    return Limits(RedisCounters(redis, database), key=key, clock=clock)
