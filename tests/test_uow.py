"""app.services.uow: one transaction, then its events; a service's one way to write is `_transaction()`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlmodel import select

import app.services
from app.bus import Bus, Handler, Subscription
from app.db import Database
from app.events import Event, SessionEnded
from app.models.security import RateCounter
from app.services.deps import Deps
from app.services.uow import Service, unit_of_work
from tests.callers import deps_for

LATER = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
ROOT = Path(__file__).resolve().parent.parent


class CheckingBus(Bus):
    """Records each published event with what a fresh reader saw of the counters at that moment."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.published: list[tuple[Event, list[str]]] = []

    async def publish(self, event: Event) -> None:
        async with self.db.read_session() as s:
            keys = sorted((await s.execute(select(RateCounter.key))).scalars())
        self.published.append((event, keys))

    def subscribe(self, handler: Handler, *types: type[Event], name: str = '') -> Subscription:
        raise NotImplementedError

    def unsubscribe(self, subscription: Subscription) -> None:
        raise NotImplementedError


def ended(session_id: int) -> SessionEnded:
    return SessionEnded(hall_id=1, session_id=session_id)


async def keys(db: Database) -> list[str]:
    async with db.read_session() as s:
        return sorted((await s.execute(select(RateCounter.key))).scalars())


async def test_events_are_published_only_after_the_work_is_committed(db: Database) -> None:
    bus = CheckingBus(db)
    async with unit_of_work(db, bus) as uow:
        uow.session.add(RateCounter(key='a', count=1, expires_at=LATER))
        uow.emit(ended(1))
        uow.emit(ended(2))
        assert bus.published == []
    assert [(event.session_id, seen) for event, seen in bus.published] == [(1, ['a']), (2, ['a'])]


async def test_work_that_fails_writes_nothing_and_publishes_nothing(db: Database) -> None:
    bus = CheckingBus(db)
    with pytest.raises(RuntimeError, match='refused'):
        async with unit_of_work(db, bus) as uow:
            uow.session.add(RateCounter(key='a', count=1, expires_at=LATER))
            uow.emit(ended(1))
            await uow.session.flush()
            raise RuntimeError('refused')
    assert bus.published == []
    assert await keys(db) == []


async def test_work_without_a_bus_writes_but_may_not_emit(db: Database) -> None:
    async with unit_of_work(db) as uow:
        uow.session.add(RateCounter(key='a', count=1, expires_at=LATER))
    assert await keys(db) == ['a']
    with pytest.raises(RuntimeError, match='no bus'):
        async with unit_of_work(db) as uow:
            uow.session.add(RateCounter(key='b', count=1, expires_at=LATER))
            uow.emit(ended(1))
    assert await keys(db) == ['a']


class Remembering(Service):
    """A service whose in-memory state must see its own events before the bus delivers them."""

    def __init__(self, deps: Deps) -> None:
        super().__init__(deps)
        self.applied: list[str] = []

    def _apply_first(self) -> Callable[[Event], object] | None:
        return lambda event: self.applied.append(event.id)


async def test_a_service_writes_through_its_transaction_and_applies_its_events_before_the_bus(db: Database) -> None:
    bus = CheckingBus(db)
    service = Remembering(deps_for(db, bus))
    seen_by_bus: list[list[str]] = []
    original = bus.publish

    async def publish(event: Event) -> None:
        seen_by_bus.append(list(service.applied))
        await original(event)

    bus.publish = publish  # type: ignore[method-assign]
    event = ended(7)
    async with service._transaction() as uow:
        uow.session.add(RateCounter(key='s', count=1, expires_at=LATER))
        uow.emit(event)
    assert service.applied == [event.id]
    assert seen_by_bus == [[event.id]]
    assert await keys(db) == ['s']


WRITE_BLOCK = re.compile(r'\.write_lock\(\)|\.session\(\) as (\w+), \1\.begin\(\)')
ONE_WAY = {ROOT / 'app' / 'db.py', ROOT / 'app' / 'services' / 'uow.py'}


def test_no_code_opens_a_write_transaction_of_its_own() -> None:
    """A raw lock/session/begin block would write without the unit of work (and may take the lock twice)."""
    offenders = sorted(
        str(path.relative_to(ROOT))
        for layer in ('app', 'twin', 'devices', 'components', 'pages', 'seed')
        for path in (ROOT / layer).rglob('*.py')
        if path not in ONE_WAY and WRITE_BLOCK.search(path.read_text(encoding='utf-8'))
    )
    assert offenders == []


SHARED = {'db', 'bus', 'settings', 'cipher', 'limits', 'hall_id', 'clock'}


def _service_classes() -> list[type]:
    """Every Service in app/services, and every class named like one that is not a data record."""
    classes = []
    for module_info in pkgutil.iter_modules(app.services.__path__):
        module = importlib.import_module(f'app.services.{module_info.name}')
        classes += [
            value
            for name, value in vars(module).items()
            if inspect.isclass(value)
            and value.__module__ == module.__name__
            and value is not Service
            and (issubclass(value, Service) or (name.endswith('Service') and not dataclasses.is_dataclass(value)))
        ]
    return classes


def test_every_service_is_built_from_the_shared_dependencies_and_its_own_collaborators() -> None:
    """One shape: `XService(deps, ...)`; a service that lists the database, bus or settings again has drifted."""
    classes = _service_classes()
    assert len(classes) > 15  # the scan sees the services
    for cls in classes:
        assert issubclass(cls, Service), f'{cls.__name__} does not subclass Service'
        parameters = list(inspect.signature(cls).parameters)
        assert parameters[:1] == ['deps'], f'{cls.__name__}{inspect.signature(cls)}'
        assert SHARED.isdisjoint(parameters), f'{cls.__name__} takes {SHARED & set(parameters)} beside deps'
