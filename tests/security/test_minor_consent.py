"""PIPL art. 31: under 14 (by the ID number's birth date, on the hall's day) a guardian consents, in person.

The boundary is the 14th birthday itself; the day before needs a guardian. A guardian is recorded only
by staff at the window, stored encrypted on the minor's consent, audited, and revocable.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from app.db import Database
from app.models import AuditEntry, Consent, ConsentPurpose, ConsentScope, TicketCreate
from app.models.people import Role
from app.security.crypto import FieldCipher
from app.services import audit, window_desk
from app.services.consent import CURRENT_TEXT_VERSIONS, GUARDIAN_CONTEXT, ConsentService, Guardian
from app.services.errors import Forbidden, Invalid
from app.services.journey import Journey
from app.services.principal import Kind, Principal
from app.services.queue import QueueService
from tests import journeyhall
from tests.callers import DESK, deps_for
from tests.conftest import FakeClock
from tests.factories import SmallHall
from tests.idnumbers import make_id
from tests.journeyhall import JourneyHall, by_sms, served_ticket

journey_hall = journeyhall.journey_hall_fixture
journey_settings = journeyhall.journey_settings_fixture
journey = journeyhall.journey_fixture
hall_queue = journeyhall.hall_queue_fixture

FACE = ConsentPurpose.FACE_TICKET
DATA = ConsentPurpose.DEPARTMENT_DATA
SAME_KIND = ConsentScope.SAME_KIND
V = CURRENT_TEXT_VERSIONS
HALL_DAY = dt.date(2026, 11, 28)  # FakeClock's day in the hall
MOTHER = Guardian(make_id(dt.date(1985, 3, 9), sequence='428'), 'parent')


@pytest.fixture
def consents(db: Database, cipher: FieldCipher, clock: FakeClock) -> ConsentService:
    return ConsentService(deps_for(db, clock=clock, cipher=cipher))


async def citizen_born(queue: QueueService, service: str, birth: dt.date) -> int:
    view = await queue.take_ticket(TicketCreate(service_code=service, id_number=make_id(birth)), caller=DESK)
    assert view.ticket.citizen_id is not None
    return view.ticket.citizen_id


@pytest.mark.parametrize('purpose', [FACE, DATA])
async def test_the_day_before_the_14th_birthday_a_citizen_cannot_consent_alone(
    consents: ConsentService, queue: QueueService, hall: SmallHall, purpose: ConsentPurpose
) -> None:
    minor = await citizen_born(queue, hall.service_a, dt.date(2012, 11, 29))
    with pytest.raises(Forbidden) as refused:
        await consents.grant(minor, purpose, SAME_KIND, text_version=V[purpose], service_code=hall.service_a)
    assert refused.value.code == 'guardian_required' and '监护人' in refused.value.message
    with pytest.raises(Forbidden) as still:  # nor can anyone use a consent that was never given
        await consents.require(minor, purpose, service_code=hall.service_a)
    assert still.value.code == 'consent_required'


async def test_on_the_14th_birthday_a_citizen_consents_alone_and_needs_no_guardian(
    consents: ConsentService, queue: QueueService, hall: SmallHall
) -> None:
    fourteen = await citizen_born(queue, hall.service_a, HALL_DAY.replace(year=2012))
    granted = await consents.grant(fourteen, DATA, SAME_KIND, text_version=V[DATA], service_code=hall.service_a)
    assert granted.guardian_relation is None
    with pytest.raises(Invalid) as refused:
        await consents.grant(
            fourteen, DATA, SAME_KIND, text_version=V[DATA], service_code=hall.service_a, role='staff', guardian=MOTHER
        )
    assert refused.value.code == 'guardian_not_needed'


async def test_the_age_is_taken_on_the_halls_day_not_utcs(
    consents: ConsentService, queue: QueueService, hall: SmallHall, clock: FakeClock
) -> None:
    clock.now = dt.datetime(2026, 11, 27, 17, 0, tzinfo=dt.UTC)  # 01:00 on the 28th in the hall
    fourteen = await citizen_born(queue, hall.service_a, HALL_DAY.replace(year=2012))
    await consents.grant(fourteen, FACE, SAME_KIND, text_version=V[FACE])


async def test_a_proxy_consent_is_not_guarded(consents: ConsentService, queue: QueueService, hall: SmallHall) -> None:
    minor = await citizen_born(queue, hall.service_a, dt.date(2015, 1, 1))
    await consents.grant(minor, ConsentPurpose.PROXY, ConsentScope.ONCE, text_version=V[ConsentPurpose.PROXY])


async def test_a_guardian_is_recorded_only_by_staff_and_must_be_an_adult_with_a_valid_id(
    consents: ConsentService, queue: QueueService, hall: SmallHall, cipher: FieldCipher, db: Database
) -> None:
    minor = await citizen_born(queue, hall.service_a, dt.date(2015, 6, 1))
    grant = {'text_version': V[FACE]}
    with pytest.raises(Forbidden) as refused:  # the minor (or anyone with a phone) naming a guardian
        await consents.grant(minor, FACE, SAME_KIND, guardian=MOTHER, **grant)
    assert refused.value.code == 'guardian_required'
    bad = [
        (Guardian(make_id(dt.date(2010, 1, 1), sequence='111'), 'parent'), 'guardian_not_adult'),
        (Guardian('110105198503094281', 'parent'), 'invalid_id_number'),
        (Guardian(MOTHER.id_number, 'neighbour'), 'invalid_guardian_relation'),
    ]
    for guardian, code in bad:
        with pytest.raises(Invalid) as invalid:
            await consents.grant(minor, FACE, SAME_KIND, role='staff', actor='w01', guardian=guardian, **grant)
        assert invalid.value.code == code
    granted = await consents.grant(minor, FACE, SAME_KIND, role='staff', actor='w01', guardian=MOTHER, **grant)
    async with db.read_session() as s:
        row = await s.get(Consent, granted.id)
    assert row is not None and row.guardian_relation == 'parent'
    assert row.guardian_id_enc and MOTHER.id_number not in row.guardian_id_enc
    assert cipher.decrypt(row.guardian_id_enc, context=GUARDIAN_CONTEXT) == MOTHER.id_number
    assert (await consents.require(minor, FACE)).id == granted.id


async def test_a_minors_consent_recorded_without_a_guardian_is_not_used(
    consents: ConsentService, queue: QueueService, hall: SmallHall, db: Database
) -> None:
    """A row from before this rule (or written around the service) allows nothing, and no face is enrolled."""
    minor = await citizen_born(queue, hall.service_a, dt.date(2015, 6, 1))
    async with db.session() as s, s.begin():
        old = Consent(
            citizen_id=minor, purpose=FACE, scope=SAME_KIND, text_version=V[FACE], granted_at=consents.clock()
        )
        s.add(old)
    with pytest.raises(Forbidden) as refused:
        await consents.require(minor, FACE)
    assert refused.value.code == 'guardian_required'
    with pytest.raises(Forbidden) as enrol:
        await consents.enrol_face(minor, b'\x01' * 1024, consent_id=old.id or 0)
    assert enrol.value.code == 'guardian_required'


async def test_a_guardian_consents_at_the_window_and_revokes_there_audited_as_the_clerk(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall, db: Database
) -> None:
    window = journey_hall.small.window_4
    minor = make_id(dt.date(2016, 2, 2), sequence='531')
    view = await served_ticket(hall_queue, window, 'SVC-C', id_number=minor, phone='13812345678')
    ticket_id = view.ticket.id or 0
    clerk = Principal(Kind.STAFF, 'w04', Role.STAFF, window_id=window)
    with pytest.raises(Forbidden) as alone:  # the minor in front of the window, without a guardian
        await window_desk.grant_in_person(journey.tracking, journey.consent, clerk, ticket_id, 'SVC-C')
    assert alone.value.code == 'guardian_required'
    granted = await window_desk.grant_for_guardian(
        journey.tracking, journey.consent, clerk, ticket_id, DATA, MOTHER, service_code='SVC-C'
    )
    act = await by_sms(journey, view.ticket.code)
    shown = await journey.consent.list_for_ticket(act)
    assert [(c.id, c.guardian_relation) for c in shown] == [(granted.id, 'parent')]
    await window_desk.revoke_in_person(journey.tracking, journey.consent, clerk, ticket_id, granted.id or 0)
    async with db.read_session() as s:
        rows = (
            await s.execute(
                select(AuditEntry).where(AuditEntry.target == f'consent:{granted.id}').order_by(AuditEntry.id)
            )
        ).scalars()
        entries = [(e.action, e.actor, e.detail.get('guardian_relation'), e.detail.get('via')) for e in rows]
    assert entries == [
        (audit.CONSENT_GRANTED, 'w04', 'parent', 'window_staff'),
        (audit.CONSENT_REVOKED, 'w04', 'parent', 'window_staff'),
    ]
    assert MOTHER.id_number not in str(entries)


async def test_through_the_texted_code_a_minor_cannot_grant_but_can_revoke_the_guardians_consent(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    window = journey_hall.small.window_4
    view = await served_ticket(
        hall_queue, window, 'SVC-C', id_number=make_id(dt.date(2016, 2, 2), sequence='642'), phone='13812345678'
    )
    act = await by_sms(journey, view.ticket.code)
    for guardian in (None, MOTHER):  # naming a guardian over the phone proves nothing
        with pytest.raises(Forbidden) as refused:
            await journey.consent.grant_for(act, DATA, SAME_KIND, service_code='SVC-C', guardian=guardian)
        assert refused.value.code == 'guardian_required'
    clerk = Principal(Kind.STAFF, 'w04', Role.STAFF, window_id=window)
    granted = await window_desk.grant_for_guardian(
        journey.tracking, journey.consent, clerk, view.ticket.id or 0, FACE, MOTHER, service_code='SVC-C'
    )
    revoked = await journey.consent.revoke_for(act, granted.id or 0)
    assert revoked.revoked_at is not None
