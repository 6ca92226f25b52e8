"""Tracking codes: a second factor, one refusal for wrong answers and unknown codes, and a limit on guesses."""

from __future__ import annotations

import pytest

from app.models import TicketCreate
from app.services.errors import Forbidden
from app.services.journey import Journey
from app.services.limits import TooManyRequests
from app.services.queue import QueueService
from app.services.tracking import GUESSES_PER_ADDRESS, GUESSES_PER_CODE, TrackingService, live_position
from tests import journeyhall
from tests.callers import DESK, limits_for
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
        TicketCreate(service_code='SVC-C', id_number=LOCAL_CITIZEN, phone='13812345678'), caller=DESK
    )
    tracked = await journey.tracking.unlock(view.ticket.code, ' 5678 ')
    assert (tracked.ticket_id, tracked.number, tracked.citizen_id) == (view.ticket.id, 'C001', view.ticket.citizen_id)
    wrong = await refusal(journey.tracking, view.ticket.code, '1234')
    assert wrong == await refusal(journey.tracking, view.ticket.code, 'C001'), 'the number is no second factor here'
    assert wrong == await refusal(journey.tracking, 'no-such-code-at-all', '5678'), 'unknown codes look the same'
    assert wrong[:2] == (403, 'tracking_refused')


async def test_a_ticket_without_a_phone_opens_with_its_number(journey: Journey, hall_queue: QueueService) -> None:
    view = await hall_queue.take_ticket(TicketCreate(service_code='SVC-C'), caller=DESK)
    assert (await journey.tracking.unlock(view.ticket.code, 'c001')).ticket_id == view.ticket.id
    await refusal(journey.tracking, view.ticket.code, 'C002')
    await refusal(journey.tracking, view.ticket.code, '')


async def test_guesses_are_limited_per_code_and_unknown_codes_are_limited_alike(
    journey: Journey, hall_queue: QueueService, clock: FakeClock
) -> None:
    view = await hall_queue.take_ticket(
        TicketCreate(service_code='SVC-C', id_number=LOCAL_CITIZEN, phone='13812345678'), caller=DESK
    )
    for guess in range(GUESSES_PER_CODE.max):
        await refusal(journey.tracking, view.ticket.code, f'{guess:04d}')
        await refusal(journey.tracking, 'made-up-code', f'{guess:04d}')
    for code in (view.ticket.code, 'made-up-code'):
        with pytest.raises(TooManyRequests) as caught:
            await journey.tracking.unlock(code, '5678')
        assert (caught.value.code, caught.value.status) == ('tracking_locked', 429)
        assert 0 < caught.value.retry_after <= 15 * 60
    other = await hall_queue.take_ticket(TicketCreate(service_code='SVC-C'), caller=DESK)
    assert (await journey.tracking.unlock(other.ticket.code, 'C002')).number == 'C002', 'other codes are not locked'
    clock.advance(16)
    assert (await journey.tracking.unlock(view.ticket.code, '5678')).number == 'C001'


async def test_the_guess_count_outlives_the_process_that_counted(
    journey: Journey, hall_queue: QueueService, clock: FakeClock
) -> None:
    view = await hall_queue.take_ticket(
        TicketCreate(service_code='SVC-C', id_number=LOCAL_CITIZEN, phone='13812345678'), caller=DESK
    )
    for guess in range(GUESSES_PER_CODE.max):
        await refusal(journey.tracking, view.ticket.code, f'{guess:04d}')
    restarted = TrackingService(hall_queue.db, journey.tracking.cipher, limits_for(hall_queue.db, clock), clock=clock)
    with pytest.raises(TooManyRequests):  # a new process (or a restart) reads the same counts
        await restarted.unlock(view.ticket.code, '5678')


async def test_many_codes_tried_from_one_address_lock_that_address(journey: Journey, hall_queue: QueueService) -> None:
    view = await hall_queue.take_ticket(TicketCreate(service_code='SVC-C'), caller=DESK)
    for n in range(GUESSES_PER_ADDRESS.max):  # one guess per made-up code: no code reaches its own limit
        with pytest.raises(Forbidden):
            await journey.tracking.unlock(f'made-up-{n}', '0000', address='10.9.0.1')
    with pytest.raises(TooManyRequests):
        await journey.tracking.unlock(view.ticket.code, 'C001', address='10.9.0.1')
    assert (await journey.tracking.unlock(view.ticket.code, 'C001', address='10.9.0.2')).number == 'C001'


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
        views.append(await hall_queue.take_ticket(TicketCreate(service_code='SVC-C'), caller=DESK))
        clock.advance(1)
    third = views[2].ticket
    position = live_position(live, third.id or 0, third.service_id, now=clock(), cap=hall_queue.fairness_cap)
    assert position is not None and position.ahead == 2 and position.estimate is not None
    await hall_queue.call_next(journey_hall.small.window_4, caller=DESK)
    position = live_position(live, third.id or 0, third.service_id, now=clock(), cap=hall_queue.fairness_cap)
    assert position is not None and position.ahead == 1
    first = views[0].ticket
    assert live_position(live, first.id or 0, first.service_id, now=clock(), cap=hall_queue.fairness_cap) is None
