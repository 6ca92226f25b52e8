"""The long-wait comfort prompt on the citizen's pages, on SQLite and PostgreSQL: one sweep, once per ticket."""

from __future__ import annotations

import asyncio

from app.bus import InProcessBus
from app.db import Database
from app.events import Event, WaitComfort
from app.models import Hall, Ticket, TicketCreate, TicketEvent
from app.models.ticket import Channel
from app.services.queue import QueueService
from app.services.wait_comfort import ComfortText, WaitComfortService
from tests.callers import DESK
from tests.conftest import FakeClock
from tests.factories import SmallHall

PROMPT = {'zh': '您已等候超过30分钟，辛苦了！可到休息区歇一歇。', 'en': 'You have waited 30 minutes; rest a while.'}


async def with_prompt(db: Database, hall: SmallHall) -> None:
    async with db.session() as s, s.begin():
        row = await s.get(Hall, hall.hall_id)
        assert row is not None
        row.prompts = {'long_wait_comfort': PROMPT}


def recorded(bus: InProcessBus) -> list[Event]:
    events: list[Event] = []
    bus.subscribe(events.append, WaitComfort, name='test-comfort')
    return events


async def test_a_ticket_waiting_thirty_minutes_is_prompted_once_with_the_halls_words(
    db: Database, queue: QueueService, hall: SmallHall, bus: InProcessBus, clock: FakeClock
) -> None:
    await with_prompt(db, hall)
    events = recorded(bus)
    comfort = WaitComfortService(queue.deps)
    early = await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    clock.advance(10)
    later = await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    clock.advance(19)
    assert await comfort.sweep() == 0  # 29 minutes: not yet
    assert await comfort.prompt_for(early.ticket.id or 0) is None
    clock.advance(1)
    assert sum(await asyncio.gather(comfort.sweep(), WaitComfortService(queue.deps).sweep())) == 1
    assert await comfort.sweep() == 0
    await bus.drain()
    (event,) = events
    assert isinstance(event, WaitComfort)
    assert (event.ticket_id, event.waited_minutes, event.text_zh, event.text_en) == (
        early.ticket.id,
        30,
        PROMPT['zh'],
        PROMPT['en'],
    )
    assert await comfort.prompt_for(early.ticket.id or 0) == ComfortText(PROMPT['zh'], PROMPT['en'])
    assert await comfort.prompt_for(later.ticket.id or 0) is None
    clock.advance(10)
    assert await comfort.sweep() == 1  # the later ticket's turn
    await bus.drain()
    assert [e.ticket_id for e in events if isinstance(e, WaitComfort)] == [early.ticket.id, later.ticket.id]


async def test_a_called_ticket_shows_no_prompt_and_a_remote_ticket_counts_its_wait_from_its_arrival(
    db: Database, queue: QueueService, hall: SmallHall, clock: FakeClock
) -> None:
    await with_prompt(db, hall)
    comfort = WaitComfortService(queue.deps)
    served = await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    clock.advance(31)
    assert await comfort.sweep() == 1
    await queue.call_next(hall.window_1, caller=DESK)
    assert await comfort.prompt_for(served.ticket.id or 0) is None  # called: the prompt is over
    async with db.session() as s, s.begin():
        away = Ticket(
            hall_id=hall.hall_id,
            service_id=served.ticket.service_id,
            day=served.ticket.day,
            number='A900',
            code='away-from-hall',
            channel=Channel.MOBILE,
            taken_at=clock.now,
            queued_at=clock.now,
            awaiting_arrival=True,
        )
        s.add(away)
    clock.advance(31)
    assert await comfort.sweep() == 0  # not in the hall: sitting nowhere
    async with db.session() as s, s.begin():
        row = await s.get(Ticket, away.id)
        assert row is not None
        row.awaiting_arrival = False
        s.add(TicketEvent(ticket_id=away.id, hall_id=hall.hall_id, kind='arrived', at=clock.now, to_status='waiting'))
    clock.advance(29)
    assert await comfort.sweep() == 0  # its wait counts from its arrival
    clock.advance(2)
    assert await comfort.sweep() == 1


async def test_a_hall_without_the_prompt_configured_prompts_with_empty_words_and_pages_show_nothing(
    db: Database, queue: QueueService, hall: SmallHall, clock: FakeClock
) -> None:
    comfort = WaitComfortService(queue.deps)
    taken = await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    clock.advance(31)
    assert await comfort.sweep() == 1
    text = await comfort.prompt_for(taken.ticket.id or 0)
    assert text == ComfortText('', '') and text.in_language('en') == ''
