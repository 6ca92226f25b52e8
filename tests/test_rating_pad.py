"""The window rating pad (评价器): one tap rates what its own window just completed, the same one evaluation."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import col, select

from app.db import Database
from app.models.cases import Evaluation, Rectification
from app.models.people import Role, StaffUser
from app.models.security import AuditEntry
from app.services.errors import Conflict, Forbidden
from app.services.evaluation import FIXED, PAD_TIME, VIA_PAD
from app.services.journey import Journey
from app.services.principal import Kind, Principal
from app.services.queue import QueueService
from tests import journeyhall
from tests.callers import DESK
from tests.conftest import FakeClock
from tests.journeyhall import LOCAL_CITIZEN, JourneyHall, served_ticket, sms_act

journey_hall = journeyhall.journey_hall_fixture
journey_settings = journeyhall.journey_settings_fixture
journey = journeyhall.journey_fixture
hall_queue = journeyhall.hall_queue_fixture


def pad_of(window_id: int) -> Principal:
    return Principal.pad(f'RP-{window_id}', window_id=window_id)


async def completed_at(hall_queue: QueueService, window_id: int, service: str = 'SVC-C') -> int:
    view = await served_ticket(hall_queue, window_id, service, id_number=LOCAL_CITIZEN, phone='13600001234')
    await hall_queue.complete(window_id, caller=DESK)
    return view.ticket.id or 0


async def evaluations(db: Database) -> list[Evaluation]:
    async with db.read_session() as s:
        return list((await s.execute(select(Evaluation).order_by(col(Evaluation.id)))).scalars())


async def test_the_pad_shows_what_its_window_just_completed_and_one_tap_rates_it(
    db: Database, journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    window = journey_hall.small.window_4
    assert await journey.evaluations.pad_prompt(pad_of(window)) is None
    ticket_id = await completed_at(hall_queue, window)
    prompt = await journey.evaluations.pad_prompt(pad_of(window))
    assert prompt is not None and prompt.ticket_id == ticket_id and prompt.service_name
    result = await journey.evaluations.rate_at_pad(pad_of(window), ticket_id, 'very_good')
    assert (result.evaluation.ticket_id, result.evaluation.window_id, result.evaluation.satisfied) == (
        ticket_id,
        window,
        True,
    )
    assert await journey.evaluations.pad_prompt(pad_of(window)) is None  # rated: the pad goes idle
    async with db.read_session() as s:
        entry = (await s.execute(select(AuditEntry).where(AuditEntry.action == 'rated'))).scalars().one()
    assert entry.actor == f'pad:RP-{window}' and entry.detail['via'] == VIA_PAD


async def test_a_second_tap_or_the_texted_link_after_the_pad_is_refused_and_changes_nothing(
    db: Database, journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    window = journey_hall.small.window_4
    ticket_id = await completed_at(hall_queue, window)
    await journey.evaluations.rate_at_pad(pad_of(window), ticket_id, 'good')
    with pytest.raises(Conflict, match='已评价'):
        await journey.evaluations.rate_at_pad(pad_of(window), ticket_id, 'very_bad')
    with pytest.raises(Conflict, match='已评价'):
        await journey.evaluations.rate(sms_act(ticket_id), 'very_bad')
    assert [e.level for e in await evaluations(db)] == ['good']


async def test_a_rating_by_the_texted_link_leaves_nothing_for_the_pad(
    db: Database, journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    window = journey_hall.small.window_4
    ticket_id = await completed_at(hall_queue, window)
    await journey.evaluations.rate(sms_act(ticket_id), 'good')
    assert await journey.evaluations.pad_prompt(pad_of(window)) is None
    with pytest.raises(Conflict, match='已评价'):
        await journey.evaluations.rate_at_pad(pad_of(window), ticket_id, 'bad')
    assert len(await evaluations(db)) == 1


async def test_another_windows_pad_cannot_rate_the_ticket(
    db: Database, journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    ticket_id = await completed_at(hall_queue, journey_hall.small.window_4)
    with pytest.raises(Conflict, match='刚刚办结'):
        await journey.evaluations.rate_at_pad(pad_of(journey_hall.small.window_2), ticket_id, 'very_bad')
    assert await evaluations(db) == []


async def test_an_older_ticket_of_the_window_is_not_the_pads_to_rate(
    db: Database, journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    window = journey_hall.small.window_4
    first = await completed_at(hall_queue, window)
    second = await completed_at(hall_queue, window)
    with pytest.raises(Conflict, match='刚刚办结'):
        await journey.evaluations.rate_at_pad(pad_of(window), first, 'very_bad')
    prompt = await journey.evaluations.pad_prompt(pad_of(window))
    assert prompt is not None and prompt.ticket_id == second
    assert await evaluations(db) == []


async def test_the_pad_stops_offering_a_rating_after_its_time(
    db: Database, journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall, clock: FakeClock
) -> None:
    window = journey_hall.small.window_4
    ticket_id = await completed_at(hall_queue, window)
    clock.advance(PAD_TIME.total_seconds() / 60 + 1)
    assert await journey.evaluations.pad_prompt(pad_of(window)) is None
    with pytest.raises(Conflict, match='刚刚办结'):
        await journey.evaluations.rate_at_pad(pad_of(window), ticket_id, 'good')
    assert await evaluations(db) == []


async def add_staff(db: Database, username: str, display_name: str, role: Role, window_id: int | None) -> None:
    async with db.session() as s, s.begin():
        s.add(
            StaffUser(
                username=username,
                display_name=display_name,
                role=role,
                window_id=window_id,
                password_hash='-',
                created_at=dt.datetime.now(dt.UTC),
            )
        )


async def test_the_pad_names_the_clerk_who_completed_else_the_windows_own(
    db: Database, journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    window = journey_hall.small.window_4
    await add_staff(db, 'w4_clerk', '窗口四', Role.STAFF, window)
    await add_staff(db, 'floor_lead', '值班长', Role.MANAGER, None)
    await completed_at(hall_queue, window)  # by DESK, who has no account here: the window's own clerk
    prompt = await journey.evaluations.pad_prompt(pad_of(window))
    assert prompt is not None and prompt.clerk_name == '窗口四'
    view = await served_ticket(hall_queue, window, 'SVC-C', id_number=LOCAL_CITIZEN, phone='13600001234')
    await hall_queue.complete(window, caller=Principal(Kind.STAFF, 'floor_lead', Role.MANAGER))
    prompt = await journey.evaluations.pad_prompt(pad_of(window))
    assert prompt is not None and (prompt.ticket_id, prompt.clerk_name) == (view.ticket.id, '值班长')


async def test_after_a_fix_the_pad_offers_the_rating_again(
    db: Database, journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    window = journey_hall.small.window_4
    ticket_id = await completed_at(hall_queue, window)
    result = await journey.evaluations.rate_at_pad(pad_of(window), ticket_id, 'very_bad')
    assert result.rectification is not None
    assert await journey.evaluations.pad_prompt(pad_of(window)) is None  # rated, a rectification open
    async with db.session() as s, s.begin():
        rectification = await s.get(Rectification, result.rectification.id)
        assert rectification is not None
        rectification.status = FIXED
    prompt = await journey.evaluations.pad_prompt(pad_of(window))
    assert prompt is not None and prompt.ticket_id == ticket_id


@pytest.mark.parametrize(
    'caller',
    [Principal.kiosk('K01'), Principal.anonymous(), DESK, Principal.citizen(1)],
    ids=['kiosk', 'anonymous', 'clerk', 'citizen'],
)
async def test_only_a_pad_rates_by_tap(
    db: Database, journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall, caller: Principal
) -> None:
    ticket_id = await completed_at(hall_queue, journey_hall.small.window_4)
    with pytest.raises(Forbidden):
        await journey.evaluations.rate_at_pad(caller, ticket_id, 'good')
    with pytest.raises(Forbidden):
        await journey.evaluations.pad_prompt(caller)
    assert await evaluations(db) == []
