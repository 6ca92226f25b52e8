"""The append-only, hash-chained audit log of security-relevant actions.

Each row stores the SHA-256 of its own fields plus the hash of the row before it (`prev_hash`), so
editing a row breaks its hash and deleting or inserting a row breaks the next row's link. `verify`
finds the first such row.

What a chain alone cannot show: rows cut off at the END (the shorter chain is still consistent), and
rows appended by someone who can write the database and recompute SHA-256. Nothing else is stored
for that on purpose; operators who need it note the head hash that `python -m app.audit verify`
prints somewhere else (a ticket, a signed mail) and compare later.

Personal data: `actor`, `target` and `detail` must carry masked values only (app.security.masking:
110105********0021, 138****5678, citizen ids instead of names). As a safety net, anything that still
looks like a raw resident ID number or mobile number is masked (mask_text) before it is hashed and stored.
A value that is exactly a SHA-256 hex digest is the one exception: it is a hash (a certificate's content
hash, a keyed lookup), not a person's number, yet about 1 digest in 200 holds a run of digits between
hex letters that reads like a mobile number ('...e13812345678b...'). Masking it would store another
hash than the caller's, and a certificate checked against that hash would be called forged.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.clock import utcnow
from app.db import Database
from app.models.security import AuditEntry
from app.security.masking import mask_text

LOGIN_OK = 'login'
LOGIN_FAILED = 'login_failed'
LOCKOUT = 'lockout'
LOGOUT = 'logout'
UNMASK = 'unmask'
CONSENT_GRANTED = 'consent_granted'
CONSENT_REVOKED = 'consent_revoked'
PROXY_ACTION = 'proxy_action'
OUT_OF_ORDER_CALL = 'call_out_of_order'
REASSIGN = 'window_reassigned'
EXPORT = 'export'
CERTIFICATE_ISSUED = 'certificate_issued'
ROLE_DENIED = 'role_denied'

OUTCOME_OK = 'ok'
OUTCOME_DENIED = 'denied'
OUTCOME_FAILED = 'failed'

GENESIS_HASH = '0' * 64
ADVISORY_LOCK_KEY = 0x48414C4C41554454  # 'HALLAUDT': one PostgreSQL advisory lock serializes the chain
HASH_MISMATCH = 'hash mismatch: row was edited'
BROKEN_LINK = 'broken link: a row was deleted or inserted'

SHA256_HEX = re.compile(r'[0-9a-f]{64}')

_LIMITS = {'actor': 64, 'role': 16, 'action': 48, 'target': 128, 'outcome': 16, 'client_address': 64}


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of `verify`: `bad_row_id` and `reason` name the first row where the chain breaks."""

    ok: bool
    rows: int
    bad_row_id: int | None = None
    reason: str = ''
    head_hash: str = GENESIS_HASH


