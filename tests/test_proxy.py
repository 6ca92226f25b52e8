"""亲情代办: a citizen's grant lets a relative follow and help, scoped, time-limited, revocable, all audited."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from sqlmodel import col, select

from app.bus import InProcessBus
from app.db import Database
from app.events import ProxyChanged
from app.models import AuditEntry, CaseMaterial, Consent, ProxyProposal
from app.models.security import ConsentPurpose
from app.services import audit
from app.services.case_views import MATERIAL_PREPARED, MATERIAL_REQUIRED
from app.services.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from app.services.journey import Journey
from app.services.proxy import MAX_ACTIVE_GRANTS, ProxyService, to_bring, token_hash
from app.services.queue import QueueService
from app.services.tracking import VIA_SMS, PersonAct, Tracked
from tests import journeyhall
from tests.conftest import FakeClock
from tests.journeyhall import UNKNOWN_CITIZEN, JourneyHall, served_ticket
from tests.twinkit import Recorder

journey_hall = journeyhall.journey_hall_fixture
journey_settings = journeyhall.journey_settings_fixture
journey = journeyhall.journey_fixture
hall_queue = journeyhall.hall_queue_fixture
act = journeyhall.case_act_fixture


def stranger(act: PersonAct) -> PersonAct:
    """Another citizen who proved their own phone: this ticket's grants are not theirs."""
    other = replace(act.tracked, citizen_id=(act.citizen_id or 0) + 1)
    return PersonAct(other, VIA_SMS, f'citizen:{other.citizen_id}', 'citizen')


async def materials(db: Database, tracked: Tracked) -> dict[str, CaseMaterial]:
    async with db.read_session() as s:
        rows = await s.execute(select(CaseMaterial).order_by(col(CaseMaterial.id)))
        return {m.name: m for m in rows.scalars()}


async def proxy_audit(db: Database) -> list[str]:
    async with db.read_session() as s:
        rows = await s.execute(
            select(AuditEntry).where(AuditEntry.action == audit.PROXY_ACTION).order_by(col(AuditEntry.id))
        )
        return [f'{entry.actor}:{entry.detail["action"]}' for entry in rows.scalars()]


async def test_a_relative_follows_and_helps_and_the_citizen_confirms(
    journey: Journey, act: PersonAct, db: Database, bus: InProcessBus
) -> None:
    proxy = journey.proxy
    recorder = Recorder(bus)
    invitation = await proxy.invite(act, relation='子女', hours=4, can_fill=True)
    grant_id = invitation.grant.id
    async with db.read_session() as s:
        stored = (await s.execute(select(Consent).where(Consent.purpose == ConsentPurpose.PROXY))).scalar_one()
        assert stored.ticket_id == act.tracked.ticket_id and stored.revoked_at is None
        assert invitation.grant.token_hash == token_hash(invitation.token) != invitation.token

    access = await proxy.join(invitation.token, client_address='10.1.2.3')
    assert (access.grant_id, access.tracked.ticket_id, access.tracked.number) == (
        grant_id,
        act.tracked.ticket_id,
        'B001',
    )
    await proxy.join(invitation.token)  # opening it again is not a new join
    form = (await materials(db, act.tracked))['灵活就业申请表']
    proposal = await proxy.propose(invitation.token, form.id or 0)
    with pytest.raises(Conflict):
        await proxy.propose(invitation.token, form.id or 0)  # one pending proposal per material
    assert (await materials(db, act.tracked))['灵活就业申请表'].status == MATERIAL_REQUIRED  # nothing changes yet

    (view,) = await proxy.grants_for(act.tracked)
    assert view.grant.joined_at is not None and [p.material for p in view.proposals] == ['灵活就业申请表']
    await proxy.decide(proposal.id or 0, act=act, accept=True)
    changed = (await materials(db, act.tracked))['灵活就业申请表']
    assert (changed.status, changed.source) == (MATERIAL_PREPARED, 'proxy')
    with pytest.raises(Conflict):
        await proxy.decide(proposal.id or 0, act=act, accept=False)

    await bus.drain()
    changes = [e.change for e in recorder.events if isinstance(e, ProxyChanged)]
    assert changes == ['invited', 'joined', 'proposed', 'accepted']
    citizen = f'citizen:{act.citizen_id}'
    assert await proxy_audit(db) == [
        f'{citizen}:invite',
        f'proxy:{grant_id}:join',
        f'proxy:{grant_id}:propose',
        f'{citizen}:accept',
    ]


