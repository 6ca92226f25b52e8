"""The audit chain, attacked by someone who can write the database.

Each row is chained with HMAC-SHA256 under the audit key, so any edit, deletion or forged row is
found at its row, even when the attacker recomputes hashes (plain SHA-256: they do not hold the
key); signed anchors kept outside the database show a cut-off tail. Every queue transition is a
row of the chain, written in the transaction of the transition itself.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import closing, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from alembic import command
from sqlalchemy import func, text, update
from sqlmodel import col, select

from app import jobs
from app.db import Database
from app.migrate import alembic_config, upgrade_async
from app.models import TicketCreate
from app.models.hall import WindowState
from app.models.security import AuditEntry
from app.models.ticket import Ticket
from app.security.masking import mask_text
from app.services import audit, audit_anchors
from app.services.audit_anchors import AuditAnchors
from app.services.errors import Conflict
from app.services.queue import QueueService
from app.settings import ROOT, get_settings
from tests.apphost import TEST_SECRET, running_app
from tests.callers import DESK, as_staff, deps_for
from tests.conftest import AUDIT_KEY, FakeClock, audited
from tests.dbs import PostgresDatabase
from tests.factories import SmallHall
from tests.idnumbers import make_id
from tests.security.insider import sha256_hash
from tests.security.routes import audit_rows, bearer, sqlite_path, token

SECRET = os.environ.get('SECRET_KEY') or TEST_SECRET  # what the apps and AUDIT_KEY of this run use
OTHER_KEY = hashlib.sha256(b'not the audit key').digest()


async def _chain(log: audit.AuditLog, count: int = 5) -> list[AuditEntry]:
    entries = []
    for n in range(count):
        entries.append(
            await log.write(
                actor=f'w{n:02d}',
                role='staff',
                action=audit.UNMASK if n % 2 else audit.LOGIN_OK,
                target=f'citizen:{n}',
                detail={'reason': '窗口核验', 'n': n, 'nested': {'b': [1, 2.5], 'a': None}},
                client_address=f'10.0.0.{n}',
            )
        )
    return entries


async def _rows(db: Database) -> list[AuditEntry]:
    async with db.session() as s:
        return list((await s.execute(select(AuditEntry).order_by(col(AuditEntry.id)))).scalars().all())


async def _sql(db: Database, statement: str, **params: object) -> None:
    """Raw write access to the database, past every service (what an insider with a SQL console has)."""
    async with db.engine.begin() as connection:
        await connection.execute(text(statement), params)


async def _add_row(db: Database, entry: AuditEntry) -> None:
    async with db.session() as s, s.begin():
        s.add(entry)


async def _rechain(db: Database, hasher: Any) -> None:
    """Recompute every row's link and hash with `hasher` and write them back with raw SQL."""
    prev = audit.GENESIS_HASH
    for entry in await _rows(db):
        entry.prev_hash = prev
        prev = hasher(entry)
        await _sql(
            db, 'UPDATE audit_entry SET prev_hash = :p, hash = :h WHERE id = :i', p=entry.prev_hash, h=prev, i=entry.id
        )


def _anchors(db: Database, tmp_path: Path, **kwargs: Any) -> AuditAnchors:
    return AuditAnchors(db, path=tmp_path / 'anchors' / 'audit-anchors.jsonl', **kwargs)


@pytest.fixture
def log(db: Database, clock: FakeClock) -> audit.AuditLog:
    return audit.AuditLog(deps_for(db, clock=clock))


# --- the chain -----------------------------------------------------------------------------------------------------


async def test_empty_chain_is_intact(db: Database) -> None:
    assert await audit.verify(db) == audit.VerifyResult(True, 0)


async def test_chain_of_records_verifies(db: Database, log: audit.AuditLog) -> None:
    entries = await _chain(log)
    assert entries[0].prev_hash == audit.GENESIS_HASH
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
    result = await audit.verify(db, batch_size=2)  # several batches: the walk carries the link across them
    assert result == audit.VerifyResult(True, 5, head_hash=entries[-1].hash)


async def test_stored_rows_hash_as_written_with_the_key(db: Database, log: audit.AuditLog) -> None:
    """What comes back from the database (times, JSON, enums) hashes to what was written, and only with the key."""
    written = await _chain(log, 3)
    stored = await _rows(db)
    assert [audit.chain_hash(e, AUDIT_KEY) for e in stored] == [e.hash for e in written]
    assert all(sha256_hash(e) != e.hash and audit.chain_hash(e, OTHER_KEY) != e.hash for e in stored)
    assert stored[1].detail == {'reason': '窗口核验', 'n': 1, 'nested': {'b': [1, 2.5], 'a': None}}


async def test_a_database_without_the_audit_key_refuses_to_write_or_check(db: Database, clock: FakeClock) -> None:
    """No key, no row: never a fallback to an unkeyed hash."""
    keyless = Database(db.url)
    try:
        with pytest.raises(audit.AuditKeyMissing):
            await audit.AuditLog(deps_for(keyless, clock=clock)).write(actor='w01', role='staff', action=audit.EXPORT)
        with pytest.raises(audit.AuditKeyMissing):
            await audit.verify(keyless)
        with pytest.raises(audit.AuditKeyMissing):
            AuditAnchors(keyless, path=Path('unused.jsonl'))
    finally:
        await keyless.dispose()
    assert await _rows(db) == []


