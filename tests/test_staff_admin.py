"""Staff accounts as rules: admins add, disable, enable, reset and change people; every change is audited and
ends what it must end at once; bad input is refused and changes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlmodel import col, select

from app.bus import InProcessBus
from app.db import Database
from app.events import SessionEnded, StaffChanged
from app.models import AuditEntry
from app.models.people import AuthSession, Role, StaffUser
from app.services.auth import AuthService, SessionEnd
from app.services.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, Unauthorized
from app.services.principal import Kind, Principal
from app.services.staff_admin import StaffAdminService
from tests import totp
from tests.callers import deps_for
from tests.conftest import FakeClock
from tests.factories import SmallHall

CLI = Principal.cli('root')
CLERK_PASSWORD = 'Window-01-pass'
NOT_ADMINS = [
    Principal(Kind.STAFF, 'boss', Role.MANAGER),
    Principal(Kind.STAFF, 'w01', Role.STAFF, window_id=1),
    Principal(Kind.STAFF, 'rv01', Role.REVIEWER),
    Principal.kiosk('K01'),
    Principal.anonymous('10.0.0.66'),
    Principal.citizen(1),
]


@pytest.fixture
def staff(db: Database, bus: InProcessBus, hall: SmallHall, clock: FakeClock) -> StaffAdminService:
    return StaffAdminService(deps_for(db, bus, hall_id=hall.hall_id, clock=clock))


@pytest.fixture
def auth(db: Database, bus: InProcessBus, hall: SmallHall, clock: FakeClock) -> AuthService:
    return AuthService(deps_for(db, bus, hall_id=hall.hall_id, clock=clock))


async def audit_rows(db: Database) -> list[tuple[str, str, str]]:
    async with db.read_session() as s:
        rows = (await s.execute(select(AuditEntry).order_by(col(AuditEntry.id)))).scalars()
        return [(e.actor, e.action, e.target) for e in rows if e.action.startswith(('staff_', 'password_'))]


async def stored(db: Database) -> list[dict[str, Any]]:
    """Everything an account change may touch: the accounts and their sessions."""
    async with db.read_session() as s:
        users = (await s.execute(select(StaffUser).order_by(col(StaffUser.id)))).scalars().all()
        sessions = (await s.execute(select(AuthSession).order_by(col(AuthSession.id)))).scalars().all()
        return [u.model_dump() for u in users] + [x.model_dump() for x in sessions]


async def admin(staff: StaffAdminService, db: Database, username: str = 'adm01') -> Principal:
    """A new admin account (added from the CLI) and that admin as a signed-in caller."""
    await staff.add(CLI, username=username, role=Role.ADMIN, password='Admin-0001-pass')
    async with db.read_session() as s:
        user_id = (await s.execute(select(StaffUser.id).where(StaffUser.username == username))).scalar_one()
    return Principal(Kind.STAFF, username, Role.ADMIN, user_id=user_id, address='10.0.0.9')


def ended(bus_events: list[Any]) -> list[str]:
    return [e.reason for e in bus_events if isinstance(e, SessionEnded)]


async def test_an_added_clerk_must_replace_the_one_time_password_before_any_session_opens(
    staff: StaffAdminService, auth: AuthService, db: Database
) -> None:
    caller = await admin(staff, db)
    issued = await staff.add(caller, username='w09', display_name='王五', role=Role.STAFF, window_number=2)
    one_time = issued.one_time_password
    assert one_time is not None and issued.account.must_change_password
    assert issued.account.window_number == 2 and issued.account.display_name == '王五'

    with pytest.raises(Unauthorized) as first:
        await auth.login('w09', one_time)
    assert first.value.code == 'password_change_required'
    with pytest.raises(Invalid) as weak:
        await auth.login('w09', one_time, new_password='short')
    assert weak.value.code == 'weak_password'
    with pytest.raises(Invalid) as same:
        await auth.login('w09', one_time, new_password=one_time)
    assert same.value.code == 'password_unchanged'
    async with db.read_session() as s:
        assert (await s.execute(select(AuthSession))).scalars().all() == []  # no session opened yet

    token = await auth.login('w09', one_time, new_password='Brand-New-Pass-9')
    assert token.principal.window_id is not None
    (account,) = [a for a in await staff.accounts(caller) if a.username == 'w09']
    assert not account.must_change_password
    with pytest.raises(Unauthorized):
        await auth.login('w09', one_time)
    assert (await auth.login('w09', 'Brand-New-Pass-9')).principal.name == 'w09'
    assert await audit_rows(db) == [
        ('cli:root', 'staff_added', 'staff:adm01'),
        ('adm01', 'staff_added', 'staff:w09'),
        ('w09', 'password_changed', ''),
    ]


async def test_the_list_shows_people_without_any_password_data(staff: StaffAdminService, db: Database) -> None:
    accounts = {a.username: a for a in await staff.accounts(CLI)}
    assert set(accounts) == {'w01', 'boss'}
    assert accounts['w01'].window_number == 1 and accounts['w01'].role == Role.STAFF and accounts['w01'].active
    assert not any('password_hash' in vars(a) or 'failed_attempts' in vars(a) for a in accounts.values())


@pytest.mark.parametrize('caller', NOT_ADMINS, ids=lambda c: f'{c.kind}-{c.role}')
async def test_only_admins_manage_staff_accounts(staff: StaffAdminService, db: Database, caller: Principal) -> None:
    before = await stored(db)
    attempts = [
        staff.accounts(caller),
        staff.add(caller, username='x1', role=Role.ADMIN, password='Admin-0001-pass'),
        staff.disable(caller, 'boss'),
        staff.enable(caller, 'boss'),
        staff.reset_password(caller, 'boss'),
        staff.change(caller, 'w01', role=Role.ADMIN),
    ]
    for attempt in attempts:
        with pytest.raises(Forbidden):
            await attempt
    assert await stored(db) == before and await audit_rows(db) == []


async def test_disabling_a_clerk_revokes_their_session_at_once_and_refuses_login_until_enabled(
    staff: StaffAdminService, auth: AuthService, db: Database, bus: InProcessBus
) -> None:
    events: list[Any] = []
    bus.subscribe(events.append, name='test')
    caller = await admin(staff, db)
    token = await auth.login('w01', CLERK_PASSWORD)
    assert (await auth.authenticate(token.token)).window_id is not None

    account = await staff.disable(caller, 'w01')
    await bus.drain()
    assert not account.active
    with pytest.raises(Unauthorized):
        await auth.authenticate(token.token)
    assert ended(events) == [SessionEnd.DEACTIVATED]
    assert await auth.ended({token.principal}) == {token.principal: SessionEnd.DEACTIVATED}
    with pytest.raises(Unauthorized) as refused:
        await auth.login('w01', CLERK_PASSWORD)
    assert refused.value.code == 'bad_credentials'

    await staff.disable(caller, 'w01')  # again: nothing more happens, nothing more is audited
    assert (await staff.enable(caller, 'w01')).active
    with pytest.raises(Unauthorized):
        await auth.authenticate(token.token)  # the old session stays ended
    assert (await auth.login('w01', CLERK_PASSWORD)).principal.name == 'w01'
    assert [row[1:] for row in await audit_rows(db)][1:] == [
        ('staff_disabled', 'staff:w01'),
        ('staff_enabled', 'staff:w01'),
    ]


async def test_an_admin_cannot_remove_themself_and_the_last_active_admin_always_stays(
    staff: StaffAdminService, db: Database
) -> None:
    me = await admin(staff, db)
    before = await stored(db)
    for attempt, code in (
        (staff.disable(me, 'adm01'), 'not_yourself'),
        (staff.change(me, 'adm01', role=Role.MANAGER), 'not_yourself'),
        (staff.disable(CLI, 'adm01'), 'last_admin'),
        (staff.change(CLI, 'adm01', role=Role.STAFF), 'last_admin'),
    ):
        with pytest.raises(Conflict) as refused:
            await attempt
        assert refused.value.code == code
    assert await stored(db) == before

    other = await admin(staff, db, 'adm02')
    assert not (await staff.disable(other, 'adm01')).active
    with pytest.raises(Conflict) as last:
        await staff.change(CLI, 'adm02', role=Role.MANAGER)
    assert last.value.code == 'last_admin'
    assert (await staff.change(other, 'adm01', role=Role.MANAGER)).role == Role.MANAGER  # a disabled admin may go


@pytest.mark.parametrize(
    ('kwargs', 'error', 'code'),
    [
        ({'username': 'w01', 'role': Role.STAFF}, Conflict, 'username_taken'),
        ({'username': 'has space', 'role': Role.STAFF}, Invalid, 'bad_username'),
        ({'username': '', 'role': Role.STAFF}, Invalid, 'bad_username'),
        ({'username': 'w10', 'role': Role.CITIZEN}, Invalid, 'bad_staff_role'),
        ({'username': 'w10', 'role': Role.STAFF, 'window_number': 99}, Invalid, 'unknown_window'),
        ({'username': 'w10', 'role': Role.REVIEWER, 'department_code': 'NOPE'}, Invalid, 'unknown_department'),
        ({'username': 'w10', 'role': Role.STAFF, 'password': 'password'}, Invalid, 'weak_password'),
    ],
)
async def test_a_bad_new_account_is_refused_with_its_reason_and_changes_nothing(
    staff: StaffAdminService, db: Database, kwargs: dict[str, Any], error: type[DomainError], code: str
) -> None:
    before = await stored(db)
    with pytest.raises(error) as refused:
        await staff.add(CLI, **kwargs)
    assert refused.value.code == code and refused.value.message
    assert await stored(db) == before and await audit_rows(db) == []


async def test_bad_changes_are_refused_and_change_nothing(staff: StaffAdminService, db: Database) -> None:
    before = await stored(db)
    for attempt, error, code in (
        (staff.disable(CLI, 'nobody'), NotFound, 'unknown_staff'),
        (staff.reset_password(CLI, 'nobody'), NotFound, 'unknown_staff'),
        (staff.reset_password(CLI, 'w01', password='weak'), Invalid, 'weak_password'),
        (staff.change(CLI, 'w01', window_number=99), Invalid, 'unknown_window'),
        (staff.change(CLI, 'w01', role=Role.REVIEWER, department_code='NOPE'), Invalid, 'unknown_department'),
        (staff.change(CLI, 'w01', role=Role.DEVICE), Invalid, 'bad_staff_role'),
    ):
        with pytest.raises(error) as refused:
            await attempt
        assert refused.value.code == code
    assert await stored(db) == before and await audit_rows(db) == []


async def test_a_reset_lifts_the_lockout_ends_every_session_and_gives_a_one_time_password(
    staff: StaffAdminService, auth: AuthService, db: Database, bus: InProcessBus, clock: FakeClock
) -> None:
    events: list[Any] = []
    bus.subscribe(events.append, name='test')
    first = await auth.login('w01', CLERK_PASSWORD)
    second = await auth.login('w01', CLERK_PASSWORD, client_address='10.0.0.2')
    async with db.session() as s, s.begin():
        user = (await s.execute(select(StaffUser).where(StaffUser.username == 'w01'))).scalar_one()
        user.failed_attempts, user.locked_until = 25, clock() + dt.timedelta(minutes=5)
    assert next(a for a in await staff.accounts(CLI) if a.username == 'w01').locked

    issued = await staff.reset_password(CLI, 'w01')
    await bus.drain()
    assert issued.one_time_password and not issued.account.locked and issued.account.must_change_password
    for token in (first, second):
        with pytest.raises(Unauthorized):
            await auth.authenticate(token.token)
    assert ended(events) == [SessionEnd.LOGGED_OUT, SessionEnd.LOGGED_OUT]
    with pytest.raises(Unauthorized):
        await auth.login('w01', CLERK_PASSWORD)
    assert (await auth.login('w01', issued.one_time_password, new_password='Chosen-Again-77')).principal.name == 'w01'

    typed = await staff.reset_password(CLI, 'w01', password='Typed-By-Admin-1')  # the CLI's reset: no change asked
    assert typed.one_time_password is None and not typed.account.must_change_password
    assert (await auth.login('w01', 'Typed-By-Admin-1')).principal.name == 'w01'
    assert [row[1] for row in await audit_rows(db)] == [
        'staff_password_reset',
        'password_changed',
        'staff_password_reset',
    ]


async def test_a_new_role_ends_the_sessions_and_a_new_window_ends_the_open_pages_built_for_the_old_one(
    staff: StaffAdminService, auth: AuthService, db: Database, bus: InProcessBus, hall: SmallHall
) -> None:
    events: list[Any] = []
    bus.subscribe(events.append, name='test')
    token = await auth.login('w01', CLERK_PASSWORD)

    moved = await staff.change(CLI, 'w01', window_number=2)
    await bus.drain()
    assert moved.window_number == 2 and moved.role == Role.STAFF
    assert ended(events) == [SessionEnd.CHANGED]
    assert (await auth.authenticate(token.token)).window_id == hall.window_2  # new pages open for the new window
    assert await auth.ended({token.principal}) == {token.principal: SessionEnd.CHANGED}

    unchanged = await staff.change(CLI, 'w01', window_number=2)
    assert unchanged == moved

    reviewer = await staff.change(CLI, 'w01', role=Role.REVIEWER, window_number=None, department_code='DEPT')
    await bus.drain()
    assert (reviewer.role, reviewer.window_number, reviewer.department_code) == (Role.REVIEWER, None, 'DEPT')
    with pytest.raises(Unauthorized):
        await auth.authenticate(token.token)
    assert ended(events) == [SessionEnd.CHANGED, SessionEnd.CHANGED]
    async with db.read_session() as s:
        (row,) = (await s.execute(select(AuditEntry).where(AuditEntry.action == 'staff_changed'))).scalars().all()[1:]
    assert row.detail == {
        'role': {'from': 'staff', 'to': 'reviewer'},
        'window_number': {'from': 2, 'to': None},
        'department_code': {'from': None, 'to': 'DEPT'},
    }


async def test_an_admin_resets_another_persons_authenticator_but_never_their_own(
    staff: StaffAdminService, db: Database
) -> None:
    caller = await admin(staff, db)
    await totp.enrol(db)
    assert (await staff.reset_second_factor(caller, 'boss')).second_factor is False
    with pytest.raises(Conflict) as refused:
        await staff.reset_second_factor(caller, 'adm01')
    assert refused.value.code == 'not_yourself'
    assert [row[1] for row in await audit_rows(db)] == ['staff_added', 'staff_second_factor_reset']
    assert {a.username: a.second_factor for a in await staff.accounts(caller)} == {
        'adm01': True,
        'boss': False,
        'w01': False,
    }


@pytest.mark.parametrize('who', NOT_ADMINS, ids=str)
async def test_only_admins_reset_an_authenticator(staff: StaffAdminService, db: Database, who: Principal) -> None:
    await totp.enrol(db)
    with pytest.raises((Forbidden, Unauthorized)):
        await staff.reset_second_factor(who, 'boss')
    assert (await staff.reset_second_factor(CLI, 'boss')).second_factor is False


async def test_every_account_change_is_announced_after_its_commit_and_a_refused_or_empty_one_is_not(
    staff: StaffAdminService, db: Database, bus: InProcessBus
) -> None:
    events: list[StaffChanged] = []
    bus.subscribe(events.append, StaffChanged, name='test')
    caller = await admin(staff, db)
    await staff.disable(caller, 'w01')
    await staff.disable(caller, 'w01')  # already disabled: nothing changes, nothing is announced
    await staff.enable(caller, 'w01')
    await staff.reset_password(caller, 'w01', password='Window-01-new-pass')
    await staff.change(caller, 'w01', window_number=2)
    await staff.change(caller, 'w01', window_number=2)
    with pytest.raises(NotFound):
        await staff.disable(caller, 'nobody')
    with pytest.raises(Conflict):
        await staff.disable(caller, 'adm01')
    await bus.drain()
    assert [(e.username, e.action, e.actor) for e in events] == [
        ('adm01', 'staff_added', 'cli:root'),
        ('w01', 'staff_disabled', 'adm01'),
        ('w01', 'staff_enabled', 'adm01'),
        ('w01', 'staff_password_reset', 'adm01'),
        ('w01', 'staff_changed', 'adm01'),
    ]
