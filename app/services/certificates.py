"""E-certificates (电子证照): issued with their content hash in the audit chain, so anyone can check one.

The certificate's document is rebuilt from its stored fields, never kept as a free-form blob, and
its SHA-256 goes into the keyed audit chain when it is issued. `/verify` compares a presented
document (or the stored one) with that audit entry: genuine, altered, revoked, or unknown. Editing
the certificate row, the presented file, or the audit entry all show up as "altered".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from app.models.cases import Case, Certificate
from app.models.hall import Department, ServiceItem
from app.models.security import AuditEntry
from app.services import audit
from app.services.errors import Conflict, Invalid, NotFound
from app.services.reasons import checked_reason
from app.services.uow import Service

CERTIFICATE_REVOKED = 'certificate_revoked'
GENUINE = 'genuine'
ALTERED = 'altered'
REVOKED = 'revoked'
UNKNOWN = 'unknown'
HASH_FIELD = 'sha256'
MAX_PRESENTED_BYTES = 16_000


def verify_path(number: str) -> str:
    """What the QR printed on a certificate points to."""
    return f'/verify/{number}'


def new_number(day: dt.date) -> str:
    """HT + the hall's issue day + 40 random bits: unguessable, so numbers cannot be enumerated on /verify."""
    return f'HT{day:%Y%m%d}-{secrets.token_hex(5).upper()}'


def document(certificate: Certificate, *, issuer: str, service: str) -> dict[str, Any]:
    """The certificate's content as handed to the citizen; every field comes from stored columns."""
    return {
        'number': certificate.number,
        'kind': certificate.kind,
        'holder': certificate.holder_masked,
        'issuer': issuer,
        'service': service,
        'issued_at': certificate.issued_at.astimezone(dt.UTC).isoformat(timespec='seconds'),
        'verify': verify_path(certificate.number),
    }


def content_hash(content: dict[str, Any]) -> str:
    """SHA-256 of a canonical JSON (sorted keys, no spaces): the same document always hashes the same."""
    body = {key: value for key, value in content.items() if key != HASH_FIELD}
    canonical = json.dumps(body, sort_keys=True, separators=(',', ':'), ensure_ascii=False)
    return hashlib.sha256(canonical.encode('utf-8')).hexdigest()


async def _labels(session: AsyncSession, case: Case) -> tuple[str, str]:
    service = await session.get(ServiceItem, case.service_id)
    department = await session.get(Department, service.department_id) if service else None
    return (department.name if department else ''), (service.name if service else '')


async def issue(
    session: AsyncSession,
    *,
    case: Case,
    kind: str,
    holder_masked: str,
    actor: str,
    now: dt.datetime,
    day: dt.date | None = None,
) -> Certificate:
    """Create the certificate and its audit entry in the caller's transaction (they commit together).

    `day`: the hall's calendar day of `now`, for the number (default: the UTC day).
    """
    assert case.id is not None
    number = new_number(day or now.date())
    certificate = Certificate(
        case_id=case.id, number=number, kind=kind, holder_masked=holder_masked, content_hash='', issued_at=now
    )
    issuer, service = await _labels(session, case)
    certificate.content_hash = content_hash(document(certificate, issuer=issuer, service=service))
    session.add(certificate)
    await session.flush()
    entry = await audit.record(
        session,
        actor=actor,
        role='system',
        action=audit.CERTIFICATE_ISSUED,
        target=f'certificate:{certificate.number}',
        detail={'hash': certificate.content_hash, 'number': certificate.number, 'kind': kind, 'case_id': case.id},
        now=now,
    )
    certificate.audit_entry_id = entry.id
    return certificate


@dataclass(frozen=True)
class Verification:
    status: str  # genuine / altered / revoked / unknown
    number: str
    kind: str = ''
    holder: str = ''
    issuer: str = ''
    issued_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
    reason: str = ''


def check_presented_size(size: int) -> None:
    """A presented file larger than any certificate we issue is refused by its size, before it is read."""
    if size > MAX_PRESENTED_BYTES:
        raise Invalid('certificate_too_large')


