"""At the window the clerk links the phone account a ticket came from to the person in front of them, and only so."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from app.db import Database
from app.models import AuditEntry, TicketCreate
from app.models.appointment import Appointment
from app.models.citizen_account import CitizenAccount
from app.models.hall import ServiceItem
from app.models.people import Citizen, Role
from app.models.security import ConsentPurpose
from app.models.ticket import Channel, Ticket
from app.security import codes
from app.security.crypto import FieldCipher
from app.services import window_desk
from app.services.citizen_accounts import LINKED, CitizenAccountService
from app.services.errors import Conflict, Forbidden, Invalid
from app.services.journey import Journey
from app.services.principal import Kind, Principal
from app.services.queue import QueueService, TicketView
from app.settings import Settings
from tests import journeyhall
from tests.callers import DESK, deps_for
from tests.conftest import FakeClock, audited
from tests.journeyhall import OUTSIDER, UNKNOWN_CITIZEN, JourneyHall, served_ticket, texted_code

journey_hall = journeyhall.journey_hall_fixture
journey_settings = journeyhall.journey_settings_fixture
journey = journeyhall.journey_fixture
hall_queue = journeyhall.hall_queue_fixture

PHONE = '13812345678'
HERE = Principal.anonymous('10.9.0.1')


def clerk_at(window_id: int, name: str = 'w02') -> Principal:
    return Principal(
        Kind.STAFF,
        name,
        Role.STAFF,
        display_name='李四',
        user_id=7,
        window_id=window_id,
        session_id=7,
        address='10.1.0.2',
    )


@pytest.fixture
def accounts(
    db: Database, journey_settings: Settings, cipher: FieldCipher, clock: FakeClock, journey: Journey
) -> CitizenAccountService:
    deps = deps_for(db, hall_id=1, settings=journey_settings, clock=clock, cipher=cipher)
    return CitizenAccountService(deps, journey.notifications)


async def signed_in(accounts: CitizenAccountService, journey: Journey, phone: str = PHONE) -> str:
    """A phone signed in the real way: the code texted to it, sent back."""
    await accounts.request_code(phone, HERE)
    return (await accounts.sign_in(phone, texted_code(journey), HERE)).token


async def account_of(accounts: CitizenAccountService, token: str) -> int:
    caller = await accounts.authenticate(token)
    assert caller.account_id is not None
    return caller.account_id


async def taken_on_phone(db: Database, view: TicketView, account_id: int) -> None:
    async with db.session() as s, s.begin():
        await s.execute(update(Ticket).where(col(Ticket.id) == view.ticket.id).values(account_id=account_id))


async def linked_citizen(db: Database, account_id: int) -> int | None:
    async with db.read_session() as s:
        account = await s.get(CitizenAccount, account_id)
    assert account is not None
    return account.citizen_id


async def link_entries(db: Database) -> list[AuditEntry]:
    async with db.read_session() as s:
        return list((await s.execute(select(AuditEntry).where(AuditEntry.action == LINKED))).scalars())


async def test_the_clerk_links_a_phone_ticket_with_a_read_card_to_its_citizen_and_it_is_audited_as_the_clerk(
    db: Database, journey: Journey, accounts: CitizenAccountService, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    window = journey_hall.small.window_2
    account = await account_of(accounts, await signed_in(accounts, journey))
    view = await served_ticket(hall_queue, window, 'SVC-B', id_number=OUTSIDER)
    await taken_on_phone(db, view, account)
    clerk = clerk_at(window)

    linked = await window_desk.link_account(journey.tracking, accounts, clerk, view.ticket.id or 0)

    assert (linked.citizen_id, linked.typed, linked.already) == (view.ticket.citizen_id, False, False)
    assert await linked_citizen(db, account) == view.ticket.citizen_id
    [entry] = await link_entries(db)
    assert (entry.actor, entry.role, entry.target, entry.client_address) == (
        'w02',
        'staff',
        f'account:{account}',
        audited('10.1.0.2'),
    )
    assert entry.detail == {
        'citizen_id': view.ticket.citizen_id,
        'ticket': view.ticket.number,
        'via': 'window_staff',
        'typed': False,
    }


async def test_a_booked_ticket_without_an_id_is_linked_by_the_number_the_clerk_types_and_gets_that_citizen(
    db: Database,
    journey: Journey,
    accounts: CitizenAccountService,
    hall_queue: QueueService,
    journey_hall: JourneyHall,
    journey_settings: Settings,
    cipher: FieldCipher,
    clock: FakeClock,
) -> None:
    window = journey_hall.small.window_2
    account = await account_of(accounts, await signed_in(accounts, journey))
    async with db.session() as s, s.begin():
        service = (await s.execute(select(ServiceItem).where(ServiceItem.code == 'SVC-B'))).scalar_one()
        s.add(
            Appointment(
                hall_id=journey_hall.hall_id,
                service_id=service.id or 0,
                account_id=account,
                reference='R-LINK-1',
                slot_start=clock() - dt.timedelta(minutes=10),
                slot_end=clock() + dt.timedelta(minutes=20),
                created_at=clock(),
            )
        )
    code = codes.sign(journey_settings.secret, 'appt', 'R-LINK-1')
    request = TicketCreate(service_code='SVC-B', channel=Channel.APPOINTMENT_QR, appointment_code=code)
    await hall_queue.take_ticket(request, caller=DESK)
    view = await hall_queue.call_next(window, caller=DESK)
    assert view.ticket.citizen_id is None and view.ticket.account_id == account  # checked in: the booking's
    desk = await window_desk.load_desk(db, cipher, hall_queue, window)
    assert desk.current is not None and desk.current.account is not None
    assert (desk.current.account.phone_masked, desk.current.account.linked) == ('138****5678', False)

    linked = await window_desk.link_account(
        journey.tracking, accounts, clerk_at(window), view.ticket.id or 0, f' {UNKNOWN_CITIZEN} '
    )

    assert linked.typed and not linked.already
    async with db.read_session() as s:
        ticket = await s.get(Ticket, view.ticket.id)
        citizen = await s.get(Citizen, linked.citizen_id)
    assert ticket is not None and ticket.citizen_id == linked.citizen_id
    assert citizen is not None and citizen.id_number_hash == cipher.lookup(UNKNOWN_CITIZEN)
    assert await linked_citizen(db, account) == linked.citizen_id
    desk = await window_desk.load_desk(db, cipher, hall_queue, window)
    assert desk.current is not None and desk.current.account is not None and desk.current.account.linked_here
    assert desk.current.citizen is not None and desk.current.citizen.id_number_masked.endswith(UNKNOWN_CITIZEN[-4:])


@pytest.mark.parametrize('raw', ['', '11010519491231002', '110105194912310021'])
async def test_a_missing_or_invalid_typed_number_is_refused_and_changes_nothing(
    raw: str,
    db: Database,
    journey: Journey,
    accounts: CitizenAccountService,
    hall_queue: QueueService,
    journey_hall: JourneyHall,
) -> None:
    window = journey_hall.small.window_2
    account = await account_of(accounts, await signed_in(accounts, journey))
    view = await served_ticket(hall_queue, window, 'SVC-B')
    await taken_on_phone(db, view, account)

    with pytest.raises(Invalid) as refused:
        await window_desk.link_account(journey.tracking, accounts, clerk_at(window), view.ticket.id or 0, raw)

    assert refused.value.code in {'id_number_required', 'invalid_id_number'}
    assert await linked_citizen(db, account) is None
    assert await link_entries(db) == []


async def test_a_typed_number_that_is_not_the_tickets_citizen_is_refused(
    db: Database, journey: Journey, accounts: CitizenAccountService, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    window = journey_hall.small.window_2
    account = await account_of(accounts, await signed_in(accounts, journey))
    view = await served_ticket(hall_queue, window, 'SVC-B', id_number=OUTSIDER)
    await taken_on_phone(db, view, account)

    with pytest.raises(Conflict) as refused:
        await window_desk.link_account(
            journey.tracking, accounts, clerk_at(window), view.ticket.id or 0, UNKNOWN_CITIZEN
        )

    assert refused.value.code == 'id_number_not_ticket_citizen'
    assert await linked_citizen(db, account) is None


async def test_a_clerk_of_another_window_cannot_link_and_nothing_changes(
    db: Database, journey: Journey, accounts: CitizenAccountService, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    account = await account_of(accounts, await signed_in(accounts, journey))
    view = await served_ticket(hall_queue, journey_hall.small.window_2, 'SVC-B', id_number=OUTSIDER)
    await taken_on_phone(db, view, account)

    with pytest.raises(Forbidden) as refused:
        await window_desk.link_account(
            journey.tracking, accounts, clerk_at(journey_hall.small.window_1, 'w01'), view.ticket.id or 0
        )

    assert refused.value.code == 'not_your_window'
    assert await linked_citizen(db, account) is None
    assert await link_entries(db) == []


async def test_a_ticket_not_taken_or_booked_on_a_phone_has_nothing_to_link(
    db: Database, journey: Journey, accounts: CitizenAccountService, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    window = journey_hall.small.window_2
    view = await served_ticket(hall_queue, window, 'SVC-B', id_number=OUTSIDER)

    with pytest.raises(Conflict) as refused:
        await window_desk.link_account(journey.tracking, accounts, clerk_at(window), view.ticket.id or 0)

    assert refused.value.code == 'ticket_without_account'
    assert await link_entries(db) == []


async def test_an_account_linked_to_someone_else_is_never_moved_and_a_typed_citizen_is_not_kept(
    db: Database,
    journey: Journey,
    accounts: CitizenAccountService,
    hall_queue: QueueService,
    journey_hall: JourneyHall,
    cipher: FieldCipher,
) -> None:
    window = journey_hall.small.window_2
    account = await account_of(accounts, await signed_in(accounts, journey))
    first = await served_ticket(hall_queue, window, 'SVC-B', id_number=OUTSIDER)
    await taken_on_phone(db, first, account)
    await window_desk.link_account(journey.tracking, accounts, clerk_at(window), first.ticket.id or 0)
    await hall_queue.complete(window, caller=DESK)
    second = await served_ticket(hall_queue, window, 'SVC-B')
    await taken_on_phone(db, second, account)

    with pytest.raises(Conflict) as refused:
        await window_desk.link_account(
            journey.tracking, accounts, clerk_at(window), second.ticket.id or 0, UNKNOWN_CITIZEN
        )

    assert refused.value.code == 'account_linked_elsewhere'
    assert await linked_citizen(db, account) == first.ticket.citizen_id
    async with db.read_session() as s:
        ticket = await s.get(Ticket, second.ticket.id)
        typed = (
            await s.execute(select(Citizen).where(Citizen.id_number_hash == cipher.lookup(UNKNOWN_CITIZEN)))
        ).scalar_one_or_none()
    assert ticket is not None and ticket.citizen_id is None
    assert typed is None  # the citizen record made for the typed number went with the refused link
    assert len(await link_entries(db)) == 1


async def test_after_the_link_the_phones_me_shows_the_consent_given_at_the_window(
    db: Database, journey: Journey, accounts: CitizenAccountService, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    window = journey_hall.small.window_2
    token = await signed_in(accounts, journey)
    account = await account_of(accounts, token)
    view = await served_ticket(hall_queue, window, 'SVC-B', id_number=OUTSIDER)
    await taken_on_phone(db, view, account)
    clerk = clerk_at(window)
    await window_desk.grant_in_person(journey.tracking, journey.consent, clerk, view.ticket.id or 0, 'SVC-B')
    assert (await journey.home.overview(await accounts.authenticate(token))).consents == []

    await window_desk.link_account(journey.tracking, accounts, clerk, view.ticket.id or 0)

    home = await journey.home.overview(await accounts.authenticate(token))
    assert home.linked
    assert [consent.purpose for consent in home.consents] == [ConsentPurpose.DEPARTMENT_DATA]


async def test_linking_the_same_person_again_changes_nothing_and_records_nothing_more(
    db: Database, journey: Journey, accounts: CitizenAccountService, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    window = journey_hall.small.window_2
    account = await account_of(accounts, await signed_in(accounts, journey))
    view = await served_ticket(hall_queue, window, 'SVC-B', id_number=OUTSIDER)
    await taken_on_phone(db, view, account)
    await window_desk.link_account(journey.tracking, accounts, clerk_at(window), view.ticket.id or 0)

    again = await window_desk.link_account(journey.tracking, accounts, clerk_at(window), view.ticket.id or 0, OUTSIDER)

    assert again.already and again.citizen_id == view.ticket.citizen_id
    assert len(await link_entries(db)) == 1
