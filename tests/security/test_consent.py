"""Consent rules, on SQLite and PostgreSQL: purpose, scope, revocation at once, face templates only under consent."""

from __future__ import annotations

import asyncio
import datetime as dt

import numpy as np
import pytest
from sqlmodel import col, func, select

from app.db import Database
from app.models import AuditEntry, Consent, ConsentPurpose, ConsentScope, FaceEncoding, TicketCreate
from app.security.crypto import FieldCipher
from app.services import audit
from app.services.consent import (
    CONSENT_TEXTS,
    CURRENT_TEXT_VERSIONS,
    FACE_TICKET_TEXT_VERSION,
    ConsentService,
    consent_text,
)
from app.services.errors import Conflict, Forbidden, Invalid, NotFound
from app.services.queue import QueueService
from tests.callers import DESK, deps_for
from tests.conftest import FakeClock
from tests.factories import SmallHall
from tests.idnumbers import make_id

FACE = ConsentPurpose.FACE_TICKET
DATA = ConsentPurpose.DEPARTMENT_DATA
ONCE = ConsentScope.ONCE
SAME_KIND = ConsentScope.SAME_KIND
V = CURRENT_TEXT_VERSIONS


@pytest.fixture
def consents(db: Database, cipher: FieldCipher, clock: FakeClock) -> ConsentService:
    return ConsentService(deps_for(db, clock=clock, cipher=cipher))


async def citizen_ticket(queue: QueueService, service: str, year: int) -> tuple[int, int]:
    """(citizen id, ticket id) of a fresh citizen who took a number."""
    view = await queue.take_ticket(
        TicketCreate(service_code=service, id_number=make_id(dt.date(year, 5, 4))), caller=DESK
    )
    assert view.ticket.citizen_id is not None and view.ticket.id is not None
    return view.ticket.citizen_id, view.ticket.id


def template(seed: int) -> bytes:
    return np.random.default_rng(seed).random(128).tobytes()


async def face_rows(db: Database, **where: int) -> int:
    async with db.session() as s:
        statement = select(func.count()).select_from(FaceEncoding)
        for name, value in where.items():
            statement = statement.where(getattr(FaceEncoding, name) == value)
        return (await s.execute(statement)).scalar_one()


def test_every_purpose_has_a_bilingual_current_text() -> None:
    for purpose in ConsentPurpose:
        text = consent_text(purpose)
        assert text == CONSENT_TEXTS[purpose][V[purpose]]
        assert text.zh and text.en
    face = consent_text(FACE)
    assert '单独同意' in face.zh and '身份证' in face.zh and '撤回' in face.zh and '加密' in face.zh
    assert 'ID card' in face.en and 'withdraw' in face.en and 'encrypted' in face.en


async def test_grant_require_and_list(consents: ConsentService, queue: QueueService, hall: SmallHall) -> None:
    citizen, _ = await citizen_ticket(queue, hall.service_a, 1980)
    granted = await consents.grant(
        citizen, DATA, SAME_KIND, text_version=V[DATA], service_code=hall.service_a, channel='kiosk'
    )
    assert (await consents.require(citizen, DATA, service_code=hall.service_a)).id == granted.id
    with pytest.raises(Forbidden) as error:
        await consents.require(citizen, DATA, service_code=hall.service_b)
    assert error.value.code == 'consent_required' and ' / ' in error.value.message
    with pytest.raises(Forbidden):
        await consents.require(citizen, ConsentPurpose.PROXY, service_code=hall.service_a)
    listed = await consents.list_for(citizen)
    assert [(c.id, c.purpose, c.scope, c.service_code, c.revoked_at) for c in listed] == [
        (granted.id, DATA, SAME_KIND, hall.service_a, None)
    ]
    assert not hasattr(listed[0], 'citizen_id')