async def test_ending_the_grant_ends_the_link_at_once(
    journey: Journey, act: PersonAct, db: Database, bus: InProcessBus
) -> None:
    proxy = journey.proxy
    invitation = await proxy.invite(act, relation='配偶', hours=1, can_fill=True)
    await proxy.join(invitation.token)
    form = (await materials(db, act.tracked))['灵活就业申请表']
    proposal = await proxy.propose(invitation.token, form.id or 0)
    await proxy.end(invitation.grant.id or 0, act=act)
    for attempt in (proxy.access(invitation.token), proxy.join(invitation.token), proxy.propose(invitation.token, 1)):
        with pytest.raises(Forbidden) as refused:
            await attempt
        assert refused.value.code == 'proxy_ended'
    assert await proxy.grants_for(act.tracked) == []
    with pytest.raises(Conflict):
        await proxy.decide(proposal.id or 0, act=act, accept=True)  # withdrawn
    async with db.read_session() as s:
        consent = (await s.execute(select(Consent).where(Consent.purpose == ConsentPurpose.PROXY))).scalar_one()
    assert consent.revoked_at is not None  # the consent ends with the grant
    with pytest.raises(Conflict):
        await proxy.end(invitation.grant.id or 0, act=act)


async def test_withdrawing_the_consent_or_the_clock_ends_it_too(
    journey: Journey, act: PersonAct, clock: FakeClock
) -> None:
    proxy = journey.proxy
    first = await proxy.invite(act, relation='亲友', hours=1, can_fill=False)
    await proxy.end_for_consent(first.grant.consent_id, act=act)
    with pytest.raises(Forbidden):
        await proxy.access(first.token)
    second = await proxy.invite(act, relation='亲友', hours=1, can_fill=False)
    await proxy.access(second.token)
    clock.advance(61)
    with pytest.raises(Forbidden):
        await proxy.access(second.token)


async def test_what_a_grant_does_not_allow(journey: Journey, act: PersonAct, db: Database) -> None:
    proxy = journey.proxy
    watch_only = await proxy.invite(act, relation='子女', hours=24, can_fill=False)
    form = (await materials(db, act.tracked))['灵活就业申请表']
    with pytest.raises(Forbidden) as refused:
        await proxy.propose(watch_only.token, form.id or 0)
    assert refused.value.code == 'proxy_view_only'
    helper = await proxy.invite(act, relation='子女', hours=24, can_fill=True)
    with pytest.raises(NotFound):
        await proxy.propose(helper.token, 999_999)  # no such material, or another citizen's
    with pytest.raises(Forbidden):
        await proxy.access('not-a-token')
    with pytest.raises(NotFound):
        await proxy.end(helper.grant.id or 0, act=stranger(act))  # someone else's grant
    proposal = await proxy.propose(helper.token, form.id or 0)
    with pytest.raises(NotFound):
        await proxy.decide(proposal.id or 0, act=stranger(act), accept=True)


@pytest.mark.parametrize(
    ('relation', 'hours'),
    [('陌生人', 1), ('子女', 0), ('子女', 48), ('', 4)],
)
async def test_bad_invitations_are_refused_and_change_nothing(
    journey: Journey, act: PersonAct, db: Database, relation: str, hours: int
) -> None:
    with pytest.raises(Invalid):
        await journey.proxy.invite(act, relation=relation, hours=hours, can_fill=True)
    async with db.read_session() as s:
        assert (await s.execute(select(Consent).where(Consent.purpose == ConsentPurpose.PROXY))).first() is None


async def test_at_most_three_relatives_at_once(journey: Journey, act: PersonAct) -> None:
    proxy = journey.proxy
    grants = [await proxy.invite(act, relation='亲友', hours=1, can_fill=False) for _ in range(MAX_ACTIVE_GRANTS)]
    with pytest.raises(DomainError) as refused:
        await proxy.invite(act, relation='亲友', hours=1, can_fill=False)
    assert refused.value.code == 'too_many_proxies'
    await proxy.end(grants[0].grant.id or 0, act=act)
    await proxy.invite(act, relation='亲友', hours=1, can_fill=False)


async def test_a_ticket_without_a_citizen_cannot_be_shared(journey: Journey) -> None:
    nobody = Tracked(code='x', ticket_id=1, case_id=None, citizen_id=None, service_id=1, number='A001')
    anonymous = PersonAct(nobody, VIA_SMS, 'citizen', 'citizen')
    with pytest.raises(Conflict):
        await journey.proxy.invite(anonymous, relation='子女', hours=1, can_fill=False)


