"""跨区通办 of a ticket: the journey hall (the source) sends a ticket to 东区, whose own process issues it anew.

Both halls' services run on one database and one bus here, each with its own hall id, as their two processes would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import func
from sqlmodel import col, select

from app.bus import InProcessBus
from app.db import Database
from app.events import HandoffApplied
from app.models import TicketCreate, TicketHandoff
from app.models.hall import Window
from app.models.handoff import HandoffStatus
from app.models.people import Role
from app.models.security import AuditEntry
from app.models.ticket import PriorityClass, Ticket, TicketEvent, TicketStatus
from app.security.crypto import FieldCipher
from app.services.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from app.services.principal import Kind, Principal
from app.services.queue import QueueService, TicketView
from app.services.ticket_handoff import HandoffView, TicketHandoffService, WaitingToSend
from app.settings import Settings
from tests import journeyhall
from tests.callers import DESK, deps_for
from tests.conftest import FakeClock
from tests.easthall import EAST, EAST_CODE, add_east_hall
from tests.journeyhall import JourneyHall

journey_hall = journeyhall.journey_hall_fixture
journey_settings = journeyhall.journey_settings_fixture
journey = journeyhall.journey_fixture
hall_queue = journeyhall.hall_queue_fixture

REASON = '户籍在东区，由东区办理'


@dataclass(frozen=True)
class TwoProcesses:
    source: TicketHandoffService  # the journey hall's process
    target: TicketHandoffService  # 东区's process
    target_queue: QueueService
    east_id: int
    east_window: int


@pytest.fixture
async def halls(
    db: Database,
    journey_settings: Settings,
    cipher: FieldCipher,
    clock: FakeClock,
    hall_queue: QueueService,
) -> AsyncIterator[TwoProcesses]:
    """东区 (its window serves SVC-C only) on a bus of its own, as its process has its own stream, and each hall's
    handoff service over its own live queue."""
    async with db.session() as s, s.begin():
        east = await add_east_hall(s, serves=['SVC-C'])
    east_bus = InProcessBus()
    east_deps = deps_for(db, east_bus, hall_id=east.hall_id, settings=journey_settings, clock=clock, cipher=cipher)
    east_queue = QueueService(east_deps)
    await hall_queue.start_live()
    await east_queue.start_live()
    yield TwoProcesses(
        TicketHandoffService(hall_queue.deps, queue=hall_queue),
        TicketHandoffService(east_deps, queue=east_queue),
        east_queue,
        east.hall_id,
        east.window_id,
    )
    await east_bus.stop()


def clerk_of(window_id: int) -> Principal:
    return Principal(Kind.STAFF, 'w01', Role.STAFF, window_id=window_id)


async def take(queue: QueueService, service_code: str = 'SVC-A', **flags: Any) -> TicketView:
    return await queue.take_ticket(TicketCreate(service_code=service_code, **flags), caller=DESK)


async def ticket(db: Database, ticket_id: int) -> Ticket:
    async with db.read_session() as s:
        found = await s.get(Ticket, ticket_id)
        assert found is not None
        return found


async def state(db: Database) -> dict[str, Any]:
    """Every ticket, window, ticket event, handoff and audit row: what a refusal must leave as it was."""
    async with db.read_session() as s:

        async def rows(model: Any) -> list[dict[str, Any]]:
            return [row.model_dump() for row in (await s.execute(select(model).order_by(col(model.id)))).scalars()]

        return {
            'tickets': await rows(Ticket),
            'windows': await rows(Window),
            'events': await rows(TicketEvent),
            'handoffs': await rows(TicketHandoff),
            'audit': (await s.execute(select(func.count()).select_from(AuditEntry))).scalar_one(),
        }


async def test_a_waiting_ticket_gets_the_other_halls_number_keeps_its_priority_and_place_and_both_link(
    db: Database, halls: TwoProcesses, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    taken = await take(hall_queue, disability=True)
    original_id = taken.ticket.id or 0
    assert taken.ticket.priority_class == PriorityClass.GREEN

    sent = await halls.source.send(
        taken.ticket.number, to_hall_code=EAST_CODE, to_service_code='SVC-C', reason=REASON, caller=DESK
    )

    assert sent.status == HandoffStatus.PENDING and sent.new_number is None
    closed = await ticket(db, original_id)
    assert closed.status == TicketStatus.TRANSFERRED
    assert original_id not in hall_queue.live.waiting.get(closed.service_id, {})  # type: ignore[union-attr]

    assert await halls.target.inbox_round() == (1, 0)
    applied = await halls.source.view(sent.id)
    assert applied.status == HandoffStatus.APPLIED and applied.to_hall == EAST
    async with db.read_session() as s:
        issued = (await s.execute(select(Ticket).where(Ticket.hall_id == halls.east_id))).scalar_one()
        events = {
            (row.ticket_id, row.kind): row.detail
            for row in (await s.execute(select(TicketEvent).order_by(col(TicketEvent.id)))).scalars()
        }
    assert applied.new_number == issued.number and applied.new_code == issued.code
    assert issued.number.startswith('C') and issued.code != closed.code
    assert issued.priority_class == PriorityClass.GREEN
    assert issued.queued_at == closed.taken_at and issued.awaiting_arrival
    assert events[(original_id, 'handed_off')]['to_hall'] == EAST_CODE
    assert events[(issued.id, 'issued')]['from_number'] == closed.number
    assert await halls.source.of_ticket(original_id) == await halls.target.of_ticket(issued.id or 0) == applied
    assert issued.id in halls.target_queue.live.waiting[issued.service_id]  # type: ignore[union-attr]
    assert issued.id not in hall_queue.live.waiting.get(issued.service_id, {})  # type: ignore[union-attr]


async def test_a_served_ticket_frees_its_window_when_sent(
    db: Database, halls: TwoProcesses, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    window_id = journey_hall.small.window_1
    await take(hall_queue)
    called = await hall_queue.call_next(window_id, caller=DESK)

    await halls.source.send(
        called.ticket.number, to_hall_code=EAST_CODE, to_service_code='SVC-C', reason=REASON, caller=clerk_of(window_id)
    )

    async with db.read_session() as s:
        window = await s.get(Window, window_id)
    assert window is not None and window.current_ticket_id is None
    assert hall_queue.live.windows[window_id].current_ticket_id is None  # type: ignore[union-attr]
    assert (await ticket(db, called.ticket.id or 0)).status == TicketStatus.TRANSFERRED


async def test_applying_again_or_from_two_processes_at_once_issues_one_ticket(
    db: Database, halls: TwoProcesses, hall_queue: QueueService, bus: InProcessBus
) -> None:
    taken = await take(hall_queue)
    await halls.source.send(
        taken.ticket.number, to_hall_code=EAST_CODE, to_service_code='SVC-C', reason=REASON, caller=DESK
    )
    second = TicketHandoffService(halls.target.deps, queue=halls.target_queue)  # another process of 东区

    rounds = await asyncio.gather(halls.target.inbox_round(), second.inbox_round())
    again, _ = await halls.target.inbox_round()

    assert sorted(applied for applied, _ in rounds) == [0, 1] and again == 0
    async with db.read_session() as s:
        count = (await s.execute(select(func.count()).where(Ticket.hall_id == halls.east_id))).scalar_one()
    assert count == 1


async def test_a_handoff_waits_until_the_other_halls_process_runs(
    db: Database, halls: TwoProcesses, hall_queue: QueueService
) -> None:
    taken = await take(hall_queue)
    sent = await halls.source.send(
        taken.ticket.number, to_hall_code=EAST_CODE, to_service_code='SVC-C', reason=REASON, caller=DESK
    )

    waited = await halls.source.wait_applied(sent.id, within=0.2)

    assert waited.status == HandoffStatus.PENDING  # nothing applied it: the sender is told so
    assert await halls.source.inbox_round() == (0, 0)  # the source hall's own inbox never applies another hall's row
    assert await halls.target.inbox_round() == (1, 0)


@pytest.mark.parametrize(
    ('hall_code', 'service_code', 'error', 'code'),
    [
        ('nowhere', 'SVC-C', NotFound, 'unknown_hall_code'),
        ('main', 'SVC-C', Conflict, 'handoff_same_hall'),
        (EAST_CODE, 'NO-SUCH', NotFound, 'unknown_service'),
        (EAST_CODE, 'SVC-A', Conflict, 'service_not_in_hall'),
        (EAST_CODE, 'X' * 40, NotFound, 'unknown_service'),
    ],
)
async def test_an_unknown_or_wrong_target_is_refused_and_changes_nothing(
    db: Database,
    halls: TwoProcesses,
    hall_queue: QueueService,
    hall_code: str,
    service_code: str,
    error: type[DomainError],
    code: str,
) -> None:
    taken = await take(hall_queue)
    before = await state(db)

    with pytest.raises(error) as refused:
        await halls.source.send(
            taken.ticket.number, to_hall_code=hall_code, to_service_code=service_code, reason=REASON, caller=DESK
        )

    assert refused.value.code == code
    assert await state(db) == before


async def test_strangers_the_other_halls_clerk_and_a_replay_are_refused_and_change_nothing(
    db: Database, halls: TwoProcesses, hall_queue: QueueService
) -> None:
    taken = await take(hall_queue)
    number = taken.ticket.number
    before = await state(db)

    async def send(caller: Principal, reason: str = REASON, which: str = number) -> None:
        await halls.source.send(which, to_hall_code=EAST_CODE, to_service_code='SVC-C', reason=reason, caller=caller)

    for stranger in (Principal(Kind.STAFF, 'rv01', Role.REVIEWER), Principal.citizen(1)):
        with pytest.raises(Forbidden) as forbidden:
            await send(stranger)
        assert forbidden.value.code == 'forbidden'
    with pytest.raises(Forbidden) as other_hall:
        await send(clerk_of(halls.east_window))
    assert other_hall.value.code == 'not_your_hall'
    with pytest.raises(Invalid) as no_reason:
        await send(DESK, reason='  ')
    assert no_reason.value.code == 'reason_required'
    with pytest.raises(NotFound) as unknown:
        await send(DESK, which='Z999')
    assert unknown.value.code == 'unknown_ticket'
    assert await state(db) == before

    await send(DESK)
    sent = await state(db)
    with pytest.raises(Conflict) as replay:
        await send(DESK)
    assert replay.value.code == 'ticket_already_transferred'
    assert await state(db) == sent


async def test_a_completed_ticket_cannot_be_sent(
    db: Database, halls: TwoProcesses, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    done = await journeyhall.served_ticket(hall_queue, journey_hall.small.window_1, 'SVC-A', complete=True)
    before = await state(db)

    with pytest.raises(Conflict) as refused:
        await halls.source.send(
            done.ticket.number, to_hall_code=EAST_CODE, to_service_code='SVC-C', reason=REASON, caller=DESK
        )

    assert refused.value.code == 'ticket_not_transferable'
    assert await state(db) == before


async def test_both_halls_audit_rows_say_where_the_ticket_went_and_came_from(
    db: Database, halls: TwoProcesses, hall_queue: QueueService
) -> None:
    taken = await take(hall_queue)
    sent = await halls.source.send(
        taken.ticket.number, to_hall_code=EAST_CODE, to_service_code='SVC-C', reason=REASON, caller=DESK
    )
    await halls.target.inbox_round()

    async with db.read_session() as s:
        statement = select(AuditEntry).order_by(col(AuditEntry.id))
        rows = {row.action: row for row in (await s.execute(statement)).scalars()}  # the latest of each action
    out, into = rows['ticket_handed_off'], rows['ticket_issued']
    assert out.actor == DESK.name and out.detail['to_hall'] == EAST_CODE and out.detail['handoff_id'] == sent.id
    assert into.detail['from_number'] == taken.ticket.number and into.detail['handoff_id'] == sent.id


async def test_any_clerk_of_the_hall_sends_a_waiting_ticket_but_only_its_own_window_a_served_one(
    db: Database, halls: TwoProcesses, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    window_1, window_2 = journey_hall.small.window_1, journey_hall.small.window_2
    served = await journeyhall.served_ticket(hall_queue, window_1, 'SVC-A')
    waiting = await take(hall_queue, 'SVC-A')
    before = await state(db)

    async def send(number: str) -> HandoffView:
        return await halls.source.send(
            number, to_hall_code=EAST_CODE, to_service_code='SVC-C', reason=REASON, caller=clerk_of(window_2)
        )

    with pytest.raises(Forbidden) as refused:
        await send(served.ticket.number)
    assert refused.value.code == 'not_your_window'
    assert await state(db) == before

    sent = await send(waiting.ticket.number)
    assert sent.from_number == waiting.ticket.number
    assert (await ticket(db, waiting.ticket.id or 0)).status == TicketStatus.TRANSFERRED
    assert (await ticket(db, served.ticket.id or 0)).status == TicketStatus.CALLED


def heard(bus: InProcessBus) -> list[HandoffApplied]:
    """Every HandoffApplied the source hall's bus carries, from now on."""
    events: list[HandoffApplied] = []
    bus.subscribe(lambda event: events.append(event) if isinstance(event, HandoffApplied) else None, HandoffApplied)
    return events