def _scrub(value: Any) -> Any:
    """Mask ID and mobile numbers in every string of a detail, except whole SHA-256 digests (module docstring)."""
    if isinstance(value, str):
        return value if SHA256_HEX.fullmatch(value) else mask_text(value)
    if isinstance(value, dict):
        return {key: _scrub(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    return value


def _normal_detail(detail: dict[str, Any] | None) -> dict[str, Any]:
    """Round-trip through JSON so the hashed value is exactly what the database gives back."""
    return _scrub(json.loads(json.dumps(detail or {}, allow_nan=False, ensure_ascii=False)))


def _utc(moment: datetime) -> datetime:
    if moment.utcoffset() is None:
        raise ValueError('audit time must be timezone-aware')
    return moment.astimezone(UTC)


def _fit(name: str, value: str) -> str:
    """Cut to the column's length (an audit row is never lost to an over-long value); enums become plain str."""
    return str(value)[: _LIMITS[name]]


def chain_hash(entry: AuditEntry) -> str:
    """SHA-256 over a canonical JSON of every field except the id (so renumbering is not an edit)."""
    payload = {
        'at': _utc(entry.at).isoformat(timespec='microseconds'),
        'actor': entry.actor,
        'role': entry.role,
        'action': entry.action,
        'target': entry.target,
        'outcome': entry.outcome,
        'detail': entry.detail,
        'client_address': entry.client_address,
        'prev_hash': entry.prev_hash,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(',', ':'), ensure_ascii=False)
    return hashlib.sha256(canonical.encode('utf-8')).hexdigest()


async def _lock_chain(session: AsyncSession) -> None:
    """Two writers must not chain onto the same row; SQLite already runs every transaction BEGIN IMMEDIATE."""
    if session.get_bind().dialect.name == 'postgresql':
        await session.execute(text('SELECT pg_advisory_xact_lock(:key)'), {'key': ADVISORY_LOCK_KEY})


async def _head_hash(session: AsyncSession) -> str:
    statement = select(AuditEntry.hash).order_by(col(AuditEntry.id).desc()).limit(1)
    return (await session.execute(statement)).scalar_one_or_none() or GENESIS_HASH


async def record(
    session: AsyncSession,
    *,
    actor: str,
    role: str,
    action: str,
    target: str = '',
    outcome: str = OUTCOME_OK,
    detail: dict[str, Any] | None = None,
    client_address: str = '',
    now: datetime,
) -> AuditEntry:
    """Append one entry inside the caller's transaction, so the action and its audit row commit together.

    Pass masked values only in `actor`, `target` and `detail` (never a raw ID number, phone or name).
    On PostgreSQL this takes a transaction-scoped advisory lock held until commit: call it as the
    last statement of the transaction to keep that window short.
    """
    await _lock_chain(session)
    entry = AuditEntry(
        at=_utc(now),
        actor=_fit('actor', mask_text(actor)),
        role=_fit('role', role),
        action=_fit('action', action),
        target=_fit('target', mask_text(target)),
        outcome=_fit('outcome', outcome),
        detail=_normal_detail(detail),
        client_address=_fit('client_address', client_address),
        prev_hash=await _head_hash(session),
        hash='',
    )
    entry.hash = chain_hash(entry)
    session.add(entry)
    await session.flush()
    return entry


class AuditLog:
    """Writes entries in their own transaction: for actions that must be recorded even when refused."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.clock = clock

    async def write(
        self,
        *,
        actor: str,
        role: str,
        action: str,
        target: str = '',
        outcome: str = OUTCOME_OK,
        detail: dict[str, Any] | None = None,
        client_address: str = '',
        now: datetime | None = None,
    ) -> AuditEntry:
        """Record and commit one entry (see `record`; masked values only)."""
        async with self.db.session() as session, session.begin():
            return await record(
                session,
                actor=actor,
                role=role,
                action=action,
                target=target,
                outcome=outcome,
                detail=detail,
                client_address=client_address,
                now=now or self.clock(),
            )


async def _batch(db: Database, *, after: int, size: int) -> list[AuditEntry]:
    """One short transaction per batch: on SQLite a transaction holds the write lock, so keep it brief."""
    statement = select(AuditEntry).where(col(AuditEntry.id) > after).order_by(col(AuditEntry.id)).limit(size)
    async with db.session() as session, session.begin():
        return list((await session.execute(statement)).scalars().all())


def _problem(entry: AuditEntry, expected_prev: str) -> str:
    if entry.prev_hash != expected_prev:
        return BROKEN_LINK
    if chain_hash(entry) != entry.hash:
        return HASH_MISMATCH
    return ''


async def verify(db: Database, *, batch_size: int = 1000) -> VerifyResult:
    """Walk the chain in id order, a batch at a time (constant memory), and stop at the first bad row."""
    rows, last_id, head = 0, 0, GENESIS_HASH
    while batch := await _batch(db, after=last_id, size=batch_size):
        for entry in batch:
            rows += 1
            if reason := _problem(entry, head):
                return VerifyResult(False, rows, entry.id, reason, head)
            head = entry.hash
        last_id = batch[-1].id or last_id
    return VerifyResult(True, rows, head_hash=head)


async def last_entries(db: Database, limit: int = 20) -> list[AuditEntry]:
    """The newest `limit` entries, oldest first."""
    statement = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
    async with db.session() as session, session.begin():
        newest = list((await session.execute(statement)).scalars().all())
    return newest[::-1]
