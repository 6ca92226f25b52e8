"""Enrolment and use of the second factor through AuthService, on a real database with a fake clock."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from sqlmodel import col, delete, select

from app.db import Database
from app.models.people import RecoveryCode, StaffTotp, StaffUser
from app.models.security import AuditEntry
from app.services import second_factor
from app.services.auth import ENROLMENT_REQUIRED, AuthService
from app.services.errors import Conflict, Unauthorized
from app.settings import Settings
from tests.callers import deps_for
from tests.conftest import FakeClock
from tests.factories import SmallHall

W01 = ('w01', 'Window-01-pass')
BOSS = ('boss', 'Manager-01-pass')


@pytest.fixture
def auth(db: Database, hall: SmallHall, settings: Settings, clock: FakeClock) -> AuthService:
    return AuthService(deps_for(db, hall_id=hall.hall_id, settings=settings, clock=clock))


async def _unenrol(db: Database, username: str) -> None:
    async with db.session() as s, s.begin():
        user = (await s.execute(select(StaffUser).where(StaffUser.username == username))).scalar_one()
        await s.execute(delete(StaffTotp).where(col(StaffTotp.user_id) == user.id))


async def _actions(db: Database) -> list[tuple[str, str, str]]:
    async with db.session() as s:
        rows = (await s.execute(select(AuditEntry).order_by(col(AuditEntry.id)))).scalars().all()
    return [(row.actor, row.action, row.outcome) for row in rows]


def _code(uri: str, clock: FakeClock) -> str:
    secret = parse_qs(urlparse(uri).query)['secret'][0]
    return pyotp.TOTP(secret).at(clock())


async def test_a_manager_without_a_factor_can_only_enrol_and_then_needs_codes(
    auth: AuthService, db: Database, clock: FakeClock
) -> None:
    await _unenrol(db, 'boss')
    issued = await auth.login(*BOSS)
    assert issued.enrolment_only
    with pytest.raises(Unauthorized) as refused:
        await auth.authenticate(issued.token)
    assert refused.value.code == ENROLMENT_REQUIRED
    caller = await auth.authenticate(issued.token, enrolling=True)
    uri = await auth.begin_enrolment(caller, '测试大厅')
    with pytest.raises(Unauthorized, match='wrong or already used'):
        await auth.confirm_enrolment(caller, '000000' if _code(uri, clock) != '000000' else '111111')
    codes = await auth.confirm_enrolment(caller, _code(uri, clock))
    assert len(set(codes)) == 10
    assert (await auth.authenticate(issued.token)).name == 'boss'  # this session is a full one now
    async with db.session() as s:
        stored = (await s.execute(select(StaffTotp))).scalars().all()
        hashes = {row.code_hash for row in (await s.execute(select(RecoveryCode))).scalars().all()}
    assert all(parse_qs(urlparse(uri).query)['secret'][0] not in row.secret_enc for row in stored)  # sealed
    assert hashes == {second_factor.recovery_hash(c) for c in codes} and not hashes & set(codes)
    with pytest.raises(Conflict):
        await auth.begin_enrolment(caller, '测试大厅')  # a stolen session cannot swap the owner's factor

    with pytest.raises(Unauthorized, match='authenticator'):
        await auth.login(*BOSS)
    with pytest.raises(Unauthorized, match='wrong or already used'):
        await auth.login(*BOSS, totp=_code(uri, clock))  # the confirming code was used: no replay
    clock.advance(0.5)
    assert not (await auth.login(*BOSS, totp=_code(uri, clock))).enrolment_only
    assert (await auth.login(*BOSS, totp=codes[3])).principal.name == 'boss'
    with pytest.raises(Unauthorized):
        await auth.login(*BOSS, totp=codes[3])
    actions = await _actions(db)
    assert ('boss', second_factor.TOTP_ENROLMENT_STARTED, 'ok') in actions
    assert ('boss', 'login_failed', second_factor.TOTP_FAILED) in actions
    assert ('boss', second_factor.TOTP_ENROLLED, 'ok') in actions
    assert ('boss', 'login', 'enrol_required') in actions
    assert ('boss', 'login', 'totp') in actions
    assert [a for a in actions if a[1] == second_factor.RECOVERY_CODE_USED] == [
        ('boss', second_factor.RECOVERY_CODE_USED, 'ok')
    ]
    assert actions.count(('boss', 'login_failed', 'bad_code')) == 2


async def test_staff_may_go_without_a_factor_or_enrol_one(auth: AuthService, clock: FakeClock) -> None:
    issued = await auth.login(*W01)
    assert not issued.enrolment_only
    caller = await auth.authenticate(issued.token)
    uri = await auth.begin_enrolment(caller, 'hall')
    await auth.confirm_enrolment(caller, _code(uri, clock))
    clock.advance(dt.timedelta(minutes=1).total_seconds() / 60)
    with pytest.raises(Unauthorized, match='authenticator'):
        await auth.login(*W01)
    assert (await auth.login(*W01, totp=_code(uri, clock))).principal.name == 'w01'