def test_the_service_is_wired_into_the_journey(journey: Journey) -> None:
    assert isinstance(journey.proxy, ProxyService)


async def test_the_relative_is_shown_only_what_is_still_to_bring(
    journey: Journey, act: PersonAct, db: Database
) -> None:
    proxy = journey.proxy
    helper = await proxy.invite(act, relation='子女', hours=4, can_fill=True)
    form = (await materials(db, act.tracked))['灵活就业申请表']
    await proxy.propose(helper.token, form.id or 0)
    views = await journey.cases.views_for_ticket(act.tracked.ticket_id or 0)
    listed = {item.material.name: item.waiting for item in to_bring(views, await proxy.proposals(helper.grant.id or 0))}
    assert listed == {'本人身份证': False, '灵活就业申请表': True}


async def test_opening_a_link_writes_only_the_first_time_it_is_joined(
    journey: Journey, act: PersonAct, db: Database
) -> None:
    """GET /proxy/<anything> is public: a guess, an ended link or a second visit must cost a read, not a write
    (on SQLite a write waits for every writer ahead of it)."""
    invitation = await journey.proxy.invite(act, relation='子女', hours=1, can_fill=False)
    await journey.proxy.join(invitation.token)
    writes: list[str] = []

    class Watched(Database):
        def session(self):  # type: ignore[no-untyped-def]
            writes.append('write')
            return super().session()

    watched = Watched(db.url)
    try:
        proxy = ProxyService(replace(journey.proxy.deps, db=watched), journey.proxy.consent)
        with pytest.raises(Forbidden):
            await proxy.join('a-guessed-token-that-was-never-issued')
        assert (await proxy.join(invitation.token)).grant_id == invitation.grant.id
        assert writes == []
    finally:
        await watched.dispose()


async def test_a_link_ends_at_exactly_its_expiry(journey: Journey, act: PersonAct, clock: FakeClock) -> None:
    """Open until the moment before `expires_at`, closed at `expires_at` itself (not a moment later)."""
    proxy = journey.proxy
    invitation = await proxy.invite(act, relation='子女', hours=1, can_fill=True)
    assert invitation.grant.expires_at == clock.now + dt.timedelta(hours=1)
    clock.advance(60 - 1 / 60_000)  # a millisecond before
    await proxy.access(invitation.token)
    clock.advance(1 / 60_000)  # exactly expires_at
    for attempt in (proxy.access(invitation.token), proxy.join(invitation.token)):
        with pytest.raises(Forbidden) as refused:
            await attempt
        assert refused.value.code == 'proxy_ended'
    assert await proxy.grants_for(act.tracked) == []


async def test_a_relative_cannot_propose_a_material_of_another_citizens_real_case(
    journey: Journey, act: PersonAct, db: Database, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    """The other case exists and its materials are required: only the grant's scope refuses them."""
    other_ticket = await served_ticket(
        hall_queue, journey_hall.small.window_1, 'SVC-B', id_number=UNKNOWN_CITIZEN, phone='13900005678'
    )
    other_case = await journey.cases.open_case(
        other_ticket.ticket.id or 0, actor='w01', answers={'employment': 'flexible'}
    )
    assert other_case.case.citizen_id not in (None, act.tracked.citizen_id)
    theirs = [m for m in other_case.materials if m.status == MATERIAL_REQUIRED]
    assert theirs, 'a real material another citizen still has to bring'
    helper = await journey.proxy.invite(act, relation='子女', hours=24, can_fill=True)
    for material in theirs:
        with pytest.raises(NotFound) as refused:
            await journey.proxy.propose(helper.token, material.id or 0)
        assert refused.value.code == 'unknown_material'
    async with db.read_session() as s:
        assert (await s.execute(select(ProxyProposal))).first() is None
        after = {m.id: m.status for m in (await s.execute(select(CaseMaterial))).scalars()}
    assert all(after[m.id] == MATERIAL_REQUIRED for m in theirs)
    async with db.read_session() as s:
        rows = (await s.execute(select(CaseMaterial).where(CaseMaterial.case_id != other_case.id))).scalars()
        mine = next(m for m in rows if m.status == MATERIAL_REQUIRED)
    assert (await journey.proxy.propose(helper.token, mine.id or 0)).material_id == mine.id  # its own case: fine
