"""Tracking codes: a second factor, one refusal for wrong answers and unknown codes, and a limit on guesses."""

from __future__ import annotations

import datetime as dt

import pytest

from app.models import TicketCreate
from app.services.errors import Forbidden, Locked
from app.services.journey import Journey
from app.services.queue import QueueService
from app.services.tracking import MAX_FAILURES, GuessLimiter, TrackingService, live_position
from tests import journeyhall
from tests.conftest import FakeClock
from tests.journeyhall import LOCAL_CITIZEN, JourneyHall, served_ticket

journey_hall = journeyhall.journey_hall_fixture
journey_settings = journeyhall.journey_settings_fixture
journey = journeyhall.journey_fixture
hall_queue = journeyhall.hall_queue_fixture


async def refusal(tracking: TrackingService, code: str, answer: str) -> tuple[int, str, str]:
    with pytest.raises(Forbidden) as caught:
        await tracking.unlock(code, answer)
    return caught.value.status, caught.value.code, caught.value.message


async def test_a_ticket_with_a_phone_opens_with_its_last_four_digits_only(
    journey: Journey, hall_queue: QueueService
) -> None:
    view = await hall_queue.take_ticket(
        TicketCreate(service_code='SVC-C', id_number=LOCAL_CITIZEN, phone='13812345678')
    )
    tracked = await journey.tracking.unlock(view.ticket.code, ' 5678 ')
    assert (tracked.ticket_id, tracked.number, tracked.citizen_id) == (view.ticket.id, 'C001', view.ticket.citizen_id)
    wrong = await refusal(journey.tracking, view.ticket.code, '1234')
    assert wrong == await refusal(journey.tracking, view.ticket.code, 'C001'), 'the number is no second factor here'
    assert wrong == await refusal(journey.tracking, 'no-such-code-at-all', '5678'), 'unknown codes look the same'
    assert wrong[:2] == (403, 'tracking_refused')


async def test_a_ticket_without_a_phone_opens_with_its_number(journey: Journey, hall_queue: QueueService) -> None:
    view = await hall_queue.take_ticket(TicketCreate(service_code='SVC-C'))
    assert (await journey.tracking.unlock(view.ticket.code, 'c001')).ticket_id == view.ticket.id
    await refusal(journey.tracking, view.ticket.code, 'C002')
    await refusal(journey.tracking, view.ticket.code, '')


async def test_guesses_are_limited_per_code_and_unknown_codes_are_limited_alike(
    journey: Journey, hall_queue: QueueService, clock: FakeClock
) -> None:
    view = await hall_queue.take_ticket(
        TicketCreate(service_code='SVC-C', id_number=LOCAL_CITIZEN, phone='13812345678')
    )
    for guess in range(MAX_FAILURES):
        await refusal(journey.tracking, view.ticket.code, f'{guess:04d}')
        await refusal(journey.tracking, 'made-up-code', f'{guess:04d}')
    for code in (view.ticket.code, 'made-up-code'):
        with pytest.raises(Locked) as caught:
            await journey.tracking.unlock(code, '5678')
        assert caught.value.code == 'tracking_locked'
    other = await hall_queue.take_ticket(TicketCreate(service_code='SVC-C'))
    assert (await journey.tracking.unlock(other.ticket.code, 'C002')).number == 'C002', 'other codes are not locked'
    clock.advance(16)
    assert (await journey.tracking.unlock(view.ticket.code, '5678')).number == 'C001'


def test_the_limiter_forgets_the_oldest_codes_first() -> None:
    clock = FakeClock()
    limiter = GuessLimiter(max_failures=2, window=dt.timedelta(minutes=1), clock=clock)
    limiter.fail('a')
    limiter.fail('a')
    assert limiter.is_locked('a') and not limiter.is_locked('b')
    clock.advance(1)
    assert not limiter.is_locked('a')


async def test_a_case_code_opens_the_case_with_the_same_second_factor(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    ticket = await served_ticket(
        hall_queue, journey_hall.small.window_4, 'SVC-C', id_number=LOCAL_CITIZEN, phone='13812345678'
    )
    view = await journey.cases.open_case(ticket.ticket.id or 0, actor='w04')
    tracked = await journey.tracking.unlock(view.case.code, '5678')
    assert (tracked.case_id, tracked.ticket_id) == (view.case.id, ticket.ticket.id)


async def test_the_live_position_comes_from_the_in_memory_queues(
    hall_queue: QueueService, journey_hall: JourneyHall, clock: FakeClock
) -> None:
    live = await hall_queue.start_live()
    views = []
    for _ in range(3):
        views.append(await hall_queue.take_ticket(TicketCreate(service_code='SVC-C')))
        clock.advance(1)
    third = views[2].ticket
    position = live_position(live, third.id or 0, third.service_id, now=clock(), cap=hall_queue.fairness_cap)
    assert position is not None and position.ahead == 2 and position.estimate is not None
    await hall_queue.call_next(journey_hall.small.window_4)
    position = live_position(live, third.id or 0, third.service_id, now=clock(), cap=hall_queue.fairness_cap)
    assert position is not None and position.ahead == 1
    first = views[0].ticket
    assert live_position(live, first.id or 0, first.service_id, now=clock(), cap=hall_queue.fairness_cap) is None