async def test_a_chain_checked_with_another_key_is_wrong_from_its_first_row(db: Database, log: audit.AuditLog) -> None:
    await _chain(log, 3)
    other = Database(db.url, audit_key=OTHER_KEY)
    try:
        result = await audit.verify(other)
    finally:
        await other.dispose()
    assert (result.ok, result.bad_row_id, result.reason) == (False, 1, audit.HASH_MISMATCH)


async def test_record_joins_the_callers_transaction(db: Database, clock: FakeClock) -> None:
    with pytest.raises(RuntimeError):
        async with db.session() as s, s.begin():
            await audit.record(s, actor='w01', role='staff', action=audit.EXPORT, now=clock())
            raise RuntimeError('the audited action failed')
    assert await _rows(db) == []
    async with db.session() as s, s.begin():
        await audit.record(s, actor='w01', role='staff', action=audit.EXPORT, now=clock())
        await audit.record(s, actor='w01', role='staff', action=audit.EXPORT, now=clock())
    assert await audit.verify(db) == audit.VerifyResult(True, 2, head_hash=(await _rows(db))[-1].hash)


async def test_raw_personal_data_is_masked_before_hashing(db: Database, log: audit.AuditLog) -> None:
    entry = await log.write(
        actor='110105194912310021',
        role='staff',
        action=audit.LOGIN_FAILED,
        outcome='bad_credentials',
        target='phone 13812341234',
        detail={'note': ['ID 11010519491231002X']},
    )
    stored = (await _rows(db))[0]
    raw = f'{stored.actor} {stored.target} {stored.detail}'
    for secret in ('110105194912310021', '13812341234', '11010519491231002X'):
        assert secret not in raw
    assert stored.hash == entry.hash == audit.chain_hash(stored, AUDIT_KEY)
    assert (await audit.verify(db)).ok


async def test_the_client_address_is_masked_before_hashing_and_equal_addresses_stay_equal(
    db: Database, log: audit.AuditLog
) -> None:
    for address in ('198.51.100.23', '198.51.100.23', '2001:db8:7:1::9', ''):
        await log.write(actor='w01', role='staff', action=audit.LOGIN_FAILED, client_address=address)
    stored = await _rows(db)
    addresses = [row.client_address for row in stored]
    assert addresses == [audited('198.51.100.23')] * 2 + [audited('2001:db8:7:1::9'), '']
    assert addresses[0].startswith('198.51.100.0/24#') and addresses[2].startswith('2001:db8:7::/48#')
    assert not any('198.51.100.23' in a or '1::9' in a for a in addresses)
    assert all(row.hash == audit.chain_hash(row, AUDIT_KEY) for row in stored)  # hashed as stored
    assert (await audit.verify(db)).ok


DIGEST_WITH_A_PHONE = 'ab' * 10 + 'e13812341234f' + 'cd' * 15 + 'e'  # 64 hex chars, as SHA-256 gives 1 in 200


async def test_a_sha256_digest_whose_digits_read_like_a_phone_is_stored_as_given(
    db: Database, log: audit.AuditLog
) -> None:
    """A certificate's content hash must come back exactly, or /verify calls a genuine certificate altered."""
    assert len(DIGEST_WITH_A_PHONE) == 64 and mask_text(DIGEST_WITH_A_PHONE) != DIGEST_WITH_A_PHONE
    entry = await log.write(
        actor='system', role='system', action=audit.CERTIFICATE_ISSUED, detail={'hash': DIGEST_WITH_A_PHONE}
    )
    stored = (await _rows(db))[0]
    assert stored.detail == entry.detail == {'hash': DIGEST_WITH_A_PHONE}
    assert stored.hash == audit.chain_hash(stored, AUDIT_KEY) and (await audit.verify(db)).ok


@pytest.mark.parametrize(
    'value',
    [
        DIGEST_WITH_A_PHONE + 'a',  # 65 characters
        DIGEST_WITH_A_PHONE[1:],  # 63 characters
        DIGEST_WITH_A_PHONE.upper(),
        DIGEST_WITH_A_PHONE[:-1] + 'g',  # not hex
        f'{DIGEST_WITH_A_PHONE}\n',
        f' {DIGEST_WITH_A_PHONE}',
        f'{DIGEST_WITH_A_PHONE} 13812341234',
    ],
)
async def test_a_phone_in_a_value_shaped_almost_like_a_digest_is_still_masked(
    db: Database, log: audit.AuditLog, value: str
) -> None:
    await log.write(actor='system', role='system', action=audit.EXPORT, detail={'hash': value, 'list': [value]})
    stored = (await _rows(db))[0]
    assert '13812341234' not in str(stored.detail) and '138****1234' in stored.detail['hash']
    assert (await audit.verify(db)).ok


async def test_over_long_values_are_cut_not_lost(db: Database, log: audit.AuditLog) -> None:
    await log.write(actor='a' * 100, role='staff', action=audit.EXPORT, outcome='x' * 40, target='t' * 300)
    stored = (await _rows(db))[0]
    assert (len(stored.actor), len(stored.outcome), len(stored.target)) == (64, 16, 128)
    assert (await audit.verify(db)).ok


async def test_naive_time_is_refused(db: Database) -> None:
    log = audit.AuditLog(deps_for(db))
    with pytest.raises(ValueError, match='timezone'):
        await log.write(actor='w01', role='staff', action=audit.EXPORT, now=dt.datetime(2026, 1, 1))


# --- an insider with raw database write access, without the key ---------------------------------------------------


