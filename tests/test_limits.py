"""Abuse limits: counted per subject in a window from its first attempt, in the database or Redis, never holding a
raw subject."""

from __future__ import annotations

import datetime as dt
import logging
import secrets

import pytest
from redis.asyncio import Redis
from sqlalchemy import event
from sqlmodel import select

from app.db import Database
from app.models.security import RateCounter
from app.services.limits import DatabaseCounters, Limit, Limits, RedisCounters, TooManyRequests, build_limits
from tests.conftest import FakeClock

REDIS_URL = 'redis://127.0.0.1:6379/0'
THREE_A_MINUTE = Limit('tickets:address', 3, dt.timedelta(minutes=1), 'slow_down')  # the words of a real limit


def database_limits(db: Database, clock: FakeClock) -> Limits:
    return Limits(DatabaseCounters(db, clock=clock), key=secrets.token_bytes(16), clock=clock)


async def test_the_attempt_over_the_limit_is_refused_until_the_window_ends(db: Database, clock: FakeClock) -> None:
    limits = database_limits(db, clock)
    assert [await limits.hit(THREE_A_MINUTE, '10.0.0.1') for _ in range(3)] == [1, 2, 3]
    clock.advance(0.5)
    with pytest.raises(TooManyRequests) as refused:
        await limits.hit(THREE_A_MINUTE, '10.0.0.1')
    assert (refused.value.status, refused.value.code, refused.value.retry_after) == (429, 'slow_down', 30)
    assert refused.value.message.startswith('取号过于频繁（请1分钟后再试） / ')
    assert refused.value.render('en') == 'too many tickets from this address (try again in 1 min)'
    with pytest.raises(TooManyRequests):
        await limits.check(THREE_A_MINUTE, '10.0.0.1')
    assert await limits.hit(THREE_A_MINUTE, '10.0.0.2') == 1  # other subjects count on their own
    clock.advance(0.6)
    await limits.check(THREE_A_MINUTE, '10.0.0.1')  # a new window
    assert await limits.hit(THREE_A_MINUTE, '10.0.0.1') == 1


async def test_a_window_starts_at_the_first_attempt_so_a_burst_across_the_minute_gets_no_second_allowance(
    db: Database, clock: FakeClock
) -> None:
    limits = database_limits(db, clock)
    clock.now = clock.now.replace(second=50)  # ten seconds before the clock's minute turns
    for _ in range(3):
        await limits.hit(THREE_A_MINUTE, '10.0.0.9')
    clock.advance(20 / 60)  # the minute has turned; the subject's window has not
    with pytest.raises(TooManyRequests) as refused:
        await limits.hit(THREE_A_MINUTE, '10.0.0.9')
    assert refused.value.retry_after == 40  # when this subject may go on, not when the clock's minute turns
    with pytest.raises(TooManyRequests) as checked:
        await limits.check(THREE_A_MINUTE, '10.0.0.9')
    assert checked.value.retry_after == 40
    clock.advance(41 / 60)
    assert await limits.count(THREE_A_MINUTE, '10.0.0.9') == 0  # an ended window counts nothing
    assert await limits.hit(THREE_A_MINUTE, '10.0.0.9') == 1  # the same row starts a new window
    async with db.read_session() as s:
        assert len(list((await s.execute(select(RateCounter))).scalars())) == 1


async def test_check_does_not_count_and_reset_forgets(db: Database, clock: FakeClock) -> None:
    limits = database_limits(db, clock)
    for _ in range(5):
        await limits.check(THREE_A_MINUTE, 'a')
    assert await limits.count(THREE_A_MINUTE, 'a') == 0
    for _ in range(3):
        await limits.hit(THREE_A_MINUTE, 'a')
    await limits.reset(THREE_A_MINUTE, 'a')
    assert await limits.count(THREE_A_MINUTE, 'a') == 0
    await limits.check(THREE_A_MINUTE, 'a')


async def test_counters_survive_a_new_limits_object_on_the_same_database(db: Database, clock: FakeClock) -> None:
    key = secrets.token_bytes(16)
    first = Limits(DatabaseCounters(db, clock=clock), key=key, clock=clock)
    for _ in range(3):
        await first.hit(THREE_A_MINUTE, 'phone')
    restarted = Limits(DatabaseCounters(db, clock=clock), key=key, clock=clock)
    with pytest.raises(TooManyRequests):
        await restarted.hit(THREE_A_MINUTE, 'phone')


async def test_the_database_keeps_only_a_keyed_hash_of_the_subject(db: Database, clock: FakeClock) -> None:
    limits = database_limits(db, clock)
    await limits.hit(THREE_A_MINUTE, '13812345678')
    async with db.read_session() as s:
        rows = list((await s.execute(select(RateCounter))).scalars())
    assert len(rows) == 1 and '13812345678' not in rows[0].key and rows[0].key.startswith('tickets:address:')
    assert rows[0].count == 1


