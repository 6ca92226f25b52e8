"""Unmasking: a reason, a role and a task that need it, and an audit row for every attempt."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from app.db import Database
from app.models import AuditEntry, TicketCreate
from app.models.people import Role
from app.security.crypto import FieldCipher
from app.services import audit
from app.services.errors import Forbidden, Invalid
from app.services.principal import Kind, Principal
from app.services.queue import QueueService
from app.services.reasons import REASON_MAX
from app.services.unmask import unmask_citizen
from tests.callers import DESK
from tests.conftest import FakeClock
from tests.factories import SmallHall
from tests.idnumbers import make_id

ID_NUMBER = make_id(dt.date(1980, 3, 4))


def who(role: Role, window_id: int | None = None, name: str = 'w01') -> Principal:
    return Principal(Kind.STAFF, name, role, display_name='张三', user_id=1, window_id=window_id, session_id=1)


async def served_citizen(queue: QueueService, hall: SmallHall) -> int:
    view = await queue.take_ticket(
        TicketCreate(service_code=hall.service_a, id_number=ID_NUMBER, phone='13812341234', name='王小明'), caller=DESK
    )
    await queue.call_next(hall.window_1, caller=DESK)
    assert view.ticket.citizen_id is not None
    return view.ticket.citizen_id


async def unmask_rows(db: Database) -> list[AuditEntry]:
    async with db.session() as s:
        return list((await s.execute(select(AuditEntry).where(AuditEntry.action == audit.UNMASK))).scalars())


async def test_staff_see_their_current_citizen_and_it_is_audited(
    db: Database, queue: QueueService, hall: SmallHall, cipher: FieldCipher, clock: FakeClock
) -> None:
    citizen_id = await served_citizen(queue, hall)
    values = await unmask_citizen(
        db,
        cipher,
        who(Role.STAFF, hall.window_1),
        citizen_id,
        fields=['id_number', 'phone', 'name'],
        reason='核对身份',
        now=clock.now,
    )
    assert values == {'id_number': ID_NUMBER, 'phone': '13812341234', 'name': '王小明'}
    [row] = await unmask_rows(db)
    assert row.outcome == audit.OUTCOME_OK and row.detail['reason'] == '核对身份'
    assert ID_NUMBER not in str(row.detail) and '13812341234' not in str(row.detail)
    assert (await audit.verify(db)).ok


async def test_other_windows_and_other_citizens_are_refused_and_audited(
    db: Database, queue: QueueService, hall: SmallHall, cipher: FieldCipher, clock: FakeClock
) -> None:
    citizen_id = await served_citizen(queue, hall)
    with pytest.raises(Forbidden):
        await unmask_citizen(
            db, cipher, who(Role.STAFF, hall.window_2), citizen_id, fields=['id_number'], reason='好奇', now=clock.now
        )
    await queue.complete(hall.window_1, caller=DESK)
    with pytest.raises(Forbidden):
        await unmask_citizen(
            db, cipher, who(Role.STAFF, hall.window_1), citizen_id, fields=['id_number'], reason='补查', now=clock.now
        )
    assert [row.outcome for row in await unmask_rows(db)] == [audit.OUTCOME_DENIED, audit.OUTCOME_DENIED]


async def test_a_reason_is_required_and_managers_may_unmask(
    db: Database, queue: QueueService, hall: SmallHall, cipher: FieldCipher, clock: FakeClock
) -> None:
    citizen_id = await served_citizen(queue, hall)
    with pytest.raises(Invalid):
        await unmask_citizen(db, cipher, who(Role.MANAGER), citizen_id, fields=['phone'], reason=' ', now=clock.now)
    with pytest.raises(Invalid) as too_long:  # refused, not cut short in the audit row
        await unmask_citizen(
            db, cipher, who(Role.MANAGER), citizen_id, fields=['phone'], reason='查' * (REASON_MAX + 1), now=clock.now
        )
    assert too_long.value.code == 'reason_too_long'
    assert await unmask_rows(db) == []
    values = await unmask_citizen(
        db, cipher, who(Role.MANAGER, name='boss'), citizen_id, fields=['phone'], reason='回访', now=clock.now
    )
    assert values == {'phone': '13812341234'}
