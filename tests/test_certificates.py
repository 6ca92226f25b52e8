"""E-certificates: the hash in the audit chain, and /verify's verdicts: genuine, altered, revoked, unknown."""

from __future__ import annotations

import datetime as dt
import itertools
import json

import pytest
from sqlalchemy import update
from sqlmodel import select

from app.db import Database
from app.models import ServiceItem
from app.models.cases import Certificate
from app.models.security import AuditEntry
from app.security.masking import mask_text
from app.services import audit, certificates
from app.services.certificates import ALTERED, CERTIFICATE_REVOKED, GENUINE, REVOKED, UNKNOWN, parse_presented
from app.services.errors import Conflict, Invalid
from app.services.journey import Journey
from app.services.queue import QueueService
from app.services.reasons import REASON_MAX
from tests import journeyhall
from tests.journeyhall import LOCAL_CITIZEN, WEDNESDAY_10AM, JourneyHall, served_ticket
from tests.security.insider import sha256_hash

journey_hall = journeyhall.journey_hall_fixture
journey_settings = journeyhall.journey_settings_fixture
journey = journeyhall.journey_fixture
hall_queue = journeyhall.hall_queue_fixture

CERTIFY = [
    {'stage': 0, 'kind': 'accept', 'name': '受理'},
    {'stage': 1, 'kind': 'certify', 'name': '制证', 'certificate': '测试许可证'},
]


HOLDER = '110105********' + LOCAL_CITIZEN[-4:]


async def _issue(db: Database, journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall) -> Certificate:
    """A certificate issued for a case of SVC-C (whose workflow is 受理 -> 制证)."""
    async with db.session() as s, s.begin():
        service = (await s.execute(select(ServiceItem).where(ServiceItem.code == 'SVC-C'))).scalar_one()
        service.workflow = CERTIFY
    ticket = await served_ticket(
        hall_queue, journey_hall.small.window_4, 'SVC-C', id_number=LOCAL_CITIZEN, phone='13700001111'
    )
    view = await journey.cases.open_case(ticket.ticket.id or 0, actor='w04')
    [certificate] = view.certificates
    return certificate


@pytest.fixture
async def number(db: Database, journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall) -> str:
    return (await _issue(db, journey, hall_queue, journey_hall)).number


def _hash_of(number: str, *, service: str) -> str:
    """The content hash an SVC-C certificate with this number gets when issued at WEDNESDAY_10AM."""
    draft = Certificate(
        case_id=0, number=number, kind='测试许可证', holder_masked=HOLDER, content_hash='', issued_at=WEDNESDAY_10AM
    )
    return certificates.content_hash(certificates.document(draft, issuer='测试局', service=service))


def _number_whose_hash_holds_a_mobile_number(day: dt.date, *, service: str) -> str:
    """The first number, counting up, whose certificate hash is a digest that mask_text would change.

    About 1 SHA-256 hex digest in 200 holds a run like '...e13812345678b...'; counting makes the pick fixed.
    """
    numbers = (f'HT{day:%Y%m%d}-{counter:010X}' for counter in itertools.count())
    return next(n for n in numbers if _changed_by_masking(_hash_of(n, service=service)))


def _changed_by_masking(text: str) -> bool:
    return mask_text(text) != text


async def test_an_issued_certificate_is_genuine_and_so_is_its_file(journey: Journey, number: str) -> None:
    result = await journey.certificates.verify(number)
    assert result.status == GENUINE and result.kind == '测试许可证' and result.issuer == '测试局'
    assert result.holder == HOLDER, 'the holder is shown masked'
    document = await journey.certificates.document(number)
    assert document is not None and document['verify'] == f'/verify/{number}' and len(document['sha256']) == 64
    presented = parse_presented(json.dumps(document, ensure_ascii=False))
    assert (await journey.certificates.verify(number, presented)).status == GENUINE