async def test_the_source_hall_announces_an_applied_handoff_once_even_from_two_processes(
    halls: TwoProcesses, hall_queue: QueueService, bus: InProcessBus, clock: FakeClock
) -> None:
    events = heard(bus)
    taken = await take(hall_queue)
    sent = await halls.source.send(
        taken.ticket.number, to_hall_code=EAST_CODE, to_service_code='SVC-C', reason=REASON, caller=DESK
    )
    assert await halls.source.inbox_round() == (0, 0)  # nothing applied yet: nothing to say

    clock.advance(1)  # a minute later: the sender had been told "pending" long before
    await halls.target.inbox_round()
    second = TicketHandoffService(hall_queue.deps, queue=hall_queue)  # another process of the source hall
    rounds = await asyncio.gather(halls.source.inbox_round(), second.inbox_round())
    await bus.drain()

    assert sorted(announced for _, announced in rounds) == [0, 1] and await halls.source.inbox_round() == (0, 0)
    (event,) = events
    assert (event.handoff_id, event.from_ticket_id) == (sent.id, taken.ticket.id)
    assert event.from_number == taken.ticket.number
    assert (event.to_hall, event.new_number, event.actor, event.late) == (EAST, 'C001', DESK.name, True)


async def test_a_handoff_applied_while_its_sender_waited_is_announced_as_not_late(
    halls: TwoProcesses, hall_queue: QueueService, bus: InProcessBus
) -> None:
    events = heard(bus)
    taken = await take(hall_queue)
    await halls.source.send(
        taken.ticket.number, to_hall_code=EAST_CODE, to_service_code='SVC-C', reason=REASON, caller=DESK
    )
    await halls.target.inbox_round()

    assert await halls.source.inbox_round() == (0, 1)
    assert await halls.target.inbox_round() == (0, 0)  # the target hall sent nothing: it announces nothing
    await bus.drain()
    assert [event.late for event in events] == [False]


