"""The short memory of staff sessions: a token is read once per burst, yet an ended session is refused at once.

Two `Deps` on one database and one bus stand for two processes (each with its own memory, listening to
`SessionEnded` as app/main.py wires it). Whatever changes without an event (a database edit) holds after the
memory's few seconds, measured here on a fake monotonic clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from sqlalchemy import update
from sqlmodel import col

from app.bus import InProcessBus
from app.db import Database
from app.events import SessionEnded
from app.models.people import AuthSession, StaffUser
from app.services.auth import AuthService, SessionEnd, token_hash
from app.services.errors import Unauthorized
from app.services.session_cache import TTL_SECONDS, SessionCache
from app.services.staff_admin import StaffAdminService
from app.settings import Settings
from tests import totp
from tests.callers import deps_for
from tests.conftest import FakeClock
from tests.factories import SmallHall
from tests.test_staff_admin import admin

W01 = ('w01', 'Window-01-pass')


class Ticking:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ticking() -> Ticking:
    return Ticking()


@pytest.fixture
async def processes(
    db: Database, bus: InProcessBus, hall: SmallHall, settings: Settings, clock: FakeClock, ticking: Ticking
) -> AsyncIterator[tuple[AuthService, AuthService]]:
    """Two processes' AuthServices, each with its own memory following the bus."""
    services = []
    subscriptions = []
    for _ in range(2):
        deps = replace(
            deps_for(db, bus, hall_id=hall.hall_id, settings=settings, clock=clock),
            sessions=SessionCache(clock=ticking),
        )
        subscriptions.append(bus.subscribe(deps.sessions.apply, SessionEnded, name='session-cache'))
        services.append(AuthService(deps))
    yield services[0], services[1]
    for subscription in subscriptions:
        bus.unsubscribe(subscription)


async def _edit_session(db: Database, token: str, **values: object) -> None:
    async with db.session() as s, s.begin():
        await s.execute(update(AuthSession).where(col(AuthSession.token_hash) == token_hash(token)).values(**values))


async def test_a_session_is_read_once_per_burst_and_again_after_the_memory_lapses(
    processes: tuple[AuthService, AuthService], db: Database, ticking: Ticking, clock: FakeClock
) -> None:
    here, _ = processes
    issued = await totp.login(here, *W01)
    await here.authenticate(issued.token)
    await _edit_session(db, issued.token, revoked_at=clock.now)  # no event: as if edited by hand
    assert (await here.authenticate(issued.token)).session_id == issued.principal.session_id  # remembered
    ticking.now += TTL_SECONDS
    with pytest.raises(Unauthorized) as refused:
        await here.authenticate(issued.token)
    assert refused.value.code == 'session_expired'


async def test_time_based_endings_are_judged_at_each_request_even_when_remembered(
    processes: tuple[AuthService, AuthService], clock: FakeClock, settings: Settings
) -> None:
    here, _ = processes
    issued = await totp.login(here, *W01)
    await here.authenticate(issued.token)
    clock.advance(settings.token_idle_minutes + 1)  # minutes
    with pytest.raises(Unauthorized) as refused:
        await here.authenticate(issued.token)
    assert refused.value.code == 'session_expired'


async def test_logout_is_refused_at_once_here_and_in_the_other_process_when_its_event_arrives(
    processes: tuple[AuthService, AuthService], bus: InProcessBus
) -> None:
    here, there = processes
    issued = await totp.login(here, *W01)
    await here.authenticate(issued.token)
    await there.authenticate(issued.token)  # both remember it
    await here.logout(issued.token)
    with pytest.raises(Unauthorized):
        await here.authenticate(issued.token)  # no wait for the bus in the process that logged out
    await bus.drain()
    with pytest.raises(Unauthorized):
        await there.authenticate(issued.token)


async def test_a_disabled_account_is_refused_at_once_in_every_process(
    processes: tuple[AuthService, AuthService], db: Database, bus: InProcessBus
) -> None:
    here, there = processes
    issued = await totp.login(here, *W01)
    await there.authenticate(issued.token)
    staff = StaffAdminService(here.deps)
    await staff.disable(await admin(staff, db), 'w01')
    with pytest.raises(Unauthorized):
        await here.authenticate(issued.token)
    await bus.drain()
    with pytest.raises(Unauthorized):
        await there.authenticate(issued.token)


async def test_a_read_that_began_before_a_forget_is_not_remembered(ticking: Ticking) -> None:
    cache = SessionCache(clock=ticking)
    session = AuthSession(
        id=7, user_id=1, token_hash='h', created_at=dt.datetime.now(dt.UTC), last_seen_at=dt.datetime.now(dt.UTC)
    )
    user = StaffUser(id=1, username='w01', password_hash='x', role='staff')
    began = cache.generation
    cache.apply(SessionEnded(hall_id=1, session_id=7, reason=SessionEnd.LOGGED_OUT))  # committed meanwhile
    cache.keep('h', session, user, read_in=began)
    assert cache.get('h') is None
    cache.keep('h', session, user, read_in=cache.generation)
    assert cache.get('h') == (session, user)
    cache.forget(7)
    assert cache.get('h') is None
