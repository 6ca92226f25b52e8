"""The grants relatives' light pages listen under (twin/grant_watch.py): ended at once, run out on time, one entry
and one timer per grant however many pages hold it, gone with its last page."""

from __future__ import annotations

import asyncio
import datetime as dt

from app.clock import utcnow
from app.events import ProxyChanged
from app.models.proxy import ProxyGrant
from twin.grant_watch import GrantWatch

NOW = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC)


def grant(grant_id: int, *, lasts: dt.timedelta = dt.timedelta(hours=1), start: dt.datetime = NOW) -> ProxyGrant:
    return ProxyGrant(
        id=grant_id,
        citizen_id=1,
        consent_id=1,
        ticket_id=1,
        token_hash=f'hash-{grant_id}',
        relation='子女',
        created_at=start,
        expires_at=(start + lasts).replace(tzinfo=None),  # as SQLite hands it back: naive UTC
    )


def ended(grant_id: int, change: str = 'ended') -> ProxyChanged:
    return ProxyChanged(hall_id=1, grant_id=grant_id, ticket_id=1, change=change)


async def test_an_ended_grant_ends_every_page_that_holds_it_and_no_other_grant() -> None:
    watch = GrantWatch(lambda: NOW)
    first, again, other = watch.hold(grant(1)), watch.hold(grant(1)), watch.hold(grant(2))
    assert first is again and len(watch.grants) == 2
    for change in ('joined', 'proposed', 'accepted'):
        watch.on_proxy(ended(1, change))
    assert not first.ended.is_set()
    watch.on_proxy(ended(1))
    assert first.ended.is_set() and not other.ended.is_set()
    watch.on_proxy(ended(99))  # a grant nobody here watches: nothing to do
    watch.stop()


async def test_a_grant_runs_out_at_its_expiry_by_its_one_timer() -> None:
    now = utcnow()
    watch = GrantWatch(utcnow)
    watched = watch.hold(grant(1, lasts=dt.timedelta(milliseconds=50), start=now))
    await asyncio.wait_for(watched.ended.wait(), timeout=5)
    late = watch.hold(grant(2, lasts=-dt.timedelta(seconds=1), start=now))  # ran out before its page came
    await asyncio.wait_for(late.ended.wait(), timeout=5)
    watch.stop()


async def test_the_last_page_leaving_drops_the_grant_and_its_timer() -> None:
    watch = GrantWatch(lambda: NOW)
    first, second = watch.hold(grant(1)), watch.hold(grant(1))
    timer = first.expiry
    assert timer is not None
    watch.release(first)
    assert 1 in watch.grants and not timer.cancelled()
    watch.release(second)
    assert watch.grants == {} and timer.cancelled()
    fresh = watch.hold(grant(1))  # a page that comes later watches afresh
    assert fresh is not first and not fresh.ended.is_set()
    watch.stop()
    assert fresh.expiry is not None and fresh.expiry.cancelled()