# ---- the desk's pick-list: the waiting tickets a caller may send ------------------------------------------------


async def listed(handoffs: TicketHandoffService, caller: Principal = DESK) -> list[str]:
    return [waiting.number for waiting in await handoffs.waiting_to_send(caller)]


async def test_the_pick_list_holds_todays_waiting_tickets_by_number_with_their_service_and_wait(
    halls: TwoProcesses, hall_queue: QueueService, journey_hall: JourneyHall, clock: FakeClock
) -> None:
    window_1, window_2 = journey_hall.small.window_1, journey_hall.small.window_2
    await take(hall_queue, 'SVC-B')
    clock.advance(7)
    await take(hall_queue, 'SVC-A')
    clock.advance(5)

    listing = await halls.source.waiting_to_send(clerk_of(window_2))

    assert listing == [WaitingToSend('A001', '事项甲', '', 5), WaitingToSend('B001', '事项乙', '', 12)]
    assert await halls.source.waiting_to_send(clerk_of(window_1)) == listing == await halls.source.waiting_to_send(DESK)


async def test_a_ticket_the_caller_may_not_send_is_never_listed(
    db: Database, halls: TwoProcesses, hall_queue: QueueService, journey_hall: JourneyHall, clock: FakeClock
) -> None:
    await journeyhall.served_ticket(hall_queue, journey_hall.small.window_1, 'SVC-A', complete=True)  # A001, done
    await journeyhall.served_ticket(hall_queue, journey_hall.small.window_1, 'SVC-A')  # A002, served at window 1
    clock.advance(-24 * 60)
    await take(hall_queue, 'SVC-B')  # B001, still waiting from yesterday: `send` finds today's numbers only
    clock.advance(24 * 60)
    await take(hall_queue, 'SVC-A')  # A003
    await halls.target_queue.take_ticket(TicketCreate(service_code='SVC-C'), caller=DESK)  # 东区's C001

    assert hall_queue.live is not None and {n.number for n in hall_queue.live.numbers.values()} == {'A003', 'B001'}
    assert await listed(halls.source, clerk_of(journey_hall.small.window_2)) == ['A003']
    before = await state(db)
    for number, code in (('B001', 'unknown_ticket'), ('A001', 'ticket_not_transferable'), ('A002', 'not_your_window')):
        with pytest.raises(DomainError) as refused:  # what the list leaves out, `send` refuses
            await halls.source.send(
                number,
                to_hall_code=EAST_CODE,
                to_service_code='SVC-C',
                reason=REASON,
                caller=clerk_of(journey_hall.small.window_2),
            )
        assert refused.value.code == code
    assert await state(db) == before