@pytest.mark.parametrize(
    'statement',
    [
        "UPDATE audit_entry SET outcome = 'denied' WHERE id = 3",
        "UPDATE audit_entry SET actor = 'someone_else' WHERE id = 3",
        "UPDATE audit_entry SET client_address = '10.9.9.9' WHERE id = 3",
    ],
)
async def test_edited_row_is_caught_at_that_row(db: Database, log: audit.AuditLog, statement: str) -> None:
    await _chain(log)
    await _sql(db, statement)
    result = await audit.verify(db)
    assert (result.ok, result.bad_row_id, result.reason, result.rows) == (False, 3, audit.HASH_MISMATCH, 3)


async def test_edited_detail_is_caught(db: Database, log: audit.AuditLog) -> None:
    await _chain(log)
    async with db.engine.begin() as connection:
        await connection.execute(update(AuditEntry).where(col(AuditEntry.id) == 2).values(detail={'reason': '无'}))
    result = await audit.verify(db)
    assert (result.ok, result.bad_row_id, result.reason) == (False, 2, audit.HASH_MISMATCH)


async def test_edited_time_is_caught(db: Database, log: audit.AuditLog) -> None:
    await _chain(log)
    async with db.engine.begin() as connection:
        later = dt.datetime(2026, 11, 28, 3, 0, tzinfo=dt.UTC)
        await connection.execute(update(AuditEntry).where(col(AuditEntry.id) == 4).values(at=later))
    assert (await audit.verify(db)).bad_row_id == 4


async def test_an_edited_row_rehashed_with_plain_sha256_is_named(db: Database, log: audit.AuditLog) -> None:
    """The old attack (edit, then recompute SHA-256) no longer fits: the row itself is named."""
    entries = await _chain(log)
    forged = entries[2].model_copy(update={'outcome': 'denied'})
    await _sql(db, "UPDATE audit_entry SET outcome = 'denied', hash = :h WHERE id = 3", h=sha256_hash(forged))
    result = await audit.verify(db)
    assert (result.ok, result.bad_row_id, result.reason) == (False, 3, audit.HASH_MISMATCH)


async def test_the_whole_chain_recomputed_with_sha256_fails_at_its_first_row(db: Database, log: audit.AuditLog) -> None:
    await _chain(log)
    await _sql(db, "UPDATE audit_entry SET outcome = 'denied' WHERE id = 3")
    await _rechain(db, sha256_hash)
    result = await audit.verify(db)
    assert (result.ok, result.bad_row_id, result.reason) == (False, 1, audit.HASH_MISMATCH)


async def test_deleted_middle_row_is_caught(db: Database, log: audit.AuditLog) -> None:
    await _chain(log)
    await _sql(db, 'DELETE FROM audit_entry WHERE id = 3')
    result = await audit.verify(db)
    assert (result.ok, result.bad_row_id, result.reason) == (False, 4, audit.BROKEN_LINK)


async def test_deleted_first_row_is_caught(db: Database, log: audit.AuditLog) -> None:
    await _chain(log)
    await _sql(db, 'DELETE FROM audit_entry WHERE id = 1')
    result = await audit.verify(db)
    assert (result.bad_row_id, result.reason) == (2, audit.BROKEN_LINK)


async def test_deleted_last_rows_are_not_detectable_without_an_anchor(db: Database, log: audit.AuditLog) -> None:
    """Documented limit (docs/audit.md): a cut-off chain is still consistent; only an anchor shows it."""
    entries = await _chain(log)
    await _sql(db, 'DELETE FROM audit_entry WHERE id > 3')
    result = await audit.verify(db)
    assert result.ok and result.head_hash == entries[2].hash != entries[-1].hash


async def test_forged_row_inserted_in_the_middle_is_caught(db: Database, log: audit.AuditLog) -> None:
    entries = await _chain(log)
    await _sql(db, 'UPDATE audit_entry SET id = id + 100 WHERE id > 2')  # hashes do not cover ids
    assert (await audit.verify(db)).ok
    forged = AuditEntry(
        id=3, at=entries[1].at, actor='boss', role='manager', action=audit.EXPORT, prev_hash=entries[1].hash, hash=''
    )
    forged.hash = sha256_hash(forged)
    await _add_row(db, forged)
    result = await audit.verify(db)
    assert (result.bad_row_id, result.reason) == (3, audit.HASH_MISMATCH)


async def test_forged_row_with_a_made_up_hash_is_caught(db: Database, log: audit.AuditLog) -> None:
    entries = await _chain(log, 3)
    at = entries[-1].at
    forged = AuditEntry(at=at, actor='x', role='admin', action=audit.EXPORT, prev_hash=entries[-1].hash, hash='f' * 64)
    await _add_row(db, forged)
    result = await audit.verify(db)
    assert (result.bad_row_id, result.reason) == (4, audit.HASH_MISMATCH)


async def test_concurrent_writers_build_one_chain(db: Database, log: audit.AuditLog) -> None:
    await asyncio.gather(
        *(log.write(actor=f'w{n:02d}', role='staff', action=audit.REASSIGN, target=f'window:{n}') for n in range(30))
    )
    rows = await _rows(db)
    assert len(rows) == 30
    assert [r.prev_hash for r in rows] == [audit.GENESIS_HASH, *(r.hash for r in rows[:-1])]
    assert sorted(r.target for r in rows) == sorted(f'window:{n}' for n in range(30))
    assert (await audit.verify(db)).ok


async def test_last_entries_are_the_newest_oldest_first(db: Database, log: audit.AuditLog) -> None:
    entries = await _chain(log)
    assert [e.id for e in await audit.last_entries(db, 3)] == [e.id for e in entries[-3:]]