async def test_once_is_used_up_by_its_first_consuming_use(
    consents: ConsentService, queue: QueueService, hall: SmallHall, clock: FakeClock
) -> None:
    citizen, _ = await citizen_ticket(queue, hall.service_a, 1981)
    await consents.grant(citizen, DATA, ONCE, text_version=V[DATA], service_code=hall.service_a)
    await consents.require(citizen, DATA, service_code=hall.service_a)  # a check alone uses nothing
    used = await consents.require(citizen, DATA, service_code=hall.service_a, consume=True)
    assert used.used_at == clock.now
    with pytest.raises(Forbidden):
        await consents.require(citizen, DATA, service_code=hall.service_a)


async def test_a_once_consent_is_used_only_once_even_by_concurrent_requests(
    consents: ConsentService, queue: QueueService, hall: SmallHall
) -> None:
    citizen, _ = await citizen_ticket(queue, hall.service_a, 1979)
    await consents.grant(citizen, DATA, ONCE, text_version=V[DATA], service_code=hall.service_a)
    results = await asyncio.gather(
        *(consents.require(citizen, DATA, service_code=hall.service_a, consume=True) for _ in range(4)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, Consent) for r in results) == 1
    assert all(isinstance(r, Forbidden) for r in results if not isinstance(r, Consent))


async def test_a_use_inside_a_failed_transaction_is_rolled_back(
    consents: ConsentService, queue: QueueService, hall: SmallHall, db: Database
) -> None:
    citizen, _ = await citizen_ticket(queue, hall.service_a, 1978)
    await consents.grant(citizen, DATA, ONCE, text_version=V[DATA], service_code=hall.service_a)
    with pytest.raises(RuntimeError):
        async with db.session() as s, s.begin():
            await consents.require_in(s, citizen, DATA, service_code=hall.service_a, consume=True)
            raise RuntimeError('issuing the ticket failed')
    assert (await consents.require(citizen, DATA, service_code=hall.service_a)).used_at is None


async def test_once_bound_to_a_ticket_covers_only_that_ticket(
    consents: ConsentService, queue: QueueService, hall: SmallHall
) -> None:
    citizen, ticket = await citizen_ticket(queue, hall.service_a, 1982)
    await consents.grant(citizen, ConsentPurpose.PROXY, ONCE, text_version=V[ConsentPurpose.PROXY], ticket_id=ticket)
    with pytest.raises(Forbidden):
        await consents.require(citizen, ConsentPurpose.PROXY, ticket_id=ticket + 1000)
    with pytest.raises(Forbidden):
        await consents.require(citizen, ConsentPurpose.PROXY)
    await consents.require(citizen, ConsentPurpose.PROXY, ticket_id=ticket, consume=True)
    with pytest.raises(Forbidden):
        await consents.require(citizen, ConsentPurpose.PROXY, ticket_id=ticket)


async def test_same_kind_lasts_for_its_service_only(
    consents: ConsentService, queue: QueueService, hall: SmallHall, clock: FakeClock
) -> None:
    citizen, _ = await citizen_ticket(queue, hall.service_a, 1983)
    await consents.grant(citizen, DATA, SAME_KIND, text_version=V[DATA], service_code=hall.service_b)
    first_use = clock.now
    for _ in range(3):
        used = await consents.require(citizen, DATA, service_code=hall.service_b, consume=True)
        clock.advance(60)
    assert used.used_at == first_use
    for other in (hall.service_a, None):
        with pytest.raises(Forbidden):
            await consents.require(citizen, DATA, service_code=other)


async def test_same_kind_face_consent_without_service_covers_every_service(
    consents: ConsentService, queue: QueueService, hall: SmallHall
) -> None:
    citizen, _ = await citizen_ticket(queue, hall.service_a, 1984)
    await consents.grant(citizen, FACE, SAME_KIND, text_version=FACE_TICKET_TEXT_VERSION)
    for service in (hall.service_a, hall.service_c, None):
        await consents.require(citizen, FACE, service_code=service, consume=True)


