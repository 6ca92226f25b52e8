"""The key check value: stored once at the first start, and a start with another SECRET_KEY is stopped."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from app.clock import utcnow
from app.db import Database
from app.models.key_check import KeyCheck
from app.models.security import AuditEntry
from app.security.keys import Purpose, derive_key
from app.services import audit
from app.services.key_check import STORED, KeyMismatch, check_value, verify_key
from tests.dbs import SqliteTemplate

KEY = b'the-hall-secret-key-that-is-long-enough-000'
OTHER = b'another-secret-key-that-is-long-enough-111'


def database(url: str, secret: bytes) -> Database:
    return Database(url, audit_key=derive_key(secret, Purpose.AUDIT))


@pytest.fixture
def url(tmp_path: Path, sqlite_template: SqliteTemplate) -> str:
    return sqlite_template.copy_to(tmp_path / 'keys.db')


async def rows(db: Database) -> tuple[list[str], list[str]]:
    async with db.read_session() as s:
        checks = list((await s.execute(select(KeyCheck.check_hash))).scalars())
        actions = list((await s.execute(select(AuditEntry.action))).scalars())
    return checks, actions


def test_the_check_value_depends_on_the_key_and_is_not_a_key_itself() -> None:
    assert check_value(KEY) == check_value(KEY) != check_value(OTHER)
    assert check_value(KEY) not in {derive_key(KEY, purpose).hex() for purpose in Purpose}


async def test_the_first_start_stores_the_value_once_with_an_audit_row_and_later_starts_pass(url: str) -> None:
    db = database(url, KEY)
    try:
        assert await verify_key(db, KEY, now=utcnow()) is True
        assert await verify_key(db, KEY, now=utcnow()) is False
        assert await rows(db) == ([check_value(KEY)], [STORED])
    finally:
        await db.dispose()


async def test_a_start_with_another_key_is_stopped_and_changes_nothing(url: str) -> None:
    db = database(url, KEY)
    await verify_key(db, KEY, now=utcnow())
    await db.dispose()
    other = database(url, OTHER)
    try:
        with pytest.raises(KeyMismatch, match='SECRET_KEY does not match the database'):
            await verify_key(other, OTHER, now=utcnow())
        assert await rows(other) == ([check_value(KEY)], [STORED])
    finally:
        await other.dispose()


async def test_a_database_from_before_key_checks_is_judged_by_its_newest_audit_row(url: str) -> None:
    """An upgrade with a changed SECRET_KEY must stop too: the audit chain was written with the old key."""
    db = database(url, KEY)
    async with db.session() as s, s.begin():
        await audit.record(s, actor='w01', role='staff', action='login', now=utcnow())
    await db.dispose()
    other = database(url, OTHER)
    try:
        with pytest.raises(KeyMismatch):
            await verify_key(other, OTHER, now=utcnow())
        assert (await rows(other))[0] == []
    finally:
        await other.dispose()
    same = database(url, KEY)
    try:
        assert await verify_key(same, KEY, now=utcnow()) is True
    finally:
        await same.dispose()