async def test_audit_count_matches_rows_checked(db: Database, log: audit.AuditLog) -> None:
    await _chain(log, 7)
    async with db.session() as s:
        count = (await s.execute(select(func.count()).select_from(AuditEntry))).scalar_one()
    assert (await audit.verify(db, batch_size=3)).rows == count == 7


def test_action_names_are_distinct_and_fit_the_column() -> None:
    kinds = ['issued', 'called', 'recalled', 'no_show', 'completed', 'transferred', 'parked', 'resumed']
    names = [
        audit.LOGIN_OK,
        audit.LOGIN_FAILED,
        audit.LOCKOUT,
        audit.LOGOUT,
        audit.UNMASK,
        audit.CONSENT_GRANTED,
        audit.CONSENT_REVOKED,
        audit.PROXY_ACTION,
        audit.OUT_OF_ORDER_CALL,
        audit.REASSIGN,
        audit.EXPORT,
        audit.CERTIFICATE_ISSUED,
        audit.ROLE_DENIED,
        audit.RECHAINED,
        *(audit.ticket_action(kind) for kind in kinds),
        audit.window_action('state'),
        audit.window_action('services'),
    ]
    assert len(set(names)) == len(names)
    assert all(0 < len(name) <= 48 for name in names)
    assert audit.ticket_action('called_out_of_order') == audit.OUT_OF_ORDER_CALL


# --- anchors: a cut-off tail shows -----------------------------------------------------------------------------------


async def test_deleting_the_last_rows_after_an_anchor_is_reported_as_truncation(
    db: Database, log: audit.AuditLog, tmp_path: Path
) -> None:
    await _chain(log)
    anchors = _anchors(db, tmp_path)
    anchor = await anchors.anchor()
    assert (anchor.last_id, anchor.rows) == (5, 5)
    intact = await audit.verify(db, checkpoints=(await anchors.load()).checkpoints)
    assert intact.ok and intact.checkpoints == 1
    await _sql(db, 'DELETE FROM audit_entry WHERE id > 3')
    result = await audit.verify(db, checkpoints=(await anchors.load()).checkpoints)
    assert (result.ok, result.bad_row_id, result.reason, result.rows) == (False, 5, audit.TRUNCATED, 3)


async def test_rows_after_the_last_anchor_can_still_be_cut(db: Database, log: audit.AuditLog, tmp_path: Path) -> None:
    """Documented limit: an anchor vouches for the rows up to it, not for the ones written since."""
    await _chain(log, 3)
    anchors = _anchors(db, tmp_path)
    await anchors.anchor()
    await _chain(log, 2)
    await _sql(db, 'DELETE FROM audit_entry WHERE id > 3')
    result = await audit.verify(db, checkpoints=(await anchors.load()).checkpoints)
    assert result.ok and result.rows == 3 and result.checkpoints == 1


async def test_a_chain_rewritten_with_the_key_is_caught_by_an_earlier_anchor(
    db: Database, log: audit.AuditLog, tmp_path: Path
) -> None:
    """Even someone holding the key, who edits a row and re-chains everything after it, cannot match the anchor."""
    await _chain(log)
    anchors = _anchors(db, tmp_path)
    await anchors.anchor()
    await _sql(db, "UPDATE audit_entry SET outcome = 'denied' WHERE id = 2")
    await _rechain(db, lambda entry: audit.chain_hash(entry, AUDIT_KEY))
    assert (await audit.verify(db)).ok, 'on its own the re-keyed chain is consistent'
    result = await audit.verify(db, checkpoints=(await anchors.load()).checkpoints)
    assert (result.ok, result.bad_row_id, result.reason) == (False, 5, audit.REWRITTEN)


async def test_a_forged_anchor_is_reported_and_not_trusted(db: Database, log: audit.AuditLog, tmp_path: Path) -> None:
    await _chain(log, 3)
    anchors = _anchors(db, tmp_path)
    good = await anchors.anchor()
    other_key = audit_anchors.make_anchor(OTHER_KEY, audit.Checkpoint(99, 'a' * 64, 99), dt.datetime.now(dt.UTC))
    edited = json.loads(good.line()) | {'last_id': 2, 'rows': 2}
    with anchors.file.path.open('a') as file:
        file.write(other_key.line() + '\n' + json.dumps(edited) + '\n' + '{"v": 1, "last_id": "x"}\n' + 'garbage\n')
    found = await anchors.load()
    assert [a.line() for a in found.anchors] == [good.line()]
    reasons = [(r.source.rsplit(':', 1)[1], r.reason) for r in found.rejected]
    assert reasons == [
        ('2', audit_anchors.FORGED),
        ('3', audit_anchors.FORGED),
        ('4', audit_anchors.MALFORMED),
        ('5', audit_anchors.MALFORMED),
    ]
    assert (await audit.verify(db, checkpoints=found.checkpoints)).ok, 'the forged row 99 is not believed'


async def test_the_anchor_file_is_private_and_only_appended_to(
    db: Database, log: audit.AuditLog, tmp_path: Path, clock: FakeClock
) -> None:
    anchors = _anchors(db, tmp_path, clock=clock)
    await anchors.anchor()  # an anchor of the empty chain vouches for nothing, and is harmless
    await _chain(log, 2)
    assert await anchors.anchor_if_moved() is not None
    assert await anchors.anchor_if_moved() is None, 'the head did not move'
    assert anchors.file.path.stat().st_mode & 0o777 == 0o600
    lines = anchors.file.path.read_text().splitlines()
    assert [json.loads(line)['last_id'] for line in lines] == [0, 2]
    assert json.loads(lines[1])['at'] == '2026-11-28T02:00:00+00:00'
    assert (await audit.verify(db, checkpoints=(await anchors.load()).checkpoints)).checkpoints == 2


