"""The audit chain: valid when untouched, and any edit, deletion or forged row is found at its row."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, text, update
from sqlmodel import col, select

from app.db import Database
from app.migrate import upgrade_async
from app.models.security import AuditEntry
from app.security.masking import mask_text
from app.services import audit
from app.settings import ROOT
from tests.conftest import FakeClock

SECRET = 'test-secret-key-that-is-long-enough-0123456789'


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
    async with db.engine.begin() as connection:
        await connection.execute(text(statement), params)


async def _add_row(db: Database, entry: AuditEntry) -> None:
    async with db.session() as s, s.begin():
        s.add(entry)


@pytest.fixture
def log(db: Database, clock: FakeClock) -> audit.AuditLog:
    return audit.AuditLog(db, clock=clock)


async def test_empty_chain_is_intact(db: Database) -> None:
    assert await audit.verify(db) == audit.VerifyResult(True, 0)


async def test_chain_of_records_verifies(db: Database, log: audit.AuditLog) -> None:
    entries = await _chain(log)
    assert entries[0].prev_hash == audit.GENESIS_HASH
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
    result = await audit.verify(db, batch_size=2)  # several batches: the walk carries the link across them
    assert result == audit.VerifyResult(True, 5, head_hash=entries[-1].hash)


async def test_stored_rows_hash_as_written(db: Database, log: audit.AuditLog) -> None:
    """What comes back from the database (times, JSON, enums) hashes to what was written."""
    written = await _chain(log, 3)
    stored = await _rows(db)
    assert [audit.chain_hash(e) for e in stored] == [e.hash for e in written]
    assert stored[1].detail == {'reason': '窗口核验', 'n': 1, 'nested': {'b': [1, 2.5], 'a': None}}


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
    assert stored.hash == entry.hash == audit.chain_hash(stored)
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
    assert stored.hash == audit.chain_hash(stored) and (await audit.verify(db)).ok


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
    log = audit.AuditLog(db)
    with pytest.raises(ValueError, match='timezone'):
        await log.write(actor='w01', role='staff', action=audit.EXPORT, now=dt.datetime(2026, 1, 1))


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


async def test_edit_with_recomputed_hash_breaks_the_next_link(db: Database, log: audit.AuditLog) -> None:
    entries = await _chain(log)
    forged = entries[2].model_copy(update={'outcome': 'denied'})
    rehashed = audit.chain_hash(forged)
    await _sql(db, "UPDATE audit_entry SET outcome = 'denied', hash = :h WHERE id = 3", h=rehashed)
    result = await audit.verify(db)
    assert (result.bad_row_id, result.reason) == (4, audit.BROKEN_LINK)


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


async def test_deleted_last_rows_are_not_detectable_by_the_chain(db: Database, log: audit.AuditLog) -> None:
    """Documented limit: a cut-off chain is still consistent; only a head hash kept elsewhere shows it."""
    entries = await _chain(log)
    await _sql(db, 'DELETE FROM audit_entry WHERE id > 3')
    result = await audit.verify(db)
    assert result.ok and result.head_hash == entries[2].hash != entries[-1].hash


async def test_forged_row_inserted_in_the_middle_is_caught(db: Database, log: audit.AuditLog) -> None:
    """Even a forged row with a correct hash of its own breaks the link of the row after it."""
    entries = await _chain(log)
    await _sql(db, 'UPDATE audit_entry SET id = id + 100 WHERE id > 2')  # hashes do not cover ids
    assert (await audit.verify(db)).ok
    forged = AuditEntry(
        id=3,
        at=entries[1].at,
        actor='boss',
        role='manager',
        action=audit.EXPORT,
        prev_hash=entries[1].hash,
        hash='',
    )
    forged.hash = audit.chain_hash(forged)
    await _add_row(db, forged)
    result = await audit.verify(db)
    assert (result.bad_row_id, result.reason) == (103, audit.BROKEN_LINK)


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


def test_action_names_are_distinct_and_fit_the_column() -> None:
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
    ]
    assert len(set(names)) == len(names)
    assert all(0 < len(name) <= 48 for name in names)


# --- the command line, on a SQLite file migrated like a real deployment --------------------------------------


@pytest.fixture
async def cli_db(tmp_path: Path) -> AsyncIterator[Database]:
    url = f'sqlite+aiosqlite:///{tmp_path / "hall.db"}'
    await upgrade_async(url)
    database = Database(url)
    yield database
    await database.dispose()


def _cli_env(db: Database, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ('PYTEST_CURRENT_TEST', 'DATABASE_URL')}
    return {**env, 'DATABASE_URL': db.url, 'VAR_DIR': str(tmp_path / 'var'), 'SECRET_KEY': SECRET}


async def _run_cli(db: Database, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, '-m', 'app.audit', *args]
    env = _cli_env(db, tmp_path)
    return await asyncio.to_thread(
        subprocess.run, command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


async def test_cli_verify_intact_then_tampered(cli_db: Database, tmp_path: Path) -> None:
    entries = await _chain(audit.AuditLog(cli_db), 3)
    intact = await _run_cli(cli_db, tmp_path, 'verify')
    assert intact.returncode == 0, intact.stderr
    assert '审计链完整 / audit chain intact: 3 rows' in intact.stdout
    assert entries[-1].hash in intact.stdout
    await _sql(cli_db, "UPDATE audit_entry SET outcome = 'denied' WHERE id = 2")
    broken = await _run_cli(cli_db, tmp_path, 'verify')
    assert broken.returncode == 1
    assert broken.stdout.strip() == f'审计链被篡改 / audit chain broken at row 2: {audit.HASH_MISMATCH}'


async def test_cli_tail_prints_newest_rows_masked(cli_db: Database, tmp_path: Path) -> None:
    await _chain(audit.AuditLog(cli_db), 5)
    result = await _run_cli(cli_db, tmp_path, 'tail', '-n', '2')
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ['4', '5']
    assert '10.0.0.*' in lines[-1] and '10.0.0.4' not in result.stdout


async def test_cli_on_an_unmigrated_database_says_so(tmp_path: Path) -> None:
    database = Database(f'sqlite+aiosqlite:///{tmp_path / "empty.db"}')
    result = await _run_cli(database, tmp_path, 'verify')
    await database.dispose()
    assert result.returncode == 2
    assert 'cannot read the audit table' in result.stderr


async def test_audit_count_matches_rows_checked(db: Database, log: audit.AuditLog) -> None:
    await _chain(log, 7)
    async with db.session() as s:
        count = (await s.execute(select(func.count()).select_from(AuditEntry))).scalar_one()
    assert (await audit.verify(db, batch_size=3)).rows == count == 7
