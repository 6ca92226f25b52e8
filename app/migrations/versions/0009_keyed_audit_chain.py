"""keyed audit chain

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 09:00:00.000000

Until now each audit row held a plain SHA-256 over its fields and the previous row's hash: anyone
who could write the database could edit a row and recompute every hash after it. From here on the
chain is keyed: HMAC-SHA256 with the audit key (settings.key(Purpose.AUDIT)). This migration checks
the legacy chain as it stands, re-chains every row with the key, and appends one row (action
`audit_rechained`) saying so: how many rows, whether the legacy chain was intact (else its first bad
row and why), and the legacy head hash, so a head hash written down before still compares. An empty
table needs nothing (no row, no key). Downgrade goes back to plain SHA-256 the same way (a row
`audit_unkeyed` saying whether the keyed chain was intact).

The hashing below is a frozen copy of app/services/audit.py's at this revision: a migration keeps
doing what it did when it was written, whatever the app's code becomes.
"""

import datetime as dt
import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS_HASH = '0' * 64
ADVISORY_LOCK_KEY = 0x48414C4C41554454  # the chain's lock (app/services/audit.py)
BATCH = 1000
HASH_MISMATCH = 'hash mismatch: row was edited'
BROKEN_LINK = 'broken link: a row was deleted or inserted'
SHA256 = 'sha256'
KEYED = 'hmac-sha256'

AUDIT = sa.table(
    'audit_entry',
    sa.column('id', sa.Integer()),
    sa.column('at', sqlmodel.sql.sqltypes.UTCDateTime()),
    sa.column('actor', sa.String()),
    sa.column('role', sa.String()),
    sa.column('action', sa.String()),
    sa.column('target', sa.String()),
    sa.column('outcome', sa.String()),
    sa.column('detail', sa.JSON()),
    sa.column('client_address', sa.String()),
    sa.column('prev_hash', sa.String()),
    sa.column('hash', sa.String()),
)

Hasher = Callable[[Mapping[str, Any], str], str]
log = logging.getLogger('alembic.runtime.migration')


def _canonical(row: Mapping[str, Any], prev_hash: str) -> bytes:
    payload = {
        'at': row['at'].astimezone(dt.UTC).isoformat(timespec='microseconds'),
        'actor': row['actor'],
        'role': row['role'],
        'action': row['action'],
        'target': row['target'],
        'outcome': row['outcome'],
        'detail': row['detail'],
        'client_address': row['client_address'],
        'prev_hash': prev_hash,
    }
    return json.dumps(payload, sort_keys=True, separators=(',', ':'), ensure_ascii=False).encode('utf-8')


def _sha256(row: Mapping[str, Any], prev_hash: str) -> str:
    return hashlib.sha256(_canonical(row, prev_hash)).hexdigest()


def _keyed(key: bytes) -> Hasher:
    def keyed(row: Mapping[str, Any], prev_hash: str) -> str:
        return hmac.new(key, _canonical(row, prev_hash), hashlib.sha256).hexdigest()

    return keyed


def _audit_key() -> bytes:
    from app.security.keys import Purpose
    from app.settings import get_settings

    return get_settings().key(Purpose.AUDIT)


def _rechain(connection: sa.Connection, old: Hasher, new: Hasher, *, action: str, schemes: tuple[str, str]) -> None:
    """Check every row with `old` (as `verify` did), rewrite its links with `new`, then append the row that says so."""
    if connection.dialect.name == 'postgresql':
        connection.execute(sa.text('SELECT pg_advisory_xact_lock(:key)'), {'key': ADVISORY_LOCK_KEY})
    rewrite = (
        sa.update(AUDIT)
        .where(AUDIT.c.id == sa.bindparam('row_id'))
        .values(prev_hash=sa.bindparam('new_prev'), hash=sa.bindparam('new_hash'))
    )
    rows, last_id, old_head, new_head = 0, 0, GENESIS_HASH, GENESIS_HASH
    bad_row, reason = None, ''
    select = sa.select(AUDIT).order_by(AUDIT.c.id).limit(BATCH)
    while batch := connection.execute(select.where(AUDIT.c.id > last_id)).mappings().all():
        changes = []
        for row in batch:
            rows += 1
            if bad_row is None and row['prev_hash'] != old_head:
                bad_row, reason = row['id'], BROKEN_LINK
            elif bad_row is None and old(row, row['prev_hash']) != row['hash']:
                bad_row, reason = row['id'], HASH_MISMATCH
            old_head = row['hash']
            new_hash = new(row, new_head)
            changes.append({'row_id': row['id'], 'new_prev': new_head, 'new_hash': new_hash})
            new_head = new_hash
        connection.execute(rewrite, changes)
        last_id = batch[-1]['id']
    if bad_row is not None:
        log.warning('audit chain was not intact before %s: row %s, %s', schemes[1], bad_row, reason)
    note = {
        'at': dt.datetime.now(dt.UTC),
        'actor': 'system:migration',
        'role': 'system',
        'action': action,
        'target': 'audit_entry',
        'outcome': 'ok',
        'detail': {
            'from': schemes[0],
            'to': schemes[1],
            'rows': rows,
            'intact': bad_row is None,
            'first_bad_row': bad_row,
            'reason': reason,
            'head_hash': old_head,
        },
        'client_address': '',
    }
    connection.execute(sa.insert(AUDIT).values(**note, prev_hash=new_head, hash=new(note, new_head)))


def _is_empty(connection: sa.Connection) -> bool:
    """A new database has no rows to re-chain: it needs no key and gets no row."""
    return connection.execute(sa.select(sa.func.count()).select_from(AUDIT)).scalar_one() == 0


def upgrade() -> None:
    connection = op.get_bind()
    if not _is_empty(connection):
        _rechain(connection, _sha256, _keyed(_audit_key()), action='audit_rechained', schemes=(SHA256, KEYED))


def downgrade() -> None:
    connection = op.get_bind()
    if not _is_empty(connection):
        _rechain(connection, _keyed(_audit_key()), _sha256, action='audit_unkeyed', schemes=(KEYED, SHA256))
