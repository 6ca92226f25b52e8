"""The append-only, keyed hash chain of security-relevant actions and of every queue transition.

Each row stores HMAC-SHA256 (the audit key, settings.key(Purpose.AUDIT)) over its own fields plus
the hash of the row before it (`prev_hash`), so editing a row breaks its hash and deleting or
inserting a row breaks the next row's link; without the key nobody can compute a hash that fits.
`verify` finds the first such row.

What the chain alone cannot show: rows cut off at the END (the shorter chain is still consistent).
Signed anchors of the head, kept outside the database (app/services/audit_anchors.py), show that:
`verify` compares each anchored row with its anchor (`Checkpoint`). See docs/audit.md for what an
insider with database access can and cannot hide.

The key: every session of the app's `Database` carries it in `Session.info` (app/db.py), so `record`
joins any service's transaction without a key parameter; a session without it raises
`AuditKeyMissing` (never an unkeyed hash).

Personal data: `actor`, `target` and `detail` must carry masked values only (app.security.masking:
110105********0021, 138****5678, citizen ids instead of names). As a safety net, anything that still
looks like a raw resident ID number or mobile number is masked (mask_text) before it is hashed and stored.
The client address is never stored as given: only its network and a keyed digest (app.security.addresses.
stored_address), also before hashing. Rows written before addresses were masked keep theirs: rewriting them
would break their hashes (docs/privacy.md says so).
A value that is exactly a SHA-256 hex digest is the one exception: it is a hash (a certificate's content
hash, a keyed lookup), not a person's number, yet about 1 digest in 200 holds a run of digits between
hex letters that reads like a mobile number ('...e13812345678b...'). Masking it would store another
hash than the caller's, and a certificate checked against that hash would be called forged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.db import AUDIT_HEAD, AUDIT_KEY, AuditHead, Database
from app.models.people import Role
from app.models.rows import new_row
from app.models.security import AuditEntry
from app.security.addresses import address_key, stored_address
from app.security.masking import mask_text
from app.services.errors import Forbidden
from app.services.principal import Principal
from app.services.uow import Service

LOGIN_OK = 'login'
LOGIN_FAILED = 'login_failed'
LOCKOUT = 'lockout'
LOGOUT = 'logout'
UNMASK = 'unmask'
CONSENT_GRANTED = 'consent_granted'
CONSENT_REVOKED = 'consent_revoked'
RATED = 'rated'  # a citizen's rating, with the verified path it came through
PROXY_ACTION = 'proxy_action'
OUT_OF_ORDER_CALL = 'call_out_of_order'
REASSIGN = 'window_reassigned'
EXPORT = 'export'
CERTIFICATE_ISSUED = 'certificate_issued'
ROLE_DENIED = 'role_denied'
RECHAINED = 'audit_rechained'  # migration 0009: the legacy SHA-256 chain was re-chained with the key

OUTCOME_OK = 'ok'
OUTCOME_DENIED = 'denied'
OUTCOME_FAILED = 'failed'

GENESIS_HASH = '0' * 64
ADVISORY_LOCK_KEY = 0x48414C4C41554454  # 'HALLAUDT': one PostgreSQL advisory lock serializes the chain
HASH_MISMATCH = 'hash mismatch: row was edited'
BROKEN_LINK = 'broken link: a row was deleted or inserted'
TRUNCATED = 'truncated: an anchored row is missing (the tail was cut off)'
REWRITTEN = 'truncated or rewritten: an anchored row differs from its anchor'

SHA256_HEX = re.compile(r'[0-9a-f]{64}')

_LIMITS = {'actor': 64, 'role': 16, 'action': 48, 'target': 128, 'outcome': 16, 'client_address': 64}


class AuditKeyMissing(RuntimeError):
    """The session (or Database) has no audit key: nothing may be chained or checked without it."""

    def __init__(self) -> None:
        super().__init__('审计密钥缺失 / no audit key: build the Database with audit_key=settings.key(Purpose.AUDIT)')


@dataclass(frozen=True)
class Checkpoint:
    """What an anchor vouches for: row `last_id` had `hash`, and `rows` rows had ids up to it."""

    last_id: int
    hash: str
    rows: int


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of `verify`: `bad_row_id` and `reason` name the first row where the chain breaks.

    `checkpoints` counts the anchors that were checked and held (a truncation names the anchored row).
    """

    ok: bool
    rows: int
    bad_row_id: int | None = None
    reason: str = ''
    head_hash: str = GENESIS_HASH
    checkpoints: int = 0