async def test_redis_counts_across_limits_objects_and_expires(sqlite_db: Database, clock: FakeClock) -> None:
    key = secrets.token_bytes(16)
    subject = secrets.token_hex(8)
    redis_a, redis_b = Redis.from_url(REDIS_URL), Redis.from_url(REDIS_URL)
    a = Limits(RedisCounters(redis_a, DatabaseCounters(sqlite_db, clock=clock)), key=key, clock=clock)
    b = Limits(RedisCounters(redis_b, DatabaseCounters(sqlite_db, clock=clock)), key=key, clock=clock)
    try:
        await a.hit(THREE_A_MINUTE, subject)
        await b.hit(THREE_A_MINUTE, subject)  # a second process
        await a.hit(THREE_A_MINUTE, subject)
        with pytest.raises(TooManyRequests):
            await b.hit(THREE_A_MINUTE, subject)
        slot_key = a._slot(THREE_A_MINUTE, subject).key
        ttl = await redis_a.ttl(f'halltwin:limit:{slot_key}')
        assert 0 < ttl <= 61  # Redis forgets the window by itself
        async with sqlite_db.read_session() as s:
            assert (await s.execute(select(RateCounter))).first() is None  # nothing fell back to the database
    finally:
        await a.close()
        await b.close()


async def test_an_unreachable_redis_falls_back_to_the_database_and_says_so_once(
    sqlite_db: Database, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    dead = Redis.from_url('redis://127.0.0.1:1/0', socket_connect_timeout=0.2)
    limits = Limits(RedisCounters(dead, DatabaseCounters(sqlite_db, clock=clock)), key=b'k', clock=clock)
    with caplog.at_level(logging.WARNING, logger='app.services.limits'):
        for _ in range(3):
            await limits.hit(THREE_A_MINUTE, 'x')
        with pytest.raises(TooManyRequests):  # still limited while Redis is away
            await limits.hit(THREE_A_MINUTE, 'x')
    assert sum('Redis unreachable' in record.getMessage() for record in caplog.records) == 1
    await limits.close()


async def test_build_limits_uses_redis_only_when_configured(sqlite_db: Database) -> None:
    plain = build_limits(sqlite_db, redis_url='', key=b'k')
    shared = build_limits(sqlite_db, redis_url=REDIS_URL, key=b'k')
    assert isinstance(plain.store, DatabaseCounters) and isinstance(shared.store, RedisCounters)
    await shared.close()


TWO_A_MINUTE = Limit('tickets:anonymous', 2, dt.timedelta(minutes=1), 'hall_busy')


def _commits(db: Database) -> list[int]:
    """One entry per committed transaction of `db`'s write engine."""
    seen: list[int] = []
    event.listen(db.engine.sync_engine, 'commit', lambda _connection: seen.append(1))
    return seen


async def test_hit_all_counts_every_limit_in_one_commit_and_stops_at_the_first_refusal(
    db: Database, clock: FakeClock
) -> None:
    limits = database_limits(db, clock)
    commits = _commits(db)
    hits = [(TWO_A_MINUTE, 'hall'), (THREE_A_MINUTE, '10.0.0.1')]
    await limits.hit_all(hits)
    assert len(commits) == 1
    await limits.hit_all(hits)
    with pytest.raises(TooManyRequests) as refused:
        await limits.hit_all(hits)
    assert refused.value.code == 'hall_busy'
    assert await limits.count(TWO_A_MINUTE, 'hall') == 3  # the refused attempt counts, as with `hit`
    assert await limits.count(THREE_A_MINUTE, '10.0.0.1') == 2  # the limit after the refusal does not
    with pytest.raises(TooManyRequests) as second:
        await limits.hit_all([(THREE_A_MINUTE, '10.0.0.1'), (THREE_A_MINUTE, '10.0.0.1')])
    assert second.value.code == 'slow_down'  # the first counts to 3 (allowed), the second to 4 (refused)
    assert await limits.count(THREE_A_MINUTE, '10.0.0.1') == 4


async def test_hit_all_through_redis_counts_like_hit(sqlite_db: Database, clock: FakeClock) -> None:
    subject = secrets.token_hex(8)
    limits = Limits(RedisCounters(Redis.from_url(REDIS_URL), DatabaseCounters(sqlite_db, clock=clock)), key=b'k')
    try:
        await limits.hit_all([(TWO_A_MINUTE, subject), (THREE_A_MINUTE, subject)])
        await limits.hit_all([(TWO_A_MINUTE, subject), (THREE_A_MINUTE, subject)])
        with pytest.raises(TooManyRequests) as refused:
            await limits.hit_all([(TWO_A_MINUTE, subject), (THREE_A_MINUTE, subject)])
        assert 0 < refused.value.retry_after <= 61  # Redis's own clock: the window's time left
        assert (await limits.count(TWO_A_MINUTE, subject), await limits.count(THREE_A_MINUTE, subject)) == (3, 2)
    finally:
        await limits.close()
