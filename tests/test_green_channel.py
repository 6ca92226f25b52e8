"""绿色通道 set by people: a clerk at the desk (or a manager) marks a waiting ticket for disability or pregnancy; the
ticket names who, the audit log records who (never why), and nobody else can mark one."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import col, select

from app.db import Database
from app.models import Ticket, TicketCreate
from app.models.people import Role
from app.models.security import AuditEntry
from app.models.ticket import PriorityClass
from app.services.errors import Conflict, DomainError, Forbidden, Invalid
from app.services.principal import Kind, Principal
from app.services.queue import QueueService
from tests.callers import DESK
from tests.factories import SmallHall
from tests.idnumbers import make_id


def clerk(window_id: int) -> Principal:
    return Principal(Kind.STAFF, 'w01', Role.STAFF, window_id=window_id)


async def two_waiting(queue: QueueService, hall: SmallHall) -> tuple[str, str]:
    first = await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    second = await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    return first.ticket.number, second.ticket.number


async def ticket_of(db: Database, number: str) -> Ticket:
    async with db.read_session() as s:
        return (await s.execute(select(Ticket).where(Ticket.number == number))).scalar_one()


async def audit_rows(db: Database) -> list[AuditEntry]:
    async with db.read_session() as s:
        return list((await s.execute(select(AuditEntry).order_by(col(AuditEntry.id)))).scalars())


async def test_the_clerk_marks_a_waiting_ticket_and_it_moves_ahead_naming_the_clerk_in_the_ticket_and_the_audit(
    queue: QueueService, hall: SmallHall, db: Database
) -> None:
    _, second = await two_waiting(queue, hall)
    view = await queue.mark_green(hall.window_1, second, reason='pregnancy', caller=clerk(hall.window_1))
    assert (view.ticket.priority_class, view.ticket.priority_reason, view.ticket.priority_set_by) == (
        PriorityClass.GREEN,
        'pregnancy',
        'w01',
    )
    assert view.position == 1  # the live order follows at once
    assert (await queue.call_next(hall.window_1, caller=DESK)).ticket.number == second
    marked = [row for row in await audit_rows(db) if row.action == 'ticket_prioritised']
    assert [(row.actor, row.detail.get('set_by'), row.detail.get('green_channel')) for row in marked] == [
        ('w01', 'w01', True)
    ]
    assert 'pregnancy' not in str(marked[0].detail)  # health data stays on the ticket


async def refused(action: object, code: str, kind: type[DomainError]) -> None:
    with pytest.raises(kind) as error:
        await action  # type: ignore[misc]
    assert error.value.code == code


async def test_nobody_but_the_desk_or_a_manager_marks_and_bad_marks_change_nothing(
    queue: QueueService, hall: SmallHall, db: Database
) -> None:
    _, second = await two_waiting(queue, hall)
    before = (await ticket_of(db, second)).model_dump(), len(await audit_rows(db))
    for caller in (
        Principal.anonymous('10.0.0.5'),
        Principal.kiosk('K1'),
        Principal.kiosk('K1', assisted_by='w01'),  # a kiosk marks only while taking a number, with its clerk
        Principal.account(1),
    ):
        await refused(
            queue.mark_green(hall.window_1, second, reason='disability', caller=caller),
            'priority_needs_staff',
            Forbidden,
        )
    reviewer = Principal(Kind.STAFF, 'rv', Role.REVIEWER)
    await refused(queue.mark_green(hall.window_1, second, reason='disability', caller=reviewer), 'forbidden', Forbidden)
    await refused(
        queue.mark_green(hall.window_2, second, reason='disability', caller=clerk(hall.window_1)),
        'not_your_window',
        Forbidden,
    )
    for reason in ('elderly', 'vip', ''):
        await refused(
            queue.mark_green(hall.window_1, second, reason=reason, caller=DESK), 'green_reason_unknown', Invalid
        )
    assert ((await ticket_of(db, second)).model_dump(), len(await audit_rows(db))) == before
    await queue.mark_green(hall.window_1, second, reason='disability', caller=DESK)
    await refused(queue.mark_green(hall.window_1, second, reason='disability', caller=DESK), 'already_green', Conflict)
    await queue.call_next(hall.window_1, caller=DESK)
    await refused(
        queue.mark_green(hall.window_1, second, reason='pregnancy', caller=DESK), 'ticket_not_waiting', Conflict
    )


async def test_age_from_the_card_names_the_card_and_a_plain_ticket_names_nobody(
    queue: QueueService, hall: SmallHall
) -> None:
    elder = make_id(dt.date(1940, 1, 1), sequence='111')
    old = await queue.take_ticket(TicketCreate(service_code=hall.service_a, id_number=elder), caller=DESK)
    plain = await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    assert (old.ticket.priority_reason, old.ticket.priority_set_by) == ('elderly', 'id_card')
    assert (plain.ticket.priority_class, plain.ticket.priority_set_by) == (PriorityClass.NORMAL, '')
    marked = await queue.take_ticket(TicketCreate(service_code=hall.service_a, disability=True), caller=DESK)
    assert marked.ticket.priority_set_by == DESK.name