def parse_presented(text: str) -> dict[str, Any]:
    """A presented certificate file (JSON); anything else is `Invalid`, never a verdict."""
    check_presented_size(len(text.encode('utf-8')))
    try:
        content = json.loads(text)
    except ValueError:
        raise Invalid('certificate_not_json') from None
    if not isinstance(content, dict):
        raise Invalid('certificate_not_json')
    return content


class CertificateService(Service):
    async def document(self, number: str) -> dict[str, Any] | None:
        """The certificate file a citizen downloads (its hash included for convenience; verify ignores it)."""
        async with self.db.read_session() as s:
            found = await self._load(s, number)
            if found is None:
                return None
            certificate, issuer, service = found
        content = document(certificate, issuer=issuer, service=service)
        return {**content, HASH_FIELD: content_hash(content)}

    async def for_case(self, case_id: int) -> list[Certificate]:
        async with self.db.read_session() as s:
            statement = select(Certificate).where(Certificate.case_id == case_id).order_by(Certificate.id)
            return list((await s.execute(statement)).scalars())

    async def verify(self, number: str, presented: dict[str, Any] | None = None) -> Verification:
        """Check a certificate by number, and a presented copy of it when given, against the audit chain."""
        number = number.strip()[:64]
        async with self.db.read_session() as s:
            found = await self._load(s, number)
            if found is None:
                return Verification(UNKNOWN, number, reason='没有这个编号的证照 / no certificate with this number')
            certificate, issuer, service = found
            entry = await s.get(AuditEntry, certificate.audit_entry_id) if certificate.audit_entry_id else None
            key = audit.key_of(s)
        result = Verification(
            GENUINE,
            number,
            kind=certificate.kind,
            holder=certificate.holder_masked,
            issuer=issuer,
            issued_at=certificate.issued_at,
            revoked_at=certificate.revoked_at,
        )
        recorded = _recorded_hash(entry, number, key)
        if recorded is None:
            return _with(result, ALTERED, '审计链中的签发记录缺失或被改动 / issue record missing or edited')
        if content_hash(document(certificate, issuer=issuer, service=service)) != recorded:
            return _with(result, ALTERED, '证照登记信息与签发记录不一致 / stored certificate differs from its issue')
        if presented is not None and (presented.get('number') != number or content_hash(presented) != recorded):
            return _with(result, ALTERED, '所持证照内容与签发记录不一致 / presented certificate was altered')
        if certificate.revoked_at is not None:
            return _with(result, REVOKED, '该证照已被注销 / this certificate was revoked')
        return result

    async def revoke(self, number: str, *, actor: str, role: str, reason: str) -> Certificate:
        reason = checked_reason(reason, required=True)
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            certificate = (
                await s.execute(select(Certificate).where(Certificate.number == number).with_for_update())
            ).scalar_one_or_none()
            if certificate is None:
                raise NotFound('unknown_certificate')
            if certificate.revoked_at is not None:
                raise Conflict('certificate_revoked')
            certificate.revoked_at = now
            await audit.record(
                s,
                actor=actor,
                role=role,
                action=CERTIFICATE_REVOKED,
                target=f'certificate:{number}',
                detail={'reason': reason},
                now=now,
            )
        return certificate

    @staticmethod
    async def _load(s: AsyncSession, number: str) -> tuple[Certificate, str, str] | None:
        certificate = (await s.execute(select(Certificate).where(Certificate.number == number))).scalar_one_or_none()
        if certificate is None:
            return None
        case = await s.get(Case, certificate.case_id)
        assert case is not None
        issuer, service = await _labels(s, case)
        return certificate, issuer, service


def _recorded_hash(entry: AuditEntry | None, number: str, key: bytes) -> str | None:
    """The hash written when the certificate was issued, if that audit row is intact (its keyed hash holds)
    and about this certificate."""
    if entry is None or entry.action != audit.CERTIFICATE_ISSUED or audit.chain_hash(entry, key) != entry.hash:
        return None
    if entry.detail.get('number') != number:
        return None
    value = entry.detail.get('hash')
    return value if isinstance(value, str) else None


def _with(result: Verification, status: str, reason: str) -> Verification:
    return Verification(
        status,
        result.number,
        kind=result.kind,
        holder=result.holder,
        issuer=result.issuer,
        issued_at=result.issued_at,
        revoked_at=result.revoked_at,
        reason=reason,
    )
