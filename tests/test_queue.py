"""Queue engine rules, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event
from sqlmodel import select

from app.bus import InProcessBus
from app.db import Database
from app.events import Event, TicketCalled, TicketCompleted, TicketIssued, TicketTransferred
from app.models import Appointment, Ticket, TicketCreate, TicketEvent, TicketStatus, WindowState
from app.models.ticket import Channel, PriorityClass
from app.security import codes
from app.services.errors import Conflict, Invalid, NotFound
from app.services.limits import TooManyRequests
from app.services.principal import Principal
from app.services.queue import QueueService
from app.services.ticket_access import ANONYMOUS_IN_HALL, ANONYMOUS_PER_ADDRESS
from tests.callers import DESK
from tests.conftest import FakeClock
from tests.factories import SmallHall
from tests.idnumbers import make_id


def take(service: str, **kwargs: object) -> TicketCreate:
    return TicketCreate(service_code=service, **kwargs)


async def events_of(db: Database, ticket_id: int) -> list[str]:
    async with db.session() as s:
        rows = (
            await s.execute(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id))
        ).scalars()
        return [row.kind for row in rows]


async def test_numbers_follow_prefix_and_daily_sequence(queue: QueueService, hall: SmallHall) -> None:
    first = await queue.take_ticket(take(hall.service_a), caller=DESK)
    second = await queue.take_ticket(take(hall.service_a), caller=DESK)
    other = await queue.take_ticket(take(hall.service_b), caller=DESK)
    assert [first.ticket.number, second.ticket.number, other.ticket.number] == ['A001', 'A002', 'B001']
    assert first.position == 1 and second.position == 2
    assert first.ticket.code != second.ticket.code and len(first.ticket.code) >= 16


async def test_numbers_restart_on_the_next_hall_day(queue: QueueService, hall: SmallHall, clock: FakeClock) -> None:
    await queue.take_ticket(take(hall.service_a), caller=DESK)
    clock.advance(24 * 60)
    assert (await queue.take_ticket(take(hall.service_a), caller=DESK)).ticket.number == 'A001'


async def test_unknown_service_is_refused_and_changes_nothing(queue: QueueService, db: Database) -> None:
    with pytest.raises(NotFound) as error:
        await queue.take_ticket(take('NOPE'), caller=DESK)
    assert error.value.code == 'unknown_service'
    async with db.session() as s:
        assert (await s.execute(select(Ticket))).first() is None


def _commits(db: Database) -> list[int]:
    """One entry per committed transaction of `db`'s write engine."""
    seen: list[int] = []
    event.listen(db.engine.sync_engine, 'commit', lambda _connection: seen.append(1))
    return seen


async def test_an_anonymous_take_commits_its_limits_with_its_ticket_on_sqlite(
    queue: QueueService, hall: SmallHall, db: Database
) -> None:
    caller = Principal.anonymous('10.9.8.7')
    commits = _commits(db)
    await queue.take_ticket(take(hall.service_a), caller=caller)
    assert len(commits) == (1 if db.is_sqlite else 2)  # PostgreSQL counts apart: its row locks would be held longer
    assert await queue.limits.count(ANONYMOUS_PER_ADDRESS, '10.9.8.7') == 1
    assert await queue.limits.count(ANONYMOUS_IN_HALL, str(hall.hall_id)) == 1


async def test_a_refused_anonymous_take_still_counts_and_writes_no_ticket(
    queue: QueueService, hall: SmallHall, db: Database
) -> None:
    caller = Principal.anonymous('10.9.8.6')
    for _ in range(ANONYMOUS_PER_ADDRESS.max - 1):
        with pytest.raises(NotFound):
            await queue.take_ticket(take('NOPE'), caller=caller)
    assert await queue.limits.count(ANONYMOUS_PER_ADDRESS, '10.9.8.6') == ANONYMOUS_PER_ADDRESS.max - 1
    await queue.take_ticket(take(hall.service_a), caller=caller)  # the last one this window allows
    with pytest.raises(TooManyRequests) as refused:
        await queue.take_ticket(take(hall.service_a), caller=caller)
    assert refused.value.code == 'too_many_tickets'
    assert await queue.limits.count(ANONYMOUS_PER_ADDRESS, '10.9.8.6') == ANONYMOUS_PER_ADDRESS.max + 1  # as `hit`
    async with db.session() as s:
        assert len((await s.execute(select(Ticket))).all()) == 1


@pytest.mark.parametrize(
    'bad', ['110105195001011235', '11010519500101123', '110105199913011234', '000000195001011238', 'abcdefghijklmnopqr']
)
async def test_invalid_id_numbers_are_refused(queue: QueueService, hall: SmallHall, db: Database, bad: str) -> None:
    with pytest.raises(Invalid) as error:
        await queue.take_ticket(take(hall.service_a, id_number=bad), caller=DESK)
    assert error.value.code == 'invalid_id_number'
    async with db.session() as s:
        assert (await s.execute(select(Ticket))).first() is None


