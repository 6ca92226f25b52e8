""" "我的": a signed-in phone sees what it took itself, and once linked by a verified path, the citizen's whole file."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from app.db import Database
from app.models import AuditEntry, Citizen, ProxyGrant
from app.models.appointment import Appointment
from app.models.citizen_account import CitizenAccount
from app.models.people import Role
from app.models.security import Consent, ConsentPurpose
from app.models.ticket import Ticket
from app.services import audit
from app.services.case_views import CaseView
from app.services.errors import Forbidden, NotFound, Unauthorized
from app.services.journey import Journey
from app.services.principal import Kind, Principal
from app.services.queue import QueueService
from app.services.tracking import VIA_ACCOUNT, PersonAct
from tests import journeyhall
from tests.conftest import FakeClock
from tests.easthall import add_east_hall
from tests.journeyhall import LOCAL_CITIZEN, OUTSIDER, JourneyHall, served_ticket

journey_hall = journeyhall.journey_hall_fixture
journey_settings = journeyhall.journey_settings_fixture
journey = journeyhall.journey_fixture
hall_queue = journeyhall.hall_queue_fixture
act = journeyhall.case_act_fixture

BOSS = Principal(Kind.STAFF, 'boss', Role.MANAGER)


async def new_account(db: Database, clock: FakeClock, *, citizen_id: int | None = None, n: int = 1) -> int:
    async with db.session() as s, s.begin():
        account = CitizenAccount(phone_hash=f'{n:064d}', phone_enc='x', citizen_id=citizen_id, created_at=clock())
        s.add(account)
        await s.flush()
        return account.id or 0


async def test_an_anonymous_caller_is_asked_to_sign_in(journey: Journey) -> None:
    with pytest.raises(Unauthorized) as refused:
        await journey.home.overview(Principal.anonymous('10.0.0.1'))
    assert refused.value.code == 'citizen_sign_in_required'


async def test_a_linked_account_sees_the_citizens_tickets_cases_consents_and_grants(
    journey: Journey, act: PersonAct, db: Database, clock: FakeClock
) -> None:
    await journey.proxy.invite(act, relation='子女', hours=4, can_fill=False)
    account = await new_account(db, clock, citizen_id=act.citizen_id)

    home = await journey.home.overview(Principal.account(account, citizen_id=act.citizen_id))

    assert home.linked
    assert [ticket.id for ticket in home.tickets] == [act.tracked.ticket_id]
    assert not home.tickets[0].online
    assert [view.case.ticket_id for view in home.cases] == [act.tracked.ticket_id]
    assert [consent.purpose for consent in home.consents] == [ConsentPurpose.PROXY]
    assert [(grant.relation, grant.ticket_number) for grant in home.grants] == [('子女', act.tracked.number)]


async def test_an_unlinked_phone_sees_only_what_it_took_itself(
    journey: Journey, act: PersonAct, db: Database, clock: FakeClock
) -> None:
    account = await new_account(db, clock)
    home = await journey.home.overview(Principal.account(account))
    assert (home.tickets, home.cases, home.consents, home.grants, home.bookings) == ([], [], [], [], [])

    async with db.session() as s, s.begin():
        await s.execute(update(Ticket).where(col(Ticket.id) == act.tracked.ticket_id).values(account_id=account))
        ticket = await s.get(Ticket, act.tracked.ticket_id)
        assert ticket is not None
        s.add(
            Appointment(
                hall_id=ticket.hall_id,
                service_id=ticket.service_id,
                account_id=account,
                reference='R-TEST-1',
                slot_start=clock() + dt.timedelta(days=1),
                slot_end=clock() + dt.timedelta(days=1, minutes=30),
                created_at=clock(),
            )
        )

    home = await journey.home.overview(Principal.account(account))
    assert [(ticket.id, ticket.online) for ticket in home.tickets] == [(act.tracked.ticket_id, True)]
    assert [view.case.ticket_id for view in home.cases] == [act.tracked.ticket_id]  # opened from its own ticket
    assert home.consents == [] and home.grants == []  # the person's file needs the verified link
    assert [booking.reference for booking in home.bookings] == ['R-TEST-1']


async def test_withdrawing_the_proxy_consent_from_me_ends_the_grant_as_the_citizen_via_the_account(
    journey: Journey, act: PersonAct, db: Database, clock: FakeClock
) -> None:
    await journey.proxy.invite(act, relation='子女', hours=4, can_fill=False)
    account = await new_account(db, clock, citizen_id=act.citizen_id)
    caller = Principal.account(account, citizen_id=act.citizen_id)
    consent_id = (await journey.home.overview(caller)).consents[0].id

    await journey.proxy.withdraw_by_account(caller, consent_id)

    home = await journey.home.overview(caller)
    assert home.grants == []
    assert home.consents[0].revoked_at is not None
    async with db.read_session() as s:
        entries = (await s.execute(select(AuditEntry).where(AuditEntry.action == audit.PROXY_ACTION))).scalars().all()
    ended = [entry for entry in entries if entry.detail.get('action') == 'end']
    assert [(entry.actor, entry.detail.get('via')) for entry in ended] == [(caller.name, VIA_ACCOUNT)]


async def test_another_citizens_grant_or_consent_cannot_be_touched_from_me(
    journey: Journey, act: PersonAct, db: Database, clock: FakeClock
) -> None:
    invitation = await journey.proxy.invite(act, relation='子女', hours=4, can_fill=False)
    async with db.session() as s, s.begin():
        someone = Citizen(created_at=clock())
        s.add(someone)
        await s.flush()
    other = Principal.account(await new_account(db, clock, citizen_id=someone.id, n=2), citizen_id=someone.id)
    unlinked = Principal.account(await new_account(db, clock, n=3))
    async with db.read_session() as s:
        consent_id = (await s.execute(select(Consent.id))).scalars().one()

    for caller in (other, unlinked):
        with pytest.raises(NotFound):
            await journey.proxy.end_by_account(caller, invitation.grant.id or 0)
        with pytest.raises(NotFound):
            await journey.proxy.withdraw_by_account(caller, consent_id)

    async with db.read_session() as s:
        grant = await s.get(ProxyGrant, invitation.grant.id)
        consent = await s.get(Consent, consent_id)
    assert grant is not None and grant.revoked_at is None
    assert consent is not None and consent.revoked_at is None


async def test_ending_a_grant_from_me_stops_the_relatives_link(
    journey: Journey, act: PersonAct, db: Database, clock: FakeClock
) -> None:
    invitation = await journey.proxy.invite(act, relation='配偶', hours=4, can_fill=True)
    caller = Principal.account(await new_account(db, clock, citizen_id=act.citizen_id), citizen_id=act.citizen_id)

    await journey.proxy.end_by_account(caller, invitation.grant.id or 0)

    with pytest.raises(Forbidden) as gone:
        await journey.proxy.access(invitation.token)
    assert gone.value.code == 'proxy_ended'
    assert (await journey.home.overview(caller)).grants == []


# ---- whose a case is: one rule for /me (`overview`) and /me/live (`today`) ------------------------------------


async def desk_case(journey: Journey, hall_queue: QueueService, window_id: int, id_number: str | None) -> CaseView:
    """A case opened at the desk on a ticket taken there with that ID card (None: no card, a case naming nobody)."""
    ticket = await served_ticket(hall_queue, window_id, 'SVC-C', id_number=id_number, complete=True)
    return await journey.cases.open_case(ticket.ticket.id or 0, actor='w04')


async def set_ticket(db: Database, ticket_id: int | None, **values: int) -> None:
    async with db.session() as s, s.begin():
        await s.execute(update(Ticket).where(col(Ticket.id) == ticket_id).values(**values))


async def cases_seen(journey: Journey, caller: Principal) -> tuple[set[int], set[int]]:
    """The cases /me lists and those /me/live lists (all of these are open, so the two must be the same)."""
    home, today = await journey.home.overview(caller), await journey.home.today(caller)
    return home.case_ids, {case.id for case in today.cases}


async def test_a_case_opened_at_the_desk_for_the_linked_citizen_is_theirs_on_both_pages_wherever_it_moved(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall, db: Database, clock: FakeClock
) -> None:
    view = await desk_case(journey, hall_queue, journey_hall.small.window_4, LOCAL_CITIZEN)
    citizen_id = view.case.citizen_id
    caller = Principal.account(await new_account(db, clock, citizen_id=citizen_id), citizen_id=citizen_id)
    assert await cases_seen(journey, caller) == ({view.id}, {view.id})  # the ticket is not the account's: no matter

    async with db.session() as s, s.begin():
        east = await add_east_hall(s)
    await journey.transfers.transfer(view.id, to_hall_id=east.hall_id, reason='户籍在东区', caller=BOSS)

    assert await cases_seen(journey, caller) == ({view.id}, {view.id})  # 跨区通办 moved it, it is still theirs


async def test_a_case_naming_nobody_is_its_tickets_so_the_account_that_took_it_and_the_ticket_citizen_see_it(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall, db: Database, clock: FakeClock
) -> None:
    mine = await desk_case(journey, hall_queue, journey_hall.small.window_4, LOCAL_CITIZEN)
    citizen_id = mine.case.citizen_id
    account = await new_account(db, clock, citizen_id=citizen_id)
    took = await desk_case(journey, hall_queue, journey_hall.small.window_4, None)
    await set_ticket(db, took.case.ticket_id, account_id=account)  # taken on the phone, the card never shown
    named = await desk_case(journey, hall_queue, journey_hall.small.window_4, None)
    await set_ticket(db, named.case.ticket_id, citizen_id=citizen_id or 0)  # the desk identified them afterwards
    stranger = await desk_case(journey, hall_queue, journey_hall.small.window_4, None)  # nobody's, on nobody's ticket

    seen = {mine.id, took.id, named.id}
    assert await cases_seen(journey, Principal.account(account, citizen_id=citizen_id)) == (seen, seen)
    assert stranger.id not in seen
    assert await cases_seen(journey, Principal.account(account)) == ({took.id}, {took.id})  # before the link


async def test_another_citizens_case_on_a_ticket_of_this_citizens_list_never_shows_on_either_page(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall, db: Database, clock: FakeClock
) -> None:
    """An attacker links their phone to themselves and gets someone else's case onto their ticket list every way
    there is: a booking of their phone checked in with the victim's ID card, and a ticket that names them (the
    desk identified them after the victim's case was opened on it). Neither list shows the victim's case; the
    victim's own account sees both."""
    attacker_case = await desk_case(journey, hall_queue, journey_hall.small.window_4, LOCAL_CITIZEN)
    attacker_id = attacker_case.case.citizen_id
    attacker_account = await new_account(db, clock, citizen_id=attacker_id)
    booked = await desk_case(journey, hall_queue, journey_hall.small.window_4, OUTSIDER)
    await set_ticket(db, booked.case.ticket_id, account_id=attacker_account)
    renamed = await desk_case(journey, hall_queue, journey_hall.small.window_4, OUTSIDER)
    await set_ticket(db, renamed.case.ticket_id, citizen_id=attacker_id or 0)
    victim_id = booked.case.citizen_id
    assert victim_id is not None and victim_id != attacker_id and renamed.case.citizen_id == victim_id
    attacker = Principal.account(attacker_account, citizen_id=attacker_id)

    home = await journey.home.overview(attacker)
    assert {booked.case.ticket_id, renamed.case.ticket_id} <= home.ticket_ids  # the tickets are on the list
    assert await cases_seen(journey, attacker) == ({attacker_case.id}, {attacker_case.id})
    victim = Principal.account(await new_account(db, clock, citizen_id=victim_id, n=2), citizen_id=victim_id)
    assert await cases_seen(journey, victim) == ({booked.id, renamed.id}, {booked.id, renamed.id})
