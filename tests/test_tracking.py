"""Tracking codes: the slip's code shows status only; acting for the person needs the code texted to its phone."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlmodel import select

from app.db import Database
from app.models import AuditEntry, TicketCreate
from app.models.people import Role
from app.services import audit, window_desk
from app.services.errors import Forbidden
from app.services.journey import Journey
from app.services.limits import TooManyRequests
from app.services.principal import Kind, Principal
from app.services.queue import QueueService
from app.services.tracking import (
    GUESSES_PER_ADDRESS,
    GUESSES_PER_CODE,
    TEXTS_PER_TICKET,
    VIA_SMS,
    VIA_WINDOW,
    TrackingService,
    live_position,
)
from tests import journeyhall
from tests.callers import DESK, limits_for
from tests.conftest import FakeClock
from tests.journeyhall import LOCAL_CITIZEN, JourneyHall, by_sms, served_ticket, texted_code

journey_hall = journeyhall.journey_hall_fixture
journey_settings = journeyhall.journey_settings_fixture
journey = journeyhall.journey_fixture
hall_queue = journeyhall.hall_queue_fixture

PHONE = '13812345678'


async def with_phone(queue: QueueService) -> str:
    view = await queue.take_ticket(
        TicketCreate(service_code='SVC-C', id_number=LOCAL_CITIZEN, phone=PHONE), caller=DESK
    )
    return view.ticket.code


async def test_the_code_alone_points_at_the_ticket_and_unknown_codes_are_refused(
    journey: Journey, hall_queue: QueueService
) -> None:
    view = await hall_queue.take_ticket(
        TicketCreate(service_code='SVC-C', id_number=LOCAL_CITIZEN, phone=PHONE), caller=DESK
    )
    tracked = await journey.tracking.follow(view.ticket.code)
    assert (tracked.ticket_id, tracked.number, tracked.has_phone) == (view.ticket.id, 'C001', True)
    with pytest.raises(Forbidden) as caught:
        await journey.tracking.follow('no-such-code-at-all')
    assert (caught.value.status, caught.value.code) == (403, 'tracking_refused')


async def test_the_texted_code_opens_the_person_once_and_is_sent_only_by_sms(
    journey: Journey, hall_queue: QueueService
) -> None:
    tracked = await journey.tracking.follow(await with_phone(hall_queue))
    await journey.tracking.send_code(tracked)
    sent = journey.sms.sent[-1]
    assert sent['to'] == '138****5678' and '工作人员' in str(sent['text'])
    code = texted_code(journey)
    act = await journey.tracking.verify(tracked, code)
    assert (act.via, act.actor, act.role) == (VIA_SMS, f'citizen:{tracked.citizen_id}', 'citizen')
    with pytest.raises(Forbidden) as caught:
        await journey.tracking.verify(tracked, code)
    assert caught.value.code == 'wrong_sms_code', 'a code works once'
    for wrong in ('5678', tracked.number, '', '12345x'):  # the slip and the masked phone prove nothing
        with pytest.raises(Forbidden):
            await journey.tracking.verify(tracked, wrong)


async def test_only_the_newest_code_counts_and_it_expires(
    journey: Journey, hall_queue: QueueService, clock: FakeClock
) -> None:
    tracked = await journey.tracking.follow(await with_phone(hall_queue))
    await journey.tracking.send_code(tracked)
    first = texted_code(journey)
    await journey.tracking.send_code(tracked)
    second = texted_code(journey)
    if first != second:
        with pytest.raises(Forbidden):
            await journey.tracking.verify(tracked, first)
    await journey.tracking.send_code(tracked)
    third = texted_code(journey)
    clock.advance(11)  # minutes: past any code's life
    with pytest.raises(Forbidden):
        await journey.tracking.verify(tracked, third)


async def test_texts_are_limited_per_ticket(journey: Journey, hall_queue: QueueService) -> None:
    tracked = await journey.tracking.follow(await with_phone(hall_queue))
    for _ in range(TEXTS_PER_TICKET.max):
        await journey.tracking.send_code(tracked, address='10.9.0.1')
    with pytest.raises(TooManyRequests) as caught:
        await journey.tracking.send_code(tracked, address='10.9.0.2')
    assert caught.value.code == 'code_texts_limited'
    assert len(journey.sms.sent) == TEXTS_PER_TICKET.max


async def test_a_ticket_without_a_phone_is_sent_to_the_window(journey: Journey, hall_queue: QueueService) -> None:
    view = await hall_queue.take_ticket(TicketCreate(service_code='SVC-C'), caller=DESK)
    tracked = await journey.tracking.follow(view.ticket.code)
    with pytest.raises(Forbidden) as caught:
        await journey.tracking.send_code(tracked)
    assert caught.value.code == 'person_act_at_window' and not journey.sms.sent
    with pytest.raises(Forbidden):
        await journey.tracking.verify(tracked, view.ticket.number)


async def test_wrong_codes_are_limited_per_ticket_across_processes(
    journey: Journey, hall_queue: QueueService, clock: FakeClock
) -> None:
    tracked = await journey.tracking.follow(await with_phone(hall_queue))
    await journey.tracking.send_code(tracked)
    right = texted_code(journey)
    wrong = f'{(int(right) + 1) % 1_000_000:06d}'
    for _ in range(GUESSES_PER_CODE.max):
        with pytest.raises(Forbidden):
            await journey.tracking.verify(tracked, wrong, address=f'10.9.1.{_}')
    restarted = TrackingService(
        replace(journey.tracking.deps, limits=limits_for(hall_queue.db, clock)), journey.notifications
    )
    with pytest.raises(TooManyRequests) as caught:  # a new process (or a restart) reads the same counts
        await restarted.verify(tracked, right, address='10.9.2.1')
    assert (caught.value.code, caught.value.status) == ('tracking_locked', 429)


async def test_many_unknown_codes_from_one_address_lock_that_address(
    journey: Journey, hall_queue: QueueService
) -> None:
    view = await hall_queue.take_ticket(TicketCreate(service_code='SVC-C'), caller=DESK)
    for n in range(GUESSES_PER_ADDRESS.max):
        with pytest.raises(Forbidden):
            await journey.tracking.follow(f'made-up-{n}', address='10.9.0.1')
    with pytest.raises(TooManyRequests):
        await journey.tracking.follow(view.ticket.code, address='10.9.0.1')
    assert (await journey.tracking.follow(view.ticket.code, address='10.9.0.2')).number == 'C001'


async def test_a_case_code_shares_its_tickets_texted_code(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    ticket = await served_ticket(hall_queue, journey_hall.small.window_4, 'SVC-C', id_number=LOCAL_CITIZEN, phone=PHONE)
    view = await journey.cases.open_case(ticket.ticket.id or 0, actor='w04')
    tracked = await journey.tracking.follow(view.case.code)
    assert (tracked.case_id, tracked.ticket_id) == (view.case.id, ticket.ticket.id)
    await journey.tracking.send_code(tracked)
    act = await journey.tracking.verify(await journey.tracking.follow(ticket.ticket.code), texted_code(journey))
    assert act.tracked.ticket_id == ticket.ticket.id


async def test_only_the_clerk_serving_the_ticket_acts_at_the_window(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    small = journey_hall.small
    ticket = await served_ticket(hall_queue, small.window_4, 'SVC-C', id_number=LOCAL_CITIZEN, phone=PHONE)
    clerk = Principal(Kind.STAFF, 'w04', Role.STAFF, window_id=small.window_4)
    act = await journey.tracking.at_window(clerk, ticket.ticket.id or 0)
    assert (act.via, act.actor, act.role) == (VIA_WINDOW, 'w04', 'staff')
    with pytest.raises(Forbidden):
        await journey.tracking.at_window(
            Principal(Kind.STAFF, 'w02', Role.STAFF, window_id=small.window_2), ticket.ticket.id or 0
        )
    await hall_queue.complete(small.window_4, caller=DESK)
    with pytest.raises(Exception) as caught:  # the citizen has left the window
        await journey.tracking.at_window(clerk, ticket.ticket.id or 0)
    assert getattr(caught.value, 'code', '') == 'not_at_window'


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


async def test_a_consent_given_at_the_window_is_recorded_as_the_clerks_act(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall, db: Database
) -> None:
    ticket = await served_ticket(hall_queue, journey_hall.small.window_4, 'SVC-C', id_number=LOCAL_CITIZEN)
    clerk = Principal(Kind.STAFF, 'w04', Role.STAFF, window_id=journey_hall.small.window_4)
    ticket_id = ticket.ticket.id or 0
    consent = await window_desk.grant_in_person(journey.tracking, journey.consent, clerk, ticket_id, 'SVC-C')
    assert (consent.channel, consent.ticket_id) == (VIA_WINDOW, ticket.ticket.id)
    async with db.read_session() as s:
        entry = (await s.execute(select(AuditEntry).where(AuditEntry.action == audit.CONSENT_GRANTED))).scalar_one()
    assert (entry.actor, entry.role, entry.detail['via']) == ('w04', 'staff', VIA_WINDOW), 'the clerk, not the citizen'
    with pytest.raises(Forbidden) as refused:  # and a clerk never rates the service they gave
        await journey.evaluations.rate(await journey.tracking.at_window(clerk, ticket.ticket.id or 0), 'very_good')
    assert refused.value.code == 'citizen_rates'


async def test_a_rating_records_the_texted_code_it_came_through(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall, db: Database
) -> None:
    ticket = await served_ticket(
        hall_queue, journey_hall.small.window_4, 'SVC-C', id_number=LOCAL_CITIZEN, phone=PHONE, complete=True
    )
    act = await by_sms(journey, ticket.ticket.code)
    result = await journey.evaluations.rate(act, 'good')
    async with db.read_session() as s:
        entry = (await s.execute(select(AuditEntry).where(AuditEntry.action == audit.RATED))).scalar_one()
    assert entry.target == f'evaluation:{result.evaluation.id}'
    assert (entry.actor, entry.role, entry.detail['via']) == (act.actor, 'citizen', VIA_SMS)
