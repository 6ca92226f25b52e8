"""Queue rules at their edges, on SQLite and PostgreSQL: each test fails if its rule's one line is changed.

Recalls count time (RECALL_INTERVAL_SECONDS), a transfer sends a ticket only where it can be called and
takes its recalls and its place with it, every cap the API puts on a window's input holds in the service
too, and the fairness cap applies from exactly the cap on, in the SQL pick and in the position estimate.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable

import pytest
from sqlmodel import col, select

from app.bus import InProcessBus
from app.db import Database
from app.models import Ticket, TicketCreate, TicketEvent, TicketStatus, Window, WindowState
from app.models.ticket import PriorityClass
from app.security.crypto import FieldCipher
from app.services import window_desk
from app.services.errors import Conflict, DomainError, Invalid
from app.services.queue import QueueService
from app.services.reasons import REASON_MAX
from app.settings import Settings
from tests.callers import DESK, deps_for
from tests.conftest import AUDIT_KEY, FakeClock
from tests.factories import SmallHall
from tests.idnumbers import make_id


def take(service: str, **kwargs: object) -> TicketCreate:
    return TicketCreate(service_code=service, **kwargs)


def seconds(clock: FakeClock, value: float) -> None:
    clock.advance(value / 60)


async def refused(action: Awaitable[object], code: str, kind: type[DomainError] = Conflict) -> DomainError:
    with pytest.raises(kind) as error:
        await action
    assert error.value.code == code
    return error.value


async def ticket_row(db: Database, ticket_id: int | None) -> Ticket:
    async with db.read_session() as s:
        row = await s.get(Ticket, ticket_id)
        assert row is not None
        return row


async def kinds(db: Database, ticket_id: int | None) -> list[str]:
    async with db.read_session() as s:
        rows = await s.execute(
            select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket_id).order_by(col(TicketEvent.id))
        )
        return list(rows.scalars())


async def window_state(db: Database, window_id: int) -> tuple[WindowState, int | None]:
    async with db.read_session() as s:
        window = await s.get(Window, window_id)
        assert window is not None
        return window.state, window.current_ticket_id


# ---- recalls count time, not clicks ----------------------------------------------------------------


async def test_recalls_and_no_show_wait_the_interval_after_each_call(
    queue: QueueService, hall: SmallHall, db: Database, clock: FakeClock
) -> None:
    interval = queue.settings.recall_interval_seconds
    assert interval == 30 and queue.settings.recalls_before_no_show == 2, 'the defaults this test is about'
    ticket = await queue.take_ticket(take(hall.service_a), caller=DESK)
    await queue.call_next(hall.window_1, caller=DESK)
    too_soon = await refused(queue.recall(hall.window_1, caller=DESK), 'recall_too_soon')
    assert too_soon.status == 409 and '30' in too_soon.message
    seconds(clock, interval - 0.5)
    await refused(queue.recall(hall.window_1, caller=DESK), 'recall_too_soon')
    seconds(clock, 0.5)  # exactly the interval after the call
    assert (await queue.recall(hall.window_1, caller=DESK)).ticket.recall_count == 1
    await refused(queue.recall(hall.window_1, caller=DESK), 'recall_too_soon')  # counted from the last recall
    seconds(clock, interval)
    await queue.recall(hall.window_1, caller=DESK)
    await refused(queue.no_show(hall.window_1, caller=DESK), 'no_show_too_soon')
    seconds(clock, interval - 0.5)
    await refused(queue.no_show(hall.window_1, caller=DESK), 'no_show_too_soon')
    seconds(clock, 0.5)
    assert (await queue.no_show(hall.window_1, caller=DESK)).ticket.status == TicketStatus.NO_SHOW
    assert await kinds(db, ticket.ticket.id) == ['issued', 'called', 'recalled', 'recalled', 'no_show']


async def test_the_recall_interval_is_a_setting(
    db: Database, bus: InProcessBus, settings: Settings, cipher: FieldCipher, hall: SmallHall, clock: FakeClock
) -> None:
    quick = settings.model_copy(update={'recall_interval_seconds': 5.0, 'recalls_before_no_show': 1})
    queue = QueueService(deps_for(db, bus, hall_id=hall.hall_id, settings=quick, clock=clock, cipher=cipher))
    await queue.take_ticket(take(hall.service_a), caller=DESK)
    await queue.call_next(hall.window_1, caller=DESK)
    seconds(clock, 4)
    await refused(queue.recall(hall.window_1, caller=DESK), 'recall_too_soon')
    seconds(clock, 1)
    await queue.recall(hall.window_1, caller=DESK)
    seconds(clock, 5)
    assert (await queue.no_show(hall.window_1, caller=DESK)).ticket.status == TicketStatus.NO_SHOW


# ---- transfers ---------------------------------------------------------------------------------------


async def test_a_transfer_to_its_own_window_is_refused_and_changes_nothing(
    queue: QueueService, hall: SmallHall, db: Database
) -> None:
    ticket = await queue.take_ticket(take(hall.service_a), caller=DESK)
    await queue.call_next(hall.window_1, caller=DESK)
    error = await refused(
        queue.transfer(hall.window_1, to_window_id=hall.window_1, reason='再来一次', caller=DESK),
        'transfer_same_window',
    )
    assert error.status == 409
    await refused(
        queue.transfer(hall.window_1, to_service_code=hall.service_b, to_window_id=hall.window_1, caller=DESK),
        'transfer_same_window',
    )
    row = await ticket_row(db, ticket.ticket.id)
    assert (row.status, row.window_id, row.transfer_count) == (TicketStatus.CALLED, hall.window_1, 0)
    assert await window_state(db, hall.window_1) == (WindowState.OPEN, ticket.ticket.id)
    assert await kinds(db, ticket.ticket.id) == ['issued', 'called']


async def test_a_transfer_to_a_closed_or_paused_window_is_refused(
    queue: QueueService, hall: SmallHall, db: Database
) -> None:
    a = await queue.take_ticket(take(hall.service_a), caller=DESK)
    await queue.call_next(hall.window_1, caller=DESK)
    closed = await refused(
        queue.transfer(hall.window_1, to_window_id=hall.window_3, caller=DESK), 'transfer_target_closed'
    )
    assert closed.status == 409 and '3号窗口' in closed.message
    await queue.set_window_state(hall.window_2, WindowState.PAUSED, caller=DESK)
    await refused(
        queue.transfer(hall.window_1, to_service_code=hall.service_b, to_window_id=hall.window_2, caller=DESK),
        'transfer_target_closed',
    )
    row = await ticket_row(db, a.ticket.id)
    assert (row.status, row.window_id, row.target_window_id) == (TicketStatus.CALLED, hall.window_1, None)
    await queue.set_window_state(hall.window_2, WindowState.OPEN, caller=DESK)
    moved = await queue.transfer(hall.window_1, to_service_code=hall.service_b, to_window_id=hall.window_2, caller=DESK)
    assert moved.ticket.status == TicketStatus.WAITING and moved.ticket.target_window_id == hall.window_2


async def test_a_transfer_to_a_service_no_open_window_serves_is_refused(
    queue: QueueService, hall: SmallHall, db: Database
) -> None:
    """Otherwise the ticket is stranded: no window calls it while its page says it is next."""
    a = await queue.take_ticket(take(hall.service_a), caller=DESK)
    await queue.set_window_state(hall.window_4, WindowState.CLOSED, caller=DESK)  # the only window serving C
    await queue.call_next(hall.window_1, caller=DESK)
    await refused(queue.transfer(hall.window_1, to_service_code=hall.service_c, caller=DESK), 'service_unavailable')
    assert (await ticket_row(db, a.ticket.id)).status == TicketStatus.CALLED


async def test_a_transfer_keeps_the_recalls_already_made(
    queue: QueueService, hall: SmallHall, db: Database, clock: FakeClock
) -> None:
    ticket = await queue.take_ticket(take(hall.service_a), caller=DESK)
    await queue.call_next(hall.window_1, caller=DESK)
    for _ in range(queue.settings.recalls_before_no_show):
        seconds(clock, queue.settings.recall_interval_seconds)
        await queue.recall(hall.window_1, caller=DESK)
    await refused(queue.recall(hall.window_1, caller=DESK), 'recall_limit')
    moved = await queue.transfer(hall.window_1, to_service_code=hall.service_b, to_window_id=hall.window_2, caller=DESK)
    assert moved.ticket.recall_count == queue.settings.recalls_before_no_show
    called = await queue.call_next(hall.window_2, caller=DESK)
    assert called.ticket.id == ticket.ticket.id and called.ticket.recall_count == queue.settings.recalls_before_no_show
    seconds(clock, queue.settings.recall_interval_seconds)
    await refused(queue.recall(hall.window_2, caller=DESK), 'recall_limit')  # no fresh recalls bought by moving it
    await queue.no_show(hall.window_2, caller=DESK)


async def test_a_transferred_ticket_keeps_its_place_and_jumps_nobody(
    queue: QueueService, hall: SmallHall, clock: FakeClock
) -> None:
    older_b = await queue.take_ticket(take(hall.service_b), caller=DESK)
    clock.advance(1)
    a = await queue.take_ticket(take(hall.service_a), caller=DESK)
    clock.advance(1)
    newer_b = await queue.take_ticket(take(hall.service_b), caller=DESK)
    assert (await queue.call_next(hall.window_1, caller=DESK)).ticket.id == a.ticket.id  # A is window 1's main
    moved = await queue.transfer(hall.window_1, to_service_code=hall.service_b, to_window_id=hall.window_2, caller=DESK)
    assert moved.position == 2, 'behind the older B ticket, ahead of the newer one (its take time)'
    order = []
    for _ in range(3):
        order.append((await queue.call_next(hall.window_2, caller=DESK)).ticket.id)
        await queue.complete(hall.window_2, caller=DESK)
    assert order == [older_b.ticket.id, a.ticket.id, newer_b.ticket.id]


# ---- out-of-order calls ------------------------------------------------------------------------------


async def test_an_out_of_order_call_of_a_ticket_called_at_another_window_is_409(
    queue: QueueService, hall: SmallHall, db: Database
) -> None:
    """On SQLite and PostgreSQL (the `db` fixture): the ticket stays with the window that called it."""
    ticket = await queue.take_ticket(take(hall.service_b), caller=DESK)
    await queue.call_next(hall.window_2, caller=DESK)
    error = await refused(
        queue.call_ticket(hall.window_1, ticket.ticket.number, reason='老人着急', caller=DESK), 'ticket_not_waiting'
    )
    assert error.status == 409
    row = await ticket_row(db, ticket.ticket.id)
    assert (row.status, row.window_id) == (TicketStatus.CALLED, hall.window_2)
    assert await window_state(db, hall.window_1) == (WindowState.OPEN, None)
    assert await kinds(db, ticket.ticket.id) == ['issued', 'called']


async def test_an_out_of_order_call_respects_a_transfer_target_window(
    queue: QueueService, hall: SmallHall, db: Database
) -> None:
    ticket = await queue.take_ticket(take(hall.service_b), caller=DESK)
    await queue.call_next(hall.window_2, caller=DESK)
    await queue.transfer(hall.window_2, to_window_id=hall.window_1, reason='需1号窗口复核', caller=DESK)
    error = await refused(
        queue.call_ticket(hall.window_2, ticket.ticket.number, reason='先办', caller=DESK), 'ticket_for_another_window'
    )
    assert error.status == 409
    assert (await ticket_row(db, ticket.ticket.id)).status == TicketStatus.WAITING
    called = await queue.call_ticket(hall.window_1, ticket.ticket.number, reason='复核', caller=DESK)
    assert called.ticket.window_id == hall.window_1


# ---- the API's caps hold in the service ----------------------------------------------------------------


async def test_an_out_of_order_reason_over_the_cap_is_refused_not_truncated(
    queue: QueueService, hall: SmallHall, db: Database
) -> None:
    ticket = await queue.take_ticket(take(hall.service_a), caller=DESK)
    for call in (
        queue.call_ticket(hall.window_1, ticket.ticket.number, reason='x' * 200_000, caller=DESK),
        queue.call_ticket(hall.window_1, ticket.ticket.number, reason='x' * (REASON_MAX + 1), caller=DESK),
        window_desk.call_out_of_order(queue, hall.window_1, ticket.ticket.number, reason='x' * 201, principal=DESK),
    ):
        error = await refused(call, 'reason_too_long', Invalid)
        assert error.status == 422
    await refused(queue.call_ticket(hall.window_1, 'A' * 9, reason='ok', caller=DESK), 'number_too_long', Invalid)
    assert await kinds(db, ticket.ticket.id) == ['issued']
    called = await queue.call_ticket(hall.window_1, ticket.ticket.number, reason='y' * REASON_MAX, caller=DESK)
    assert called.ticket.status == TicketStatus.CALLED


async def test_transfer_and_park_reasons_over_the_cap_are_refused(
    queue: QueueService, hall: SmallHall, db: Database
) -> None:
    ticket = await queue.take_ticket(take(hall.service_a), caller=DESK)
    await queue.call_next(hall.window_1, caller=DESK)
    long = 'x' * (REASON_MAX + 1)
    await refused(
        queue.transfer(hall.window_1, to_service_code=hall.service_b, reason=long, caller=DESK),
        'reason_too_long',
        Invalid,
    )
    await refused(
        window_desk.transfer(
            queue, hall.window_1, to_service_code=hall.service_b, to_window_id=None, reason=long, caller=DESK
        ),
        'reason_too_long',
        Invalid,
    )
    await refused(
        queue.transfer(hall.window_1, to_service_code='S' * 33, reason='ok', caller=DESK),
        'service_code_too_long',
        Invalid,
    )
    await refused(queue.park(hall.window_1, reason=long, caller=DESK), 'reason_too_long', Invalid)
    assert await kinds(db, ticket.ticket.id) == ['issued', 'called']
    assert (await queue.park(hall.window_1, reason='z' * REASON_MAX, caller=DESK)).ticket.status == TicketStatus.PARKED


# ---- the fairness cap at exactly the cap ---------------------------------------------------------------


async def _normal_then_green(queue: QueueService, hall: SmallHall, clock: FakeClock) -> tuple[int, int]:
    """A normal ticket, and a green one taken a minute later; then the clock at exactly the normal one's cap."""
    normal = await queue.take_ticket(take(hall.service_a), caller=DESK)
    clock.advance(1)
    green = await queue.take_ticket(take(hall.service_a, disability=True), caller=DESK)
    assert green.ticket.priority_class == PriorityClass.GREEN and green.position == 1
    clock.advance(queue.settings.fairness_cap_minutes - 1)
    assert clock.now - normal.ticket.queued_at == dt.timedelta(minutes=queue.settings.fairness_cap_minutes)
    return normal.ticket.id or 0, green.ticket.id or 0