def ticket_action(kind: str) -> str:
    """The audit action of a queue transition (TicketEvent.kind); an out-of-order call keeps its own name."""
    return OUT_OF_ORDER_CALL if kind == 'called_out_of_order' else f'ticket_{kind}'


def window_action(kind: str) -> str:
    """The audit action of a window change (WindowEvent.kind): window_state, window_services."""
    return f'window_{kind}'


def key_of(session: AsyncSession) -> bytes:
    """The audit key the session was opened with (app/db.py); without one, refuse loudly."""
    key = session.info.get(AUDIT_KEY)
    if not isinstance(key, bytes) or not key:
        raise AuditKeyMissing()
    return key


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


def chain_hash(entry: AuditEntry, key: bytes) -> str:
    """HMAC-SHA256 with the audit key over the row's canonical payload; without the key nobody can make a
    forged or edited row fit the chain."""
    return hmac.new(key, canonical_payload(entry), hashlib.sha256).hexdigest()


def canonical_payload(entry: AuditEntry) -> bytes:
    """A canonical JSON of every field except the id (so renumbering is not an edit): what the chain hashes."""
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
    return json.dumps(payload, sort_keys=True, separators=(',', ':'), ensure_ascii=False).encode('utf-8')


async def _lock_chain(session: AsyncSession) -> None:
    """Two writers must not chain onto the same row; SQLite already runs every transaction BEGIN IMMEDIATE."""
    if session.get_bind().dialect.name == 'postgresql':
        await session.execute(text('SELECT pg_advisory_xact_lock(:key)'), {'key': ADVISORY_LOCK_KEY})


def _head_of_chain() -> Any:
    """The newest row's hash (GENESIS_HASH for an empty chain), as a SQL expression."""
    newest = select(AuditEntry.hash).order_by(col(AuditEntry.id).desc()).limit(1).scalar_subquery()
    return func.coalesce(newest, GENESIS_HASH)


async def _head_hash(session: AsyncSession) -> str:
    return (await session.execute(select(_head_of_chain()))).scalar_one()


def _append_if_head_statement() -> Any:
    """INSERT ... SELECT <the row> WHERE <the head> = :expected_head RETURNING id, built once (a bound statement:
    nothing is rebuilt nor re-keyed per row)."""
    values = select(*(bindparam(c.name, type_=c.type).label(c.name) for c in _CHAINED_COLUMNS)).where(
        _head_of_chain() == bindparam('expected_head')
    )
    return (
        insert(AuditEntry.__table__)  # type: ignore[attr-defined]
        .from_select([c.name for c in _CHAINED_COLUMNS], values)
        .returning(AuditEntry.__table__.c.id)  # type: ignore[attr-defined]
    )


_CHAINED_COLUMNS = [c for c in AuditEntry.__table__.columns if c.name != 'id']  # type: ignore[attr-defined]
_APPEND_IF_HEAD = _append_if_head_statement()