async def test_bad_grants_are_refused_and_store_nothing(
    consents: ConsentService, queue: QueueService, hall: SmallHall, db: Database
) -> None:
    citizen, _ = await citizen_ticket(queue, hall.service_a, 1985)
    other, other_ticket = await citizen_ticket(queue, hall.service_a, 1986)
    cases = [
        (Invalid, 'unknown_consent_text', dict(purpose=FACE, scope=ONCE, text_version='1999.9')),
        (Invalid, 'service_code_required', dict(purpose=DATA, scope=SAME_KIND, text_version=V[DATA])),
        (NotFound, 'unknown_service', dict(purpose=DATA, scope=ONCE, text_version=V[DATA], service_code='NOPE')),
        (NotFound, 'unknown_ticket', dict(purpose=DATA, scope=ONCE, text_version=V[DATA], ticket_id=other_ticket)),
    ]
    for kind, code, kwargs in cases:
        with pytest.raises(kind) as error:
            await consents.grant(citizen, **kwargs)
        assert error.value.code == code
    with pytest.raises(NotFound) as error:
        await consents.grant(other + 1000, FACE, ONCE, text_version=V[FACE])
    assert error.value.code == 'unknown_citizen'
    async with db.session() as s:
        assert (await s.execute(select(func.count()).select_from(Consent))).scalar_one() == 0


async def test_revoke_deletes_face_templates_and_takes_effect_at_once(
    consents: ConsentService, queue: QueueService, hall: SmallHall, db: Database, clock: FakeClock
) -> None:
    citizen, _ = await citizen_ticket(queue, hall.service_a, 1987)
    consent = await consents.grant(citizen, FACE, SAME_KIND, text_version=V[FACE], channel='kiosk')
    assert consent.id is not None
    await consents.enrol_face(citizen, template(1), consent_id=consent.id)
    await consents.enrol_face(citizen, template(2), consent_id=consent.id)
    assert await consents.face_gallery() == [(citizen, template(1)), (citizen, template(2))]
    clock.advance(5)
    revoked = await consents.revoke(consent.id, citizen_id=citizen)
    assert revoked.revoked_at == clock.now
    assert await face_rows(db, consent_id=consent.id) == 0
    assert await consents.face_gallery() == []
    with pytest.raises(Forbidden) as error:
        await consents.require(citizen, FACE)
    assert '身份证' in error.value.message  # the alternative is always named
    assert (await consents.list_for(citizen))[0].revoked_at == clock.now


async def test_revoking_twice_is_an_error(consents: ConsentService, queue: QueueService, hall: SmallHall) -> None:
    citizen, _ = await citizen_ticket(queue, hall.service_a, 1988)
    consent = await consents.grant(citizen, FACE, ONCE, text_version=V[FACE])
    assert consent.id is not None
    await consents.revoke(consent.id, citizen_id=citizen)
    with pytest.raises(Conflict) as error:
        await consents.revoke(consent.id, citizen_id=citizen)
    assert error.value.code == 'consent_already_revoked'


async def test_someone_else_cannot_revoke_and_learns_nothing(
    consents: ConsentService, queue: QueueService, hall: SmallHall
) -> None:
    owner, _ = await citizen_ticket(queue, hall.service_a, 1989)
    stranger, _ = await citizen_ticket(queue, hall.service_a, 1990)
    consent = await consents.grant(owner, DATA, SAME_KIND, text_version=V[DATA], service_code=hall.service_a)
    assert consent.id is not None
    with pytest.raises(NotFound) as theirs:
        await consents.revoke(consent.id, citizen_id=stranger)
    with pytest.raises(NotFound) as missing:
        await consents.revoke(consent.id + 1000, citizen_id=stranger)
    assert (theirs.value.code, theirs.value.message) == (missing.value.code, missing.value.message)
    await consents.require(owner, DATA, service_code=hall.service_a)
    assert await consents.list_for(stranger) == []