async def test_elderly_from_id_number_get_the_green_channel(queue: QueueService, hall: SmallHall) -> None:
    young = await queue.take_ticket(take(hall.service_a, id_number=make_id(dt.date(1990, 5, 1))), caller=DESK)
    old = await queue.take_ticket(
        take(hall.service_a, id_number=make_id(dt.date(1950, 5, 1), sequence='456')), caller=DESK
    )
    assert young.ticket.priority_class == PriorityClass.NORMAL
    assert old.ticket.priority_class == PriorityClass.GREEN and old.ticket.priority_reason == 'elderly'
    called = await queue.call_next(hall.window_1, caller=DESK)
    assert called.ticket.number == old.ticket.number


async def test_birthday_decides_the_green_channel(queue: QueueService, hall: SmallHall) -> None:
    turns_65_tomorrow = make_id(dt.date(1961, 11, 29))
    ticket = await queue.take_ticket(take(hall.service_a, id_number=turns_65_tomorrow), caller=DESK)
    assert ticket.ticket.priority_class == PriorityClass.NORMAL


async def test_disability_and_pregnancy_are_green(queue: QueueService, hall: SmallHall) -> None:
    assert (
        await queue.take_ticket(take(hall.service_a, disability=True), caller=DESK)
    ).ticket.priority_reason == 'disability'
    assert (
        await queue.take_ticket(take(hall.service_a, pregnancy=True), caller=DESK)
    ).ticket.priority_reason == 'pregnancy'


async def test_fairness_cap_stops_normal_tickets_being_passed_over(
    queue: QueueService, hall: SmallHall, clock: FakeClock
) -> None:
    normal = await queue.take_ticket(take(hall.service_a), caller=DESK)
    clock.advance(5)
    green = await queue.take_ticket(take(hall.service_a, disability=True), caller=DESK)
    assert (await queue.call_next(hall.window_1, caller=DESK)).ticket.number == green.ticket.number
    await queue.complete(hall.window_1, caller=DESK)
    await queue.take_ticket(take(hall.service_a, pregnancy=True), caller=DESK)
    clock.advance(queue.settings.fairness_cap_minutes)
    assert (await queue.call_next(hall.window_1, caller=DESK)).ticket.number == normal.ticket.number


async def test_window_main_service_comes_before_its_fallback(
    queue: QueueService, hall: SmallHall, clock: FakeClock
) -> None:
    b = await queue.take_ticket(take(hall.service_b), caller=DESK)
    clock.advance(1)
    a = await queue.take_ticket(take(hall.service_a), caller=DESK)
    assert (await queue.call_next(hall.window_1, caller=DESK)).ticket.number == a.ticket.number
    await queue.complete(hall.window_1, caller=DESK)
    assert (await queue.call_next(hall.window_1, caller=DESK)).ticket.number == b.ticket.number


async def test_appointment_in_slot_is_prioritised_and_forged_codes_fail(
    queue: QueueService, hall: SmallHall, db: Database, clock: FakeClock
) -> None:
    async with db.session() as s, s.begin():
        service_id = (await queue.overview()).queues[0].service.id
        s.add(
            Appointment(
                hall_id=hall.hall_id,
                service_id=service_id,
                reference='REF001',
                slot_start=clock.now,
                slot_end=clock.now + dt.timedelta(minutes=30),
                created_at=clock.now,
            )
        )
    payload = codes.sign(queue.settings.secret, 'appt', 'REF001')
    with pytest.raises(Invalid) as error:
        await queue.take_ticket(take(hall.service_a, appointment_code=payload[:-2] + 'xx'), caller=DESK)
    assert error.value.code == 'forged_code'
    normal = await queue.take_ticket(take(hall.service_a), caller=DESK)
    booked = await queue.take_ticket(
        take(hall.service_a, appointment_code=payload, channel=Channel.APPOINTMENT_QR), caller=DESK
    )
    assert booked.ticket.priority_class == PriorityClass.APPOINTMENT
    assert (await queue.call_next(hall.window_1, caller=DESK)).ticket.number == booked.ticket.number
    with pytest.raises(Conflict):
        await queue.take_ticket(take(hall.service_a, appointment_code=payload), caller=DESK)
    assert normal.ticket.status == TicketStatus.WAITING