async def test_a_desk_of_this_hall_is_answered_from_the_live_queue_without_a_query(
    halls: TwoProcesses, hall_queue: QueueService, journey_hall: JourneyHall, monkeypatch: pytest.MonkeyPatch
) -> None:
    await take(hall_queue)

    def no_query() -> None:
        raise AssertionError('the list was read from the database')

    monkeypatch.setattr(halls.source.db, 'read_session', no_query)  # every desk asks on every ticket event
    assert await listed(halls.source, clerk_of(journey_hall.small.window_2)) == ['A001']
    assert await listed(halls.source, DESK) == ['A001']


async def test_who_may_not_send_is_refused_the_list(halls: TwoProcesses, hall_queue: QueueService) -> None:
    await take(hall_queue)
    for stranger in (Principal(Kind.STAFF, 'rv01', Role.REVIEWER), Principal.citizen(1), Principal.kiosk('K01')):
        with pytest.raises(Forbidden) as forbidden:
            await halls.source.waiting_to_send(stranger)
        assert forbidden.value.code == 'forbidden'
    with pytest.raises(Forbidden) as other_hall:  # 东区's clerk: a window this hall's live queue does not know
        await halls.source.waiting_to_send(clerk_of(halls.east_window))
    assert other_hall.value.code == 'not_your_hall'
    assert await listed(halls.target, clerk_of(halls.east_window)) == []  # their own hall has nobody waiting