async def test_enrolment_needs_the_citizens_own_live_face_consent(
    consents: ConsentService, queue: QueueService, hall: SmallHall, db: Database
) -> None:
    citizen, _ = await citizen_ticket(queue, hall.service_a, 1991)
    other, _ = await citizen_ticket(queue, hall.service_a, 1992)
    theirs = await consents.grant(other, FACE, SAME_KIND, text_version=V[FACE])
    data = await consents.grant(citizen, DATA, SAME_KIND, text_version=V[DATA], service_code=hall.service_a)
    revoked = await consents.grant(citizen, FACE, SAME_KIND, text_version=V[FACE])
    assert theirs.id and data.id and revoked.id
    await consents.revoke(revoked.id, citizen_id=citizen)
    for consent_id in (theirs.id, data.id, revoked.id, 9999):
        with pytest.raises(Forbidden) as error:
            await consents.enrol_face(citizen, template(3), consent_id=consent_id)
        assert error.value.code == 'consent_required'
    assert await face_rows(db) == 0
    live = await consents.grant(citizen, FACE, SAME_KIND, text_version=V[FACE])
    assert live.id is not None
    for bad in (b'', b'x' * 4096):
        with pytest.raises(Invalid):
            await consents.enrol_face(citizen, bad, consent_id=live.id)
    assert await face_rows(db) == 0


async def test_templates_are_stored_only_encrypted(
    consents: ConsentService, queue: QueueService, hall: SmallHall, db: Database, cipher: FieldCipher
) -> None:
    citizen, _ = await citizen_ticket(queue, hall.service_a, 1993)
    consent = await consents.grant(citizen, FACE, SAME_KIND, text_version=V[FACE])
    assert consent.id is not None
    face = await consents.enrol_face(citizen, template(4), consent_id=consent.id)
    assert face.encoding_enc.startswith('k1:')
    assert cipher.decrypt_bytes(face.encoding_enc, context='face_encoding') == template(4)
    with pytest.raises(Exception):  # noqa: B017  (bound to its context: unusable as another field)
        cipher.decrypt_bytes(face.encoding_enc, context='citizen.phone')


async def test_gallery_holds_only_templates_under_live_consent(
    consents: ConsentService, queue: QueueService, hall: SmallHall, db: Database
) -> None:
    keeps, _ = await citizen_ticket(queue, hall.service_a, 1970)
    withdraws, _ = await citizen_ticket(queue, hall.service_a, 1971)
    once, _ = await citizen_ticket(queue, hall.service_a, 1972)
    for seed, citizen, scope in ((10, keeps, SAME_KIND), (11, withdraws, SAME_KIND), (12, once, ONCE)):
        consent = await consents.grant(citizen, FACE, scope, text_version=V[FACE])
        assert consent.id is not None
        await consents.enrol_face(citizen, template(seed), consent_id=consent.id)
        if citizen == withdraws:
            await consents.revoke(consent.id, citizen_id=citizen)
    assert await consents.face_gallery() == [(keeps, template(10)), (once, template(12))]
    await consents.require(once, FACE, service_code=hall.service_a, consume=True)
    assert await consents.face_gallery() == [(keeps, template(10))]
    assert await face_rows(db, citizen_id=once) == 0  # a used 'this time' consent leaves no template behind


async def test_consent_changes_are_in_the_audit_chain(
    db: Database, consents: ConsentService, queue: QueueService, hall: SmallHall
) -> None:
    citizen, _ = await citizen_ticket(queue, hall.service_a, 1985)
    granted = await consents.grant(citizen, FACE, SAME_KIND, text_version=FACE_TICKET_TEXT_VERSION)
    await consents.revoke(granted.id or 0, citizen_id=citizen)
    async with db.session() as s:
        rows = list((await s.execute(select(AuditEntry).order_by(col(AuditEntry.id)))).scalars())
    assert [row.action for row in rows] == [audit.ticket_action('issued'), audit.CONSENT_GRANTED, audit.CONSENT_REVOKED]
    rows = rows[1:]
    assert rows[0].target == f'consent:{granted.id}' and rows[1].detail['faces_deleted'] == 0
    assert (await audit.verify(db)).ok