async def test_call_next_on_empty_queue_and_closed_window(queue: QueueService, hall: SmallHall) -> None:
    with pytest.raises(NotFound) as error:
        await queue.call_next(hall.window_1, caller=DESK)
    assert error.value.code == 'queue_empty'
    await queue.take_ticket(take(hall.service_a), caller=DESK)
    with pytest.raises(Conflict) as closed:
        await queue.call_next(hall.window_3, caller=DESK)
    assert closed.value.code == 'window_not_open'
    with pytest.raises(NotFound):
        await queue.call_next(999, caller=DESK)


async def test_a_busy_window_must_finish_first(queue: QueueService, hall: SmallHall) -> None:
    await queue.take_ticket(take(hall.service_a), caller=DESK)
    await queue.take_ticket(take(hall.service_a), caller=DESK)
    await queue.call_next(hall.window_1, caller=DESK)
    with pytest.raises(Conflict) as error:
        await queue.call_next(hall.window_1, caller=DESK)
    assert error.value.code == 'window_busy'


async def test_recall_limit_then_no_show(queue: QueueService, hall: SmallHall, db: Database, clock: FakeClock) -> None:
    ticket = await queue.take_ticket(take(hall.service_a), caller=DESK)
    await queue.call_next(hall.window_1, caller=DESK)
    with pytest.raises(Conflict) as early:
        await queue.no_show(hall.window_1, caller=DESK)
    assert early.value.code == 'recall_first'
    wait = queue.settings.recall_interval_seconds / 60
    for _ in range(queue.settings.recalls_before_no_show):
        clock.advance(wait)
        await queue.recall(hall.window_1, caller=DESK)
    clock.advance(wait)
    with pytest.raises(Conflict) as limit:
        await queue.recall(hall.window_1, caller=DESK)
    assert limit.value.code == 'recall_limit'
    gone = await queue.no_show(hall.window_1, caller=DESK)
    assert gone.ticket.status == TicketStatus.NO_SHOW
    assert await events_of(db, ticket.ticket.id) == ['issued', 'called', 'recalled', 'recalled', 'no_show']


async def test_complete_twice_is_refused(queue: QueueService, hall: SmallHall, db: Database) -> None:
    ticket = await queue.take_ticket(take(hall.service_a), caller=DESK)
    await queue.call_next(hall.window_1, caller=DESK)
    done = await queue.complete(hall.window_1, caller=DESK)
    assert done.ticket.status == TicketStatus.COMPLETED
    with pytest.raises(Conflict) as error:
        await queue.complete(hall.window_1, caller=DESK)
    assert error.value.code == 'no_current_ticket'
    assert await events_of(db, ticket.ticket.id) == ['issued', 'called', 'completed']


async def test_out_of_order_call_needs_a_reason_and_is_recorded(
    queue: QueueService, hall: SmallHall, db: Database
) -> None:
    await queue.take_ticket(take(hall.service_a), caller=DESK)
    second = await queue.take_ticket(take(hall.service_a), caller=DESK)
    with pytest.raises(Invalid):
        await queue.call_ticket(hall.window_1, 'A002', reason='  ', caller=DESK)
    with pytest.raises(Conflict) as not_served:
        await queue.call_ticket(hall.window_2, 'A002', reason='材料已备齐', caller=DESK)
    assert not_served.value.code == 'service_not_served'
    called = await queue.call_ticket(hall.window_1, 'a002', reason='材料已备齐', caller=DESK)
    assert called.ticket.id == second.ticket.id
    async with db.session() as s:
        row = (await s.execute(select(TicketEvent).where(TicketEvent.kind == 'called_out_of_order'))).scalar_one()
    assert row.reason == '材料已备齐'


async def test_transfer_keeps_take_time_and_refuses_wrong_windows(
    queue: QueueService, hall: SmallHall, clock: FakeClock
) -> None:
    early = await queue.take_ticket(take(hall.service_a), caller=DESK)
    clock.advance(3)
    await queue.take_ticket(take(hall.service_b), caller=DESK)
    await queue.call_next(hall.window_1, caller=DESK)
    with pytest.raises(Conflict) as wrong:
        await queue.transfer(hall.window_1, to_service_code=hall.service_b, to_window_id=hall.window_4, caller=DESK)
    assert wrong.value.code == 'service_not_served'
    with pytest.raises(Invalid):
        await queue.transfer(hall.window_1, caller=DESK)
    moved = await queue.transfer(hall.window_1, to_service_code=hall.service_b, reason='需先办乙', caller=DESK)
    assert moved.ticket.status == TicketStatus.WAITING and moved.ticket.queued_at == early.ticket.queued_at
    assert moved.position == 1 and moved.ticket.transfer_count == 1
    assert (await queue.call_next(hall.window_2, caller=DESK)).ticket.id == early.ticket.id