async def test_a_sent_or_called_ticket_leaves_the_list_and_a_fresh_read_agrees(
    halls: TwoProcesses, hall_queue: QueueService, journey_hall: JourneyHall, deps_fresh: TicketHandoffService
) -> None:
    for _ in range(3):
        await take(hall_queue, 'SVC-A')
    assert await listed(halls.source) == ['A001', 'A002', 'A003']

    await halls.source.send('A002', to_hall_code=EAST_CODE, to_service_code='SVC-C', reason=REASON, caller=DESK)
    assert await listed(halls.source) == ['A001', 'A003']
    await hall_queue.call_next(journey_hall.small.window_1, caller=DESK)  # calls A001
    assert await listed(halls.source) == ['A003']
    await hall_queue.transfer(journey_hall.small.window_1, to_service_code='SVC-B', caller=DESK)
    assert await listed(halls.source) == ['A001', 'A003']  # moved to another queue of this hall: waiting again

    assert await deps_fresh.waiting_to_send(DESK) == await halls.source.waiting_to_send(DESK)


@pytest.fixture
def deps_fresh(hall_queue: QueueService) -> TicketHandoffService:
    """The same hall's handoffs without a live queue (a script): the list is read from the database."""
    queue = QueueService(hall_queue.deps)
    return TicketHandoffService(hall_queue.deps, queue=queue)


async def test_an_inbox_round_applies_and_announces_and_an_empty_round_is_one_query(
    db: Database, halls: TwoProcesses, hall_queue: QueueService, bus: InProcessBus
) -> None:
    events = heard(bus)
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith('SELECT'):
            statements.append(statement)

    engines = {db.engine.sync_engine, db.read_engine.sync_engine}
    for engine in engines:
        sqlalchemy_event.listen(engine, 'before_cursor_execute', seen)
    try:
        assert await halls.source.inbox_round() == (0, 0) and await halls.target.inbox_round() == (0, 0)
        assert len(statements) == 2  # one read per hall's round when nothing waits

        taken = await take(hall_queue)
        await halls.source.send(
            taken.ticket.number, to_hall_code=EAST_CODE, to_service_code='SVC-C', reason=REASON, caller=DESK
        )
        assert await halls.target.inbox_round() == (1, 0)  # 东区 issues its number
        assert await halls.source.inbox_round() == (0, 1)  # this hall tells its pages, once
        assert await halls.source.inbox_round() == (0, 0) and await halls.target.inbox_round() == (0, 0)
    finally:
        for engine in engines:
            sqlalchemy_event.remove(engine, 'before_cursor_execute', seen)
    await bus.drain()
    assert [(e.from_ticket_id, e.new_number) for e in events] == [(taken.ticket.id, 'C001')]
