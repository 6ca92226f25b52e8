"""The rating invitation (自动推送评价链接), on SQLite and PostgreSQL: once per served ticket, after its last case,
only to a citizen with a phone, never for a no-show, with a link to the ticket's /track page."""

from __future__ import annotations

from sqlmodel import col, select

from app.db import Database
from app.models.cases import Notification
from app.models.ticket import TicketCreate
from app.services.channels import PUSH, SMS
from app.services.journey import Journey
from app.services.queue import QueueService
from app.services.workflow import ACTIVE, CASE_COMPLETED
from tests import journeyhall
from tests.callers import DESK
from tests.conftest import FakeClock
from tests.journeyhall import JourneyHall, by_sms, served_ticket

journey_hall = journeyhall.journey_hall_fixture
journey_settings = journeyhall.journey_settings_fixture
journey = journeyhall.journey_fixture
hall_queue = journeyhall.hall_queue_fixture

PUBLIC = 'https://hall.example.gov.cn'
PHONE = '13812345678'


async def invitations(db: Database) -> list[Notification]:
    async with db.session() as s:
        rows = await s.execute(
            select(Notification).where(Notification.kind == 'rate_invite').order_by(col(Notification.id))
        )
        return list(rows.scalars())


def with_public_url(queue: QueueService, journey: Journey) -> None:
    settings = queue.settings.model_copy(update={'public_url': PUBLIC})
    queue.settings = settings
    journey.cases.settings = settings


async def test_a_served_ticket_with_a_phone_is_texted_once_a_link_to_rate_it(
    db: Database, journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    with_public_url(hall_queue, journey)
    done = await served_ticket(hall_queue, journey_hall.small.window_4, 'SVC-C', phone=PHONE, complete=True)
    rows = await invitations(db)
    assert sorted(row.channel for row in rows) == [PUSH, SMS]
    assert all(row.ticket_id == done.ticket.id for row in rows)
    await journey.notifications.deliver_due()
    (texted,) = [sent for sent in journey.sms.sent if sent['kind'] == 'rate_invite']
    assert f'{PUBLIC}/track/{done.ticket.code}' in str(texted['text']) and '事项丙' in str(texted['text'])
    await journey.notifications.deliver_due()
    assert len([sent for sent in journey.sms.sent if sent['kind'] == 'rate_invite']) == 1
    rating = await journey.evaluations.state(done.ticket.id or 0)
    assert rating.can_rate  # the link lands on the ticket's one rating


async def test_without_a_public_address_the_text_names_the_page_and_carries_no_link(
    db: Database, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    await served_ticket(hall_queue, journey_hall.small.window_4, 'SVC-C', phone=PHONE, complete=True)
    (sms,) = [row for row in await invitations(db) if row.channel == SMS]
    assert '办件进度页' in sms.text and 'http' not in sms.text


async def test_a_ticket_without_a_phone_and_a_no_show_are_not_invited(
    db: Database, journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall, clock: FakeClock
) -> None:
    with_public_url(hall_queue, journey)
    await served_ticket(hall_queue, journey_hall.small.window_4, 'SVC-C', complete=True)
    await hall_queue.take_ticket(TicketCreate(service_code='SVC-C', phone=PHONE), caller=DESK)
    await hall_queue.call_next(journey_hall.small.window_4, caller=DESK)
    wait = hall_queue.settings.recall_interval_seconds / 60
    for _ in range(hall_queue.settings.recalls_before_no_show):
        clock.advance(wait)
        await hall_queue.recall(journey_hall.small.window_4, caller=DESK)
    clock.advance(wait)
    await hall_queue.no_show(journey_hall.small.window_4, caller=DESK)
    assert await invitations(db) == []


async def test_a_ticket_with_an_open_case_is_invited_when_the_case_concludes_not_before(
    db: Database, journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    with_public_url(hall_queue, journey)
    called = await served_ticket(hall_queue, journey_hall.small.window_4, 'SVC-C', phone=PHONE)
    view = await journey.cases.open_case(called.ticket.id or 0, actor='w04')
    await hall_queue.complete(journey_hall.small.window_4, caller=DESK)
    assert await invitations(db) == []  # served, but the case is still being decided
    node = next(n for n in view.nodes if n.status == ACTIVE)
    view = await journey.cases.decide(node.id or 0, approve=True, actor='reviewer', department_id=node.department_id)
    assert view.case.status == CASE_COMPLETED
    rows = await invitations(db)
    assert sorted(row.channel for row in rows) == [PUSH, SMS]
    assert all(row.ticket_id == called.ticket.id and PUBLIC in row.text for row in rows)


async def test_a_ticket_rated_before_its_case_concludes_is_not_invited(
    db: Database, journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    called = await served_ticket(hall_queue, journey_hall.small.window_4, 'SVC-C', phone=PHONE)
    view = await journey.cases.open_case(called.ticket.id or 0, actor='w04')
    done = await hall_queue.complete(journey_hall.small.window_4, caller=DESK)
    await journey.evaluations.rate(await by_sms(journey, done.ticket.code), 'very_good')
    node = next(n for n in view.nodes if n.status == ACTIVE)
    await journey.cases.decide(node.id or 0, approve=True, actor='reviewer', department_id=node.department_id)
    assert await invitations(db) == []