async def test_the_head_counts_rows_up_to_the_newest(db: Database, log: audit.AuditLog) -> None:
    assert await audit_anchors.head(db) == audit.Checkpoint(0, audit.GENESIS_HASH, 0)
    entries = await _chain(log, 4)
    await _sql(db, 'DELETE FROM audit_entry WHERE id = 2')
    assert await audit_anchors.head(db) == audit.Checkpoint(4, entries[-1].hash, 3)


@pytest.mark.parametrize('db', ['sqlite'], indirect=True)
async def test_anchors_go_to_redis_too_and_forged_ones_there_are_reported(
    db: Database, log: audit.AuditLog, tmp_path: Path
) -> None:
    """Redis is a second store: a cut tail shows even if the anchor file is lost; one list per audit key."""
    key = os.urandom(32)  # this test's own list
    keyed = Database(db.url, audit_key=key)
    anchors = _anchors(keyed, tmp_path, redis_url='redis://127.0.0.1:6379/0')
    assert anchors.redis is not None
    client = aioredis.from_url('redis://127.0.0.1:6379/0')
    try:
        await _chain(audit.AuditLog(deps_for(keyed)), 4)
        await anchors.anchor()
        anchors.file.path.unlink()
        await client.rpush(anchors.redis.name, json.dumps({'v': 1, 'last_id': 1, 'hash': 'b' * 64, 'rows': 1}))
        found = await anchors.load()
        assert (found.found, len(found.anchors)) == ({'file': 0, 'redis': 2}, 1)
        assert [r.reason for r in found.rejected] == [audit_anchors.MALFORMED]
        await _sql(keyed, 'DELETE FROM audit_entry WHERE id = 4')
        result = await audit.verify(keyed, checkpoints=found.checkpoints)
        assert (result.ok, result.bad_row_id, result.reason) == (False, 4, audit.TRUNCATED)
    finally:
        await client.delete(anchors.redis.name)
        await client.aclose()
        await keyed.dispose()


async def test_an_unreachable_redis_is_reported_not_skipped_silently(db: Database, tmp_path: Path) -> None:
    anchors = _anchors(db, tmp_path, redis_url='redis://127.0.0.1:1/0')
    found = await anchors.load()
    assert found.anchors == [] and len(found.unreadable) == 1 and found.unreadable[0].startswith('redis: ')


async def test_the_app_job_anchors_when_the_head_moved(db: Database, log: audit.AuditLog, tmp_path: Path) -> None:
    anchors = _anchors(db, tmp_path)
    ctx: dict[str, Any] = {'anchors': anchors}
    await _chain(log, 2)
    assert await jobs.anchor_audit(ctx) == 1
    assert await jobs.anchor_audit(ctx) == 0
    await _chain(log, 1)
    assert await jobs.anchor_audit(ctx) == 1
    assert [a.last_id for a in (await anchors.load()).anchors] == [2, 3]
    schedule = {job.name: (job.second, job.minute) for job in jobs.cron_jobs('main')}
    assert schedule['cron:anchor_audit'] == (0, set(range(0, 60, 5))), 'every five minutes under arq too'


# --- every queue transition is in the chain ------------------------------------------------------------------------


async def _audited(db: Database) -> list[tuple[str, str, dict[str, Any]]]:
    return [(e.action, e.target, e.detail) for e in await _rows(db)]


async def test_every_queue_transition_appends_its_audit_row(
    db: Database, queue: QueueService, hall: SmallHall, clock: FakeClock
) -> None:
    identity = make_id(dt.date(1950, 3, 1))
    await queue.take_ticket(
        TicketCreate(service_code='SVC-A', id_number=identity, phone='13812345678', name='张三'), caller=DESK
    )
    await queue.take_ticket(TicketCreate(service_code='SVC-A'), caller=DESK)
    await queue.take_ticket(TicketCreate(service_code='SVC-A'), caller=DESK)
    await queue.call_next(hall.window_1, caller=as_staff('w01'))
    clock.advance(0.5)  # a recall waits RECALL_INTERVAL_SECONDS after the call
    await queue.recall(hall.window_1, caller=as_staff('w01'))
    await queue.park(hall.window_1, reason='回家取户口簿', caller=as_staff('w01'))
    await queue.call_ticket(hall.window_1, 'a003', reason='老人需要协助', caller=as_staff('w01'))
    await queue.transfer(hall.window_1, to_service_code='SVC-B', reason='应办乙事项', caller=as_staff('w01'))
    await queue.resume(hall.window_1, 'A001', caller=as_staff('w01'))
    await queue.complete(hall.window_1, caller=as_staff('w01'))
    await queue.call_next(hall.window_1, caller=as_staff('w01'))
    for _ in range(2):
        clock.advance(0.5)
        await queue.recall(hall.window_1, caller=as_staff('w01'))
    clock.advance(0.5)
    await queue.no_show(hall.window_1, caller=as_staff('w01'))
    await queue.set_window_state(hall.window_1, WindowState.PAUSED, caller=as_staff('w01'))
    await queue.set_window_services(hall.window_2, {'SVC-B': 1}, caller=as_staff('boss'))

    rows = await _rows(db)
    assert [(r.action, r.target) for r in rows] == [
        ('ticket_issued', 'ticket:A001'),
        ('ticket_issued', 'ticket:A002'),
        ('ticket_issued', 'ticket:A003'),
        ('ticket_called', 'ticket:A001'),
        ('ticket_recalled', 'ticket:A001'),
        ('ticket_parked', 'ticket:A001'),
        (audit.OUT_OF_ORDER_CALL, 'ticket:A003'),
        ('ticket_transferred', 'ticket:A003'),
        ('ticket_resumed', 'ticket:A001'),
        ('ticket_completed', 'ticket:A001'),
        ('ticket_called', 'ticket:A002'),
        ('ticket_recalled', 'ticket:A002'),
        ('ticket_recalled', 'ticket:A002'),
        ('ticket_no_show', 'ticket:A002'),
        ('window_state', 'window:1'),
        ('window_services', 'window:2'),
    ]
    by_action = {r.action: r for r in rows}
    out_of_order = by_action[audit.OUT_OF_ORDER_CALL]
    assert (out_of_order.actor, out_of_order.detail['reason'], out_of_order.detail['window']) == (
        'w01',
        '老人需要协助',
        1,
    )
    assert (out_of_order.detail['from'], out_of_order.detail['to']) == ('waiting', 'called')
    assert by_action['ticket_parked'].detail['reason'] == '回家取户口簿'
    assert by_action['ticket_transferred'].detail['reason'] == '应办乙事项'
    assert by_action['window_state'].detail == {'window_id': hall.window_1, 'from': 'open', 'to': 'paused'}
    assert by_action['window_services'].detail['detail'] == {'SVC-B': 1}
    stored = ' '.join(f'{r.actor} {r.target} {r.detail}' for r in rows)
    for personal in (identity, identity[6:14], '13812345678', '张三', 'elderly', '老年'):
        assert personal not in stored, f'{personal} reached the audit log'
    result = await audit.verify(db)
    assert result.ok and result.rows == 16