async def test_at_exactly_the_cap_call_next_picks_the_capped_ticket(
    queue: QueueService, hall: SmallHall, clock: FakeClock
) -> None:
    normal, _ = await _normal_then_green(queue, hall, clock)
    assert (await queue.call_next(hall.window_1, caller=DESK)).ticket.id == normal


async def test_at_exactly_the_cap_the_position_estimate_puts_it_first(
    queue: QueueService, hall: SmallHall, clock: FakeClock
) -> None:
    normal, green = await _normal_then_green(queue, hall, clock)
    assert (await queue.ticket_view_by_id(normal)).position == 1
    assert (await queue.ticket_view_by_id(green)).position == 2
    clock.advance(-1 / 60_000)  # a millisecond before the cap the green ticket is still first
    assert (await queue.ticket_view_by_id(normal)).position == 2


async def test_a_millisecond_before_the_cap_call_next_still_picks_green(
    queue: QueueService, hall: SmallHall, clock: FakeClock
) -> None:
    _, green = await _normal_then_green(queue, hall, clock)
    clock.advance(-1 / 60_000)
    assert (await queue.call_next(hall.window_1, caller=DESK)).ticket.id == green


# ---- the green channel on the 65th birthday ---------------------------------------------------------------


async def test_the_green_channel_starts_on_the_65th_birthday_not_the_day_before(
    queue: QueueService, hall: SmallHall, clock: FakeClock
) -> None:
    today = clock.now.astimezone(queue.settings.tz).date()
    assert queue.settings.elderly_age == 65
    birthday = today.replace(year=today.year - 65)
    on_the_day = await queue.take_ticket(take(hall.service_a, id_number=make_id(birthday)), caller=DESK)
    day_before = await queue.take_ticket(
        take(hall.service_a, id_number=make_id(birthday + dt.timedelta(days=1), sequence='456')), caller=DESK
    )
    assert (on_the_day.ticket.priority_class, on_the_day.ticket.priority_reason) == (PriorityClass.GREEN, 'elderly')
    assert day_before.ticket.priority_class == PriorityClass.NORMAL