async def _append_if_head(session: AsyncSession, entry: AuditEntry) -> int | None:
    """INSERT the entry only if its `prev_hash` is still the chain's head (one statement); its id, or None."""
    row = {c.name: getattr(entry, c.name) for c in _CHAINED_COLUMNS}
    return (await session.execute(_APPEND_IF_HEAD, {**row, 'expected_head': entry.prev_hash})).scalar_one_or_none()


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

    Pass masked values only in `actor`, `target` and `detail` (never a raw ID number, phone or name);
    `client_address` is the caller's address as resolved (it is stored as network and keyed digest only).
    On PostgreSQL this takes a transaction-scoped advisory lock held until commit: call it as the
    last statement of the transaction to keep that window short. Costs one statement: an INSERT that
    chains onto the head this process saw last (`AuditHead`, app/db.py) and checks in SQL that it still
    is the head; when another writer (a process, a rolled-back transaction) moved it, the head is read
    and the row chained onto it. Raises AuditKeyMissing when the session has no audit key.
    """
    key = key_of(session)
    await _lock_chain(session)
    seen = session.info.get(AUDIT_HEAD)
    head = seen if isinstance(seen, AuditHead) else AuditHead()
    entry = new_row(
        AuditEntry,
        at=_utc(now),
        actor=_fit('actor', mask_text(actor)),
        role=_fit('role', role),
        action=_fit('action', action),
        target=_fit('target', mask_text(target)),
        outcome=_fit('outcome', outcome),
        detail=_normal_detail(detail),
        client_address=_fit('client_address', stored_address(client_address, address_key(key))),
        prev_hash=head.hash or await _head_hash(session),
        hash='',
    )
    entry.hash = chain_hash(entry, key)
    entry.id = await _append_if_head(session, entry)
    if entry.id is None:  # the head moved since this process last wrote: chain onto the one there is
        entry.prev_hash = await _head_hash(session)
        entry.hash = chain_hash(entry, key)
        entry.id = await _append_if_head(session, entry)
        if entry.id is None:
            raise RuntimeError('the audit chain moved while its writer held the lock')
    head.hash = entry.hash
    return entry


async def record_for(
    session: AsyncSession,
    caller: Principal,
    *,
    action: str,
    target: str = '',
    outcome: str = OUTCOME_OK,
    detail: dict[str, Any] | None = None,
    now: datetime,
) -> AuditEntry:
    """`record` of what the caller did: the caller's name, role and address are the row's actor, role and
    client address (the same row `record` writes from them one by one)."""
    return await record(
        session,
        actor=caller.name,
        role=caller.role,
        action=action,
        target=target,
        outcome=outcome,
        detail=detail,
        client_address=caller.address,
        now=now,
    )


class AuditLog(Service):
    """Writes entries in their own transaction: for actions that must be recorded even when refused."""

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
        async with self._transaction() as uow:
            session = uow.session
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

    async def write_for(
        self,
        caller: Principal,
        *,
        action: str,
        target: str = '',
        outcome: str = OUTCOME_OK,
        detail: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """Record and commit what the caller did (see `record_for`)."""
        async with self._transaction() as uow:
            return await record_for(
                uow.session, caller, action=action, target=target, outcome=outcome, detail=detail, now=self.clock()
            )

    async def require(self, caller: Principal, *roles: Role, action: str, target: str) -> None:
        """`caller.require(*roles)`, with a refusal audited: probing by other roles leaves a trace."""
        try:
            caller.require(*roles)
        except Forbidden:
            await self.write_for(caller, action=ROLE_DENIED, target=f'{action}:{target}', outcome=OUTCOME_DENIED)
            raise


async def _batch(db: Database, *, after: int, size: int) -> list[AuditEntry]:
    """One short read transaction per batch: checking never holds (nor waits for) the SQLite write lock."""
    statement = select(AuditEntry).where(col(AuditEntry.id) > after).order_by(col(AuditEntry.id)).limit(size)
    async with db.read_session() as session, session.begin():
        return list((await session.execute(statement)).scalars().all())


def _problem(entry: AuditEntry, expected_prev: str, key: bytes) -> str:
    if entry.prev_hash != expected_prev:
        return BROKEN_LINK
    if not hmac.compare_digest(chain_hash(entry, key), entry.hash):
        return HASH_MISMATCH
    return ''


def _anchored_problem(entry: AuditEntry, rows: int, expected: list[Checkpoint]) -> str:
    """An anchored row must still be the row its anchor saw, at the same place in the chain."""
    return REWRITTEN if any(c.hash != entry.hash or c.rows != rows for c in expected) else ''


async def verify(db: Database, *, checkpoints: Iterable[Checkpoint] = (), batch_size: int = 1000) -> VerifyResult:
    """Walk the chain in id order, a batch at a time (constant memory), and stop at the first bad row.

    Each checkpoint (from a signed anchor) must find its row unchanged; an anchored row that is gone
    means the tail was cut (TRUNCATED). Needs the Database's audit key (AuditKeyMissing otherwise).
    """
    if not db.audit_key:
        raise AuditKeyMissing()
    pending: dict[int, list[Checkpoint]] = {}
    for checkpoint in checkpoints:
        pending.setdefault(checkpoint.last_id, []).append(checkpoint)
    held = len(pending.pop(0, []))  # an anchor of the empty chain vouches for nothing
    rows, last_id, head = 0, 0, GENESIS_HASH
    while batch := await _batch(db, after=last_id, size=batch_size):
        for entry in batch:
            rows += 1
            if reason := _problem(entry, head, db.audit_key):
                return VerifyResult(False, rows, entry.id, reason, head, held)
            if (expected := pending.pop(entry.id or 0, None)) is not None:
                if reason := _anchored_problem(entry, rows, expected):
                    return VerifyResult(False, rows, entry.id, reason, head, held)
                held += len(expected)
            head = entry.hash
        last_id = batch[-1].id or last_id
    if pending:
        return VerifyResult(False, rows, min(pending), TRUNCATED, head, held)
    return VerifyResult(True, rows, head_hash=head, checkpoints=held)


async def last_entries(db: Database, limit: int = 20) -> list[AuditEntry]:
    """The newest `limit` entries, oldest first."""
    statement = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
    async with db.read_session() as session, session.begin():
        newest = list((await session.execute(statement)).scalars().all())
    return newest[::-1]