async def test_a_refused_transition_writes_no_audit_row(db: Database, queue: QueueService, hall: SmallHall) -> None:
    await queue.take_ticket(TicketCreate(service_code='SVC-A'), caller=DESK)
    before = await _audited(db)
    with pytest.raises(Conflict):
        await queue.complete(hall.window_1, caller=as_staff('w01'))
    with pytest.raises(Conflict):
        await queue.call_ticket(hall.window_3, 'A001', reason='试试', caller=as_staff('w01'))  # window 3 is closed
    assert await _audited(db) == before


async def test_a_transition_whose_audit_row_cannot_be_chained_does_not_happen(
    db: Database, queue: QueueService, hall: SmallHall
) -> None:
    """The ticket, its event and its audit row commit together or not at all."""
    keyless = Database(db.url)
    try:
        blind = QueueService(replace(queue.deps, db=keyless))
        with pytest.raises(audit.AuditKeyMissing):
            await blind.take_ticket(TicketCreate(service_code='SVC-A'), caller=DESK)
    finally:
        await keyless.dispose()
    async with db.read_session() as s:
        assert (await s.execute(select(func.count()).select_from(Ticket))).scalar_one() == 0
    assert await _rows(db) == []


# --- migration 0009: an existing SHA-256 chain is checked, then re-chained with the key --------------------------