# ---- call_next is atomic across processes ----------------------------------------------------------------


def slowed(pick: Callable[..., Awaitable[Ticket | None]]) -> Callable[..., Awaitable[Ticket | None]]:
    """The pick, then a pause inside the same transaction: another process's call_next runs meanwhile."""

    async def pick_then_wait(*args: object) -> Ticket | None:
        ticket = await pick(*args)
        await asyncio.sleep(0.4)
        return ticket

    return pick_then_wait


async def test_two_processes_calling_at_once_never_get_the_same_ticket(
    db: Database, bus: InProcessBus, settings: Settings, cipher: FieldCipher, hall: SmallHall, clock: FakeClock
) -> None:
    """Two engines on one database (as two processes have: no shared in-process lock), on SQLite and PostgreSQL.

    The first window holds its picked ticket for a while before writing; the second must not pick it.
    """
    other = Database(db.url, audit_key=AUDIT_KEY)
    try:
        first = QueueService(deps_for(db, bus, hall_id=hall.hall_id, settings=settings, clock=clock, cipher=cipher))
        second = QueueService(deps_for(other, bus, hall_id=hall.hall_id, settings=settings, clock=clock, cipher=cipher))
        for _ in range(2):
            await first.take_ticket(take(hall.service_a), caller=DESK)
        async with db.session() as s, s.begin():  # window 3 (serves A) joins in
            window = await s.get(Window, hall.window_3)
            assert window is not None
            window.state = WindowState.OPEN
        first._pick_next = slowed(first._pick_next)  # type: ignore[method-assign]

        async def second_window() -> int | None:
            await asyncio.sleep(0.1)  # while the first window's transaction holds its pick
            return (await second.call_next(hall.window_3, caller=DESK)).ticket.id

        one, two = await asyncio.gather(first.call_next(hall.window_1, caller=DESK), second_window())
        assert one.ticket.id != two
        async with db.read_session() as s:
            calls = list((await s.execute(select(TicketEvent.ticket_id).where(TicketEvent.kind == 'called'))).scalars())
        assert sorted(calls) == sorted([one.ticket.id, two])
    finally:
        await other.dispose()