async def test_transfer_to_a_named_window(queue: QueueService, hall: SmallHall) -> None:
    ticket = await queue.take_ticket(take(hall.service_b), caller=DESK)
    await queue.call_next(hall.window_2, caller=DESK)
    await queue.transfer(hall.window_2, to_window_id=hall.window_1, caller=DESK)
    await queue.take_ticket(take(hall.service_b), caller=DESK)
    assert (await queue.call_next(hall.window_1, caller=DESK)).ticket.id == ticket.ticket.id


async def test_park_and_resume(queue: QueueService, hall: SmallHall) -> None:
    ticket = await queue.take_ticket(take(hall.service_a), caller=DESK)
    await queue.take_ticket(take(hall.service_a), caller=DESK)
    await queue.call_next(hall.window_1, caller=DESK)
    parked = await queue.park(hall.window_1, reason='回去取户口本', caller=DESK)
    assert parked.ticket.status == TicketStatus.PARKED
    other = await queue.call_next(hall.window_1, caller=DESK)
    assert other.ticket.number == 'A002'
    with pytest.raises(Conflict):
        await queue.resume(hall.window_1, ticket.ticket.number, caller=DESK)
    await queue.complete(hall.window_1, caller=DESK)
    resumed = await queue.resume(hall.window_1, ticket.ticket.number, caller=DESK)
    assert resumed.ticket.status == TicketStatus.CALLED


async def test_pause_and_close_window(queue: QueueService, hall: SmallHall) -> None:
    await queue.take_ticket(take(hall.service_a), caller=DESK)
    await queue.call_next(hall.window_1, caller=DESK)
    with pytest.raises(Conflict):
        await queue.set_window_state(hall.window_1, WindowState.PAUSED, caller=DESK)
    await queue.complete(hall.window_1, caller=DESK)
    await queue.set_window_state(hall.window_1, WindowState.PAUSED, caller=DESK)
    await queue.take_ticket(take(hall.service_a), caller=DESK)
    with pytest.raises(Conflict):
        await queue.call_next(hall.window_1, caller=DESK)
    await queue.set_window_state(hall.window_1, WindowState.OPEN, caller=DESK)
    assert (await queue.call_next(hall.window_1, caller=DESK)).ticket.number == 'A002'


async def test_eta_grows_with_position_and_has_a_range(queue: QueueService, hall: SmallHall) -> None:
    views = [await queue.take_ticket(take(hall.service_a), caller=DESK) for _ in range(4)]
    minutes = [v.estimate.minutes for v in views if v.estimate]
    assert len(minutes) == 4 and minutes == sorted(minutes) and minutes[-1] > minutes[0]
    last = views[-1].estimate
    assert last is not None and last.low < last.minutes < last.high


async def test_service_without_open_window_has_no_eta(queue: QueueService, hall: SmallHall) -> None:
    await queue.set_window_state(hall.window_4, WindowState.CLOSED, caller=DESK)
    view = await queue.take_ticket(take(hall.service_c), caller=DESK)
    assert view.estimate is None and view.position == 1


async def test_events_are_published_after_commit(queue: QueueService, hall: SmallHall, bus: InProcessBus) -> None:
    seen: list[Event] = []
    bus.subscribe(seen.append)
    await queue.take_ticket(take(hall.service_a), caller=DESK)
    await queue.call_next(hall.window_1, caller=DESK)
    await queue.transfer(hall.window_1, to_service_code=hall.service_b, caller=DESK)
    await queue.call_next(hall.window_2, caller=DESK)
    await queue.complete(hall.window_2, caller=DESK)
    await bus.drain()
    assert [type(e) for e in seen] == [TicketIssued, TicketCalled, TicketTransferred, TicketCalled, TicketCompleted]
    assert seen[-1].payload.handling_seconds is not None
    assert all(e.payload.service_code for e in seen)


async def test_failed_transition_publishes_nothing(queue: QueueService, hall: SmallHall, bus: InProcessBus) -> None:
    seen: list[Event] = []
    bus.subscribe(seen.append)
    with pytest.raises(NotFound):
        await queue.call_next(hall.window_1, caller=DESK)
    await bus.drain()
    assert seen == []


async def test_a_finished_case_updates_the_handling_time_the_estimates_use(
    queue: QueueService, hall: SmallHall, clock: FakeClock
) -> None:
    """The live state keeps each service's handling statistics until its next completion brings a new sample."""
    await queue.start_live()
    live = queue.live
    assert live is not None
    service_id = next(sid for sid, s in live.services.items() if s.code == hall.service_a)
    before = live._stats(service_id)
    assert live._stats(service_id) is before  # reused while nothing new is known
    await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    await queue.call_next(hall.window_1, caller=DESK)
    clock.advance(40)  # much longer than the configured 10 minutes
    await queue.complete(hall.window_1, caller=DESK)
    after = live._stats(service_id)
    assert after.samples == before.samples + 1 and after.mean > before.mean