async def test_a_certificate_whose_hash_holds_a_mobile_number_pattern_is_still_genuine(
    db: Database,
    journey: Journey,
    hall_queue: QueueService,
    journey_hall: JourneyHall,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The audit log's privacy net used to mask such a digest in the issue record, so /verify called it altered."""
    async with db.read_session() as s:
        service = (await s.execute(select(ServiceItem).where(ServiceItem.code == 'SVC-C'))).scalar_one()
    chosen = _number_whose_hash_holds_a_mobile_number(WEDNESDAY_10AM.date(), service=service.name)
    monkeypatch.setattr(certificates, 'new_number', lambda day: chosen)
    certificate = await _issue(db, journey, hall_queue, journey_hall)
    assert certificate.number == chosen
    assert _changed_by_masking(certificate.content_hash), 'the digest this test is about'
    assert (await journey.certificates.verify(chosen)).status == GENUINE
    async with db.read_session() as s:
        entry = await s.get(AuditEntry, certificate.audit_entry_id)
    assert entry is not None and entry.detail['hash'] == certificate.content_hash, 'recorded as issued'
    document = await journey.certificates.document(chosen)
    assert document is not None
    presented = parse_presented(json.dumps(document, ensure_ascii=False))
    assert (await journey.certificates.verify(chosen, presented)).status == GENUINE
    assert (await audit.verify(db)).ok


async def test_a_presented_file_with_any_field_changed_is_altered(journey: Journey, number: str) -> None:
    document = await journey.certificates.document(number)
    assert document is not None
    for field, value in (('holder', '张三'), ('kind', '营业执照'), ('issued_at', '2020-01-01T00:00:00+00:00')):
        forged = {**document, field: value}
        assert (await journey.certificates.verify(number, forged)).status == ALTERED, field
    other = {**document, 'number': 'HT20260101-0000000000'}
    assert (await journey.certificates.verify(number, other)).status == ALTERED


async def test_a_certificate_row_edited_in_the_database_is_altered(db: Database, journey: Journey, number: str) -> None:
    async with db.session() as s, s.begin():
        await s.execute(update(Certificate).where(Certificate.number == number).values(kind='不动产权证书'))
    assert (await journey.certificates.verify(number)).status == ALTERED


async def test_an_edited_issue_record_is_altered_and_breaks_the_audit_chain(
    db: Database, journey: Journey, number: str
) -> None:
    async with db.session() as s, s.begin():
        entry = (await s.execute(select(AuditEntry).where(AuditEntry.action == audit.CERTIFICATE_ISSUED))).scalar_one()
        entry.detail = {**entry.detail, 'hash': '0' * 64}
    assert (await journey.certificates.verify(number)).status == ALTERED
    assert not (await audit.verify(db)).ok


async def test_a_forged_certificate_with_its_issue_record_rehashed_without_the_key_is_altered(
    db: Database, journey: Journey, number: str
) -> None:
    """Edit the certificate, put its new content hash into the issue record and recompute that row with SHA-256:
    the issue record's keyed hash no longer holds, so /verify says altered (and the chain names the row)."""
    async with db.session() as s, s.begin():
        await s.execute(update(Certificate).where(Certificate.number == number).values(kind='不动产权证书'))
    forged = await journey.certificates.document(number)
    assert forged is not None
    async with db.session() as s, s.begin():
        entry = (await s.execute(select(AuditEntry).where(AuditEntry.action == audit.CERTIFICATE_ISSUED))).scalar_one()
        entry.detail = {**entry.detail, 'hash': forged['sha256']}
        entry.hash = sha256_hash(entry)
        issue_row = entry.id
    assert (await journey.certificates.verify(number)).status == ALTERED
    assert (await journey.certificates.verify(number, forged)).status == ALTERED
    result = await audit.verify(db)
    assert (result.ok, result.bad_row_id, result.reason) == (False, issue_row, audit.HASH_MISMATCH)


async def test_a_revoked_certificate_says_so_and_the_revocation_is_audited(
    db: Database, journey: Journey, number: str
) -> None:
    with pytest.raises(Invalid):
        await journey.certificates.revoke(number, actor='rv_dept', role='reviewer', reason=' ')
    with pytest.raises(Invalid) as too_long:  # refused, not cut: what is audited is what was said
        await journey.certificates.revoke(number, actor='rv_dept', role='reviewer', reason='撤' * (REASON_MAX + 1))
    assert too_long.value.code == 'reason_too_long'
    assert (await journey.certificates.verify(number)).status != REVOKED
    await journey.certificates.revoke(number, actor='rv_dept', role='reviewer', reason='申请人撤回')
    result = await journey.certificates.verify(number)
    assert result.status == REVOKED and result.revoked_at is not None
    with pytest.raises(Conflict):
        await journey.certificates.revoke(number, actor='rv_dept', role='reviewer', reason='again')
    async with db.read_session() as s:
        actions = list((await s.execute(select(AuditEntry.action).order_by(AuditEntry.id))).scalars())
    assert actions[-1] == CERTIFICATE_REVOKED and (await audit.verify(db)).ok


async def test_an_unknown_number_and_a_file_that_is_not_json(journey: Journey, number: str) -> None:
    assert (await journey.certificates.verify('HT20990101-FFFFFFFFFF')).status == UNKNOWN
    for text in ('not json', '[1, 2]', '{' + '"a": 1,' * 5000 + '"b": 2}'):
        with pytest.raises(Invalid):
            parse_presented(text)


async def test_a_coordinated_forgery_of_the_row_its_issue_record_and_the_chain_after_it_is_altered(
    db: Database, journey: Journey, number: str
) -> None:
    """The insider's best: edit the certificate, write its new content hash into the issue record, and rehash
    that record and every row after it (plain SHA-256, relinked), so the chain looks whole to anyone without
    the key. /verify still says altered, for the stored certificate and for the forged file."""
    async with db.session() as s, s.begin():
        await s.execute(
            update(Certificate).where(Certificate.number == number).values(holder_masked='110105********0000')
        )
    forged = await journey.certificates.document(number)
    assert forged is not None
    async with db.session() as s, s.begin():
        issue = (await s.execute(select(AuditEntry).where(AuditEntry.action == audit.CERTIFICATE_ISSUED))).scalar_one()
        issue.detail = {**issue.detail, 'hash': forged['sha256']}
        later = (await s.execute(select(AuditEntry).where(AuditEntry.id >= issue.id).order_by(AuditEntry.id))).scalars()
        prev = issue.prev_hash
        for entry in later:
            entry.prev_hash = prev
            entry.hash = prev = sha256_hash(entry)
        issue_row = issue.id
    for presented in (None, forged):
        result = await journey.certificates.verify(number, presented)
        assert result.status == ALTERED and '签发记录缺失或被改动' in result.reason
    chain = await audit.verify(db)
    assert (chain.ok, chain.bad_row_id) == (False, issue_row)