@pytest.fixture(params=['sqlite', pytest.param('postgres', marks=pytest.mark.postgres)])
async def legacy_db(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[str]:
    """A database at revision 0006 (before the keyed chain); the migration reads the key from the settings."""
    monkeypatch.setenv('SECRET_KEY', SECRET)
    get_settings.cache_clear()
    if request.param == 'sqlite':
        url = f'sqlite+aiosqlite:///{tmp_path / "legacy.db"}'
        await asyncio.to_thread(command.upgrade, alembic_config(url), '0006')
        yield url
    else:
        legacy = PostgresDatabase()
        await asyncio.to_thread(legacy.create, '0006')
        yield legacy.url
        await asyncio.to_thread(legacy.drop)
    get_settings.cache_clear()


async def _legacy_chain(url: str, count: int) -> list[AuditEntry]:
    """Rows as the app wrote them before 0009: plain SHA-256 links."""
    keyless = Database(url)
    prev, entries = audit.GENESIS_HASH, []
    try:
        for n in range(count):
            at = dt.datetime(2026, 11, 28, 2, n, 30, 123456, tzinfo=dt.UTC)
            entry = AuditEntry(
                at=at,
                actor=f'w{n:02d}',
                role='staff',
                action=audit.EXPORT,
                target=f'export:{n}',
                detail={'rows': n, 'note': '导出'},
                client_address='10.0.0.1',
                prev_hash=prev,
                hash='',
            )
            entry.hash = prev = sha256_hash(entry)
            await _add_row(keyless, entry)
            entries.append(entry)
    finally:
        await keyless.dispose()
    return entries


def _sha256_chain_holds(rows: list[AuditEntry]) -> bool:
    prev = audit.GENESIS_HASH
    for row in rows:
        if row.prev_hash != prev or sha256_hash(row) != row.hash:
            return False
        prev = row.hash
    return True


async def test_the_migration_rechains_a_legacy_chain_with_the_key_and_says_so(legacy_db: str) -> None:
    legacy = await _legacy_chain(legacy_db, 4)
    await upgrade_async(legacy_db)
    keyed = Database(legacy_db, audit_key=AUDIT_KEY)
    try:
        result = await audit.verify(keyed)
        rows = await _rows(keyed)
    finally:
        await keyed.dispose()
    assert result.ok and result.rows == 5
    assert [(r.actor, r.target, r.detail, r.at) for r in rows[:4]] == [
        (e.actor, e.target, e.detail, e.at) for e in legacy
    ]
    note = rows[-1]
    assert (note.action, note.actor, note.role) == (audit.RECHAINED, 'system:migration', 'system')
    assert note.detail == {
        'from': 'sha256',
        'to': 'hmac-sha256',
        'rows': 4,
        'intact': True,
        'first_bad_row': None,
        'reason': '',
        'head_hash': legacy[-1].hash,
    }

    await asyncio.to_thread(command.downgrade, alembic_config(legacy_db), '0006')
    keyless = Database(legacy_db)
    try:
        back = await _rows(keyless)
    finally:
        await keyless.dispose()
    assert _sha256_chain_holds(back) and back[-1].action == 'audit_unkeyed' and back[-1].detail['intact'] is True


async def test_a_tampered_legacy_chain_is_rechained_and_its_break_stays_on_record(legacy_db: str) -> None:
    """Re-chaining must not launder an old edit: the row that says so names the break, under the key."""
    await _legacy_chain(legacy_db, 4)
    raw = Database(legacy_db)
    try:
        await _sql(raw, "UPDATE audit_entry SET outcome = 'denied' WHERE id = 2")
    finally:
        await raw.dispose()
    await upgrade_async(legacy_db)
    keyed = Database(legacy_db, audit_key=AUDIT_KEY)
    try:
        assert (await audit.verify(keyed)).ok
        note = (await _rows(keyed))[-1]
    finally:
        await keyed.dispose()
    assert note.action == audit.RECHAINED
    assert (note.detail['intact'], note.detail['first_bad_row'], note.detail['reason']) == (
        False,
        2,
        audit.HASH_MISMATCH,
    )


# --- the command line, on the app's own SQLite file ------------------------------------------------------------------


@pytest.fixture
async def cli_db(tmp_path: Path) -> AsyncIterator[Database]:
    url = f'sqlite+aiosqlite:///{tmp_path / "hall.db"}'
    await upgrade_async(url)
    database = Database(url, audit_key=AUDIT_KEY)
    yield database
    await database.dispose()


def _cli_env(url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    drop = ('PYTEST_CURRENT_TEST', 'DATABASE_URL', 'REDIS_URL', 'AUDIT_ANCHOR_FILE', 'SECRET_KEY')
    env = {k: v for k, v in os.environ.items() if k not in drop}
    return {**env, 'DATABASE_URL': url, 'VAR_DIR': str(var_dir), 'SECRET_KEY': SECRET, **extra}


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, '-m', 'app.audit', *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


async def _run_cli(db: Database, tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(_run, _cli_env(db.url, tmp_path / 'var', **extra), *args)


@contextmanager
def _sqlite(url: str) -> Iterator[sqlite3.Connection]:
    """Raw write access to the app's SQLite file with Python's sqlite3 (one transaction, committed on exit)."""
    with closing(sqlite3.connect(sqlite_path(url), timeout=30)) as connection, connection:
        yield connection


async def test_cli_verify_intact_then_tampered(cli_db: Database, tmp_path: Path) -> None:
    entries = await _chain(audit.AuditLog(deps_for(cli_db)), 3)
    intact = await _run_cli(cli_db, tmp_path, 'verify')
    assert intact.returncode == 0, intact.stderr
    assert '审计链完整 / audit chain intact: 3 rows' in intact.stdout
    assert entries[-1].hash in intact.stdout and 'no anchors' in intact.stdout
    forged = entries[1].model_copy(update={'outcome': 'denied'})
    with _sqlite(cli_db.url) as connection:
        connection.execute("UPDATE audit_entry SET outcome = 'denied', hash = ? WHERE id = 2", (sha256_hash(forged),))
    broken = await _run_cli(cli_db, tmp_path, 'verify')
    assert broken.returncode == 1
    assert broken.stdout.strip() == f'审计链被篡改 / audit chain broken at row 2: {audit.HASH_MISMATCH}'


async def test_cli_anchor_then_a_cut_tail_is_reported_as_truncation(cli_db: Database, tmp_path: Path) -> None:
    await _chain(audit.AuditLog(deps_for(cli_db)), 5)
    anchored = await _run_cli(cli_db, tmp_path, 'anchor')
    assert anchored.returncode == 0, anchored.stderr
    path = tmp_path / 'var' / 'audit-anchors.jsonl'
    assert path.stat().st_mode & 0o777 == 0o600 and str(path) in anchored.stdout
    assert 'row 5, 5 rows' in anchored.stdout
    held = await _run_cli(cli_db, tmp_path, 'verify')
    assert held.returncode == 0 and 'anchors held: 1 (file 1)' in held.stdout, held.stdout
    with _sqlite(cli_db.url) as connection:
        connection.execute('DELETE FROM audit_entry WHERE id > 3')
    cut = await _run_cli(cli_db, tmp_path, 'verify')
    assert cut.returncode == 1
    assert cut.stdout.strip() == f'审计链被截断或改写 / audit chain truncated at anchored row 5: {audit.TRUNCATED}'


async def test_cli_reports_a_forged_anchor_and_does_not_trust_it(cli_db: Database, tmp_path: Path) -> None:
    await _chain(audit.AuditLog(deps_for(cli_db)), 2)
    out = tmp_path / 'elsewhere' / 'anchors.jsonl'
    assert (await _run_cli(cli_db, tmp_path, 'anchor', '--out', str(out))).returncode == 0
    forged = audit_anchors.make_anchor(OTHER_KEY, audit.Checkpoint(7, 'c' * 64, 7), dt.datetime.now(dt.UTC))
    with out.open('a') as file:
        file.write(forged.line() + '\n')
    result = await _run_cli(cli_db, tmp_path, 'verify', '--anchors', str(out))
    assert result.returncode == 1
    assert '审计链完整 / audit chain intact: 2 rows' in result.stdout
    assert f'anchor not trusted ({audit_anchors.FORGED}): {out}:2' in result.stdout
    assert 'anchors held: 1' in result.stdout, 'the genuine anchor still counts; the forged row 7 is not missing'


async def test_cli_cannot_check_without_the_key_or_the_anchor_file_asked_for(cli_db: Database, tmp_path: Path) -> None:
    await _chain(audit.AuditLog(deps_for(cli_db)), 1)
    env = _cli_env(cli_db.url, tmp_path / 'empty-var')
    env.pop('SECRET_KEY')
    keyless = await asyncio.to_thread(_run, env, 'verify')
    assert keyless.returncode == 2 and 'no SECRET_KEY' in keyless.stderr
    assert not (tmp_path / 'empty-var' / 'secret_key').exists(), 'verify never makes up a key'
    missing = await _run_cli(cli_db, tmp_path, 'verify', '--anchors', str(tmp_path / 'nope.jsonl'))
    assert missing.returncode == 2 and 'no anchor file' in missing.stderr


async def test_cli_says_so_when_redis_cannot_take_or_give_anchors(cli_db: Database, tmp_path: Path) -> None:
    """A second store that is down is a finding, not a silent skip; the file still gets the anchor first."""
    await _chain(audit.AuditLog(deps_for(cli_db)), 2)
    down = {'REDIS_URL': 'redis://127.0.0.1:1/0'}
    anchored = await _run_cli(cli_db, tmp_path, 'anchor', **down)
    assert anchored.returncode == 2 and 'could not write the anchor everywhere' in anchored.stderr
    assert len((tmp_path / 'var' / 'audit-anchors.jsonl').read_text().splitlines()) == 1
    checked = await _run_cli(cli_db, tmp_path, 'verify', **down)
    assert checked.returncode == 1 and 'anchors not read: redis' in checked.stdout
    assert (await _run_cli(cli_db, tmp_path, 'verify')).returncode == 0


async def test_cli_tail_prints_newest_rows_masked(cli_db: Database, tmp_path: Path) -> None:
    await _chain(audit.AuditLog(deps_for(cli_db)), 5)
    result = await _run_cli(cli_db, tmp_path, 'tail', '-n', '2')
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ['4', '5']
    assert audited('10.0.0.4') in lines[-1] and '10.0.0.4' not in result.stdout


async def test_cli_on_an_unmigrated_database_says_so(tmp_path: Path) -> None:
    database = Database(f'sqlite+aiosqlite:///{tmp_path / "empty.db"}')
    result = await _run_cli(database, tmp_path, 'verify')
    await database.dispose()
    assert result.returncode == 2
    assert 'cannot read the audit table' in result.stderr


# --- the running app: calls through the API are in the chain, and the app anchors by itself -----------------------


def _wait_for(path: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert path.exists(), f'{path} was not written'


def test_calls_through_the_real_api_are_in_the_chain_and_a_cut_after_the_anchor_shows(tmp_path: Path) -> None:
    with running_app(tmp_path) as (app, prepared), app.client() as client:
        env = _cli_env(prepared.url, tmp_path / 'var')
        _wait_for(tmp_path / 'var' / 'audit-anchors.jsonl')  # the app anchored its head at start-up
        staff = bearer(token(client, ('w01', 'Window-01-pass')))
        window = prepared.small_hall.window_1 if prepared.small_hall else 0
        for _ in range(3):
            assert client.post('/api/tickets', json={'service_code': 'SVC-A'}).status_code == 201
        assert client.post(f'/api/windows/{window}/call-next', headers=staff).status_code == 200
        assert client.post(f'/api/windows/{window}/complete', headers=staff).status_code == 200
        called = client.post(
            f'/api/windows/{window}/call', json={'number': 'A003', 'reason': '老人需要协助'}, headers=staff
        )
        assert called.status_code == 200, called.text
        refused = client.post(f'/api/windows/{window}/call', json={'number': 'A002', 'reason': '再叫'}, headers=staff)
        assert refused.status_code == 409

        assert [r['target'] for r in audit_rows(prepared.url, 'ticket_issued')] == [
            'ticket:A001',
            'ticket:A002',
            'ticket:A003',
        ]
        assert [r['target'] for r in audit_rows(prepared.url, 'ticket_called')] == ['ticket:A001']
        assert [r['target'] for r in audit_rows(prepared.url, 'ticket_completed')] == ['ticket:A001']
        out_of_order = audit_rows(prepared.url, audit.OUT_OF_ORDER_CALL)
        assert [(r['actor'], r['target'], json.loads(r['detail'])['reason']) for r in out_of_order] == [
            ('w01', 'ticket:A003', '老人需要协助')
        ]
        intact = _run(env, 'verify')
        assert intact.returncode == 0, intact.stdout + intact.stderr
        assert 'anchors held: 1 (file 1)' in intact.stdout

        assert _run(env, 'anchor').returncode == 0
        with _sqlite(prepared.url) as connection:
            newest = connection.execute('SELECT max(id) FROM audit_entry').fetchone()[0]
            connection.execute('DELETE FROM audit_entry WHERE id > ?', (newest - 2,))
        cut = _run(env, 'verify')
        assert cut.returncode == 1
        assert f'truncated at anchored row {newest}' in cut.stdout
