"""Configuration versions: each save is the next version of its thing, audited and announced after commit."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from app.bus import InProcessBus
from app.clock import utcnow
from app.db import Database
from app.events import HallConfigChanged
from app.models import AuditEntry
from app.models.people import Role
from app.services.config_versions import ConfigHistory, save_version
from app.services.errors import Forbidden
from app.services.principal import Kind, Principal
from app.services.uow import unit_of_work
from tests.callers import deps_for
from tests.factories import SmallHall
from tests.twinkit import Recorder

ADMIN = Principal(Kind.STAFF, 'adm01', Role.ADMIN, address='10.0.0.9')


async def save(db: Database, bus: InProcessBus, hall: SmallHall, subject: str, data: dict[str, object]) -> int:
    async with unit_of_work(db, bus) as uow:
        row = await save_version(
            uow, ADMIN, hall_id=hall.hall_id, kind='service', subject=subject, data=data, now=utcnow()
        )
    return row.version


async def test_each_save_is_the_next_version_of_its_own_thing(db: Database, bus: InProcessBus, hall: SmallHall) -> None:
    assert await save(db, bus, hall, 'A', {'name': 'one'}) == 1
    assert await save(db, bus, hall, 'A', {'name': 'two'}) == 2
    assert await save(db, bus, hall, 'B', {'name': 'other'}) == 1
    history = ConfigHistory(deps_for(db, bus, hall_id=hall.hall_id))
    rows = await history.versions(ADMIN, kind='service', subject='A')
    assert [(r.version, r.data, r.actor) for r in rows] == [
        (2, {'name': 'two'}, 'adm01'),
        (1, {'name': 'one'}, 'adm01'),
    ]


async def test_a_save_is_audited_and_announced_after_commit(db: Database, bus: InProcessBus, hall: SmallHall) -> None:
    seen = Recorder(bus)
    await save(db, bus, hall, 'A', {'name': 'one'})
    await bus.drain()
    async with db.read_session() as s:
        actions = [
            (e.actor, e.action, e.target)
            for e in (await s.execute(select(AuditEntry).order_by(col(AuditEntry.id)))).scalars()
        ]
    assert ('adm01', 'config.service', 'A') in actions
    assert [(e.kind, e.subject, e.version) for e in seen.of(HallConfigChanged) if isinstance(e, HallConfigChanged)] == [
        ('service', 'A', 1)
    ]


async def test_a_failed_transaction_leaves_no_version_and_announces_nothing(
    db: Database, bus: InProcessBus, hall: SmallHall
) -> None:
    seen = Recorder(bus)
    with pytest.raises(RuntimeError):
        async with unit_of_work(db, bus) as uow:
            await save_version(uow, ADMIN, hall_id=hall.hall_id, kind='zone', subject='Z', data={}, now=utcnow())
            raise RuntimeError('the change itself failed')
    history = ConfigHistory(deps_for(db, bus, hall_id=hall.hall_id))
    assert await history.versions(ADMIN) == []
    await bus.drain()
    assert seen.of(HallConfigChanged) == []


@pytest.mark.parametrize('who', [Principal(Kind.STAFF, 'boss', Role.MANAGER), Principal.anonymous('10.0.0.66')])
async def test_only_admins_read_the_history(db: Database, bus: InProcessBus, hall: SmallHall, who: Principal) -> None:
    history = ConfigHistory(deps_for(db, bus, hall_id=hall.hall_id))
    with pytest.raises(Forbidden):
        await history.versions(who)
