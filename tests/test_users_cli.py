"""`python -m app.users`: each verb does what the console does, audited as the operator, with one-line errors and
exit codes (0 done, 1 refused, 2 not usable)."""

from __future__ import annotations

import asyncio
import getpass
import io
from collections.abc import Awaitable, Callable, Iterator

import pytest
from sqlmodel import col, select

from app.bus_redis import RedisBus, hall_stream
from app.db import Database
from app.events import Event, SessionEnded, StaffChanged
from app.models import AuditEntry
from app.models.people import StaffTotp, StaffUser
from app.security.keys import Purpose
from app.services.auth import AuthService
from app.services.errors import Unauthorized
from app.settings import get_settings
from app.users import main
from tests import totp
from tests.callers import deps_for
from tests.factories import SmallHall

OPERATOR = f'cli:{getpass.getuser()}'
REDIS = 'redis://127.0.0.1:6379/0'
Cli = Callable[..., Awaitable[tuple[int, str, str]]]


@pytest.fixture
def cli(
    db: Database, hall: SmallHall, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Cli]:
    """Run `main(argv)` against the test's database with `stdin` as standard input: (exit code, stdout, stderr)."""
    monkeypatch.setenv('DATABASE_URL', db.url)
    get_settings.cache_clear()

    async def run(*argv: str, stdin: str = '') -> tuple[int, str, str]:
        monkeypatch.setattr('sys.stdin', io.StringIO(stdin))
        code = await asyncio.to_thread(main, list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    yield run
    get_settings.cache_clear()


@pytest.fixture
def auth(db: Database, hall: SmallHall) -> AuthService:
    return AuthService(deps_for(db, hall_id=hall.hall_id))


async def audit_rows(db: Database) -> list[tuple[str, str, str]]:
    async with db.read_session() as s:
        rows = (await s.execute(select(AuditEntry).order_by(col(AuditEntry.id)))).scalars()
        return [(e.actor, e.action, e.target) for e in rows if e.action.startswith('staff_')]


async def test_add_creates_an_account_from_the_password_on_stdin_and_audits_the_operator(
    cli: Cli, auth: AuthService, db: Database
) -> None:
    code, out, err = await cli(
        'add', 'rv02', '--role', 'reviewer', '--department', 'DEPT', '--name', '赵六', stdin='Review-02-pass\n'
    )
    assert code == 0, err
    assert 'rv02' in out and 'Review-02-pass' not in out + err
    issued = await auth.login('rv02', 'Review-02-pass')
    assert issued.principal.department_id is not None and issued.principal.display_name == '赵六'
    assert await audit_rows(db) == [(OPERATOR, 'staff_added', 'staff:rv02')]

    for argv, stdin, words in (
        (('add', 'rv03', '--role', 'staff'), 'short\n', '至少 10 位'),
        (('add', 'rv02', '--role', 'staff'), 'Another-Pass-1\n', 'rv02'),
        (('add', 'rv04', '--role', 'staff', '--window', '99'), 'Another-Pass-1\n', '99'),
        (('add', 'rv05', '--role', 'reviewer', '--department', 'NOPE'), 'Another-Pass-1\n', 'NOPE'),
    ):
        code, out, err = await cli(*argv, stdin=stdin)
        assert code == 1 and out == '' and words in err and err.count('\n') == 1, err
    assert len(await audit_rows(db)) == 1


async def test_list_shows_every_account_with_role_window_and_state_and_no_password_data(cli: Cli) -> None:
    code, out, err = await cli('list')
    assert code == 0, err
    lines = out.strip().splitlines()
    assert [line.split('\t')[0] for line in lines] == ['boss', 'w01']
    assert 'manager' in lines[0] and 'staff' in lines[1] and '1号窗口' in lines[1] and 'active' in lines[1]
    assert '$argon2' not in out


async def test_disable_ends_the_clerks_session_at_once_and_login_is_refused(
    cli: Cli, auth: AuthService, db: Database
) -> None:
    token = await auth.login('w01', 'Window-01-pass')
    code, out, err = await cli('disable', 'w01')
    assert code == 0 and 'w01' in out, err
    with pytest.raises(Unauthorized):
        await auth.authenticate(token.token)
    with pytest.raises(Unauthorized):
        await auth.login('w01', 'Window-01-pass')
    assert 'disabled' in (await cli('list'))[1]

    code, out, err = await cli('disable', 'nobody')
    assert code == 1 and 'nobody' in err and err.count('\n') == 1
    assert await audit_rows(db) == [(OPERATOR, 'staff_disabled', 'staff:w01')]


async def test_enable_lets_a_disabled_clerk_log_in_again(cli: Cli, auth: AuthService, db: Database) -> None:
    assert (await cli('disable', 'w01'))[0] == 0
    code, out, err = await cli('enable', 'w01')
    assert code == 0 and 'w01' in out, err
    assert (await auth.login('w01', 'Window-01-pass')).principal.name == 'w01'
    assert [row[1] for row in await audit_rows(db)] == ['staff_disabled', 'staff_enabled']


async def test_reset_sets_the_password_from_stdin_and_ends_every_session(
    cli: Cli, auth: AuthService, db: Database
) -> None:
    token = await auth.login('w01', 'Window-01-pass')
    code, out, err = await cli('reset', 'w01', stdin='Fresh-Start-2026\n')
    assert code == 0 and 'w01' in out and 'Fresh-Start-2026' not in out, err
    with pytest.raises(Unauthorized):
        await auth.authenticate(token.token)
    with pytest.raises(Unauthorized):
        await auth.login('w01', 'Window-01-pass')
    assert (await auth.login('w01', 'Fresh-Start-2026')).principal.name == 'w01'  # typed by the operator: kept

    code, _, err = await cli('reset', 'w01', stdin='weak\n')
    assert code == 1 and err.count('\n') == 1
    assert [row[1] for row in await audit_rows(db)] == ['staff_password_reset']


async def test_reset_2fa_removes_the_authenticator_and_ends_every_session(
    cli: Cli, auth: AuthService, db: Database
) -> None:
    await totp.enrol(db)
    token = await totp.login(auth, 'boss', 'Manager-01-pass')
    code, out, err = await cli('reset-2fa', 'boss')
    assert code == 0 and 'boss' in out, err
    with pytest.raises(Unauthorized):
        await auth.authenticate(token.token)
    async with db.read_session() as s:
        boss = (await s.execute(select(StaffUser).where(StaffUser.username == 'boss'))).scalar_one()
        assert await s.get(StaffTotp, boss.id) is None
    assert (await auth.login('boss', 'Manager-01-pass')).enrolment_only  # the password alone: set one up again
    code, _, err = await cli('reset-2fa', 'nobody')
    assert code == 1 and err.count('\n') == 1
    assert [row[1] for row in await audit_rows(db)] == ['staff_second_factor_reset']


async def test_set_changes_role_window_and_department(
    cli: Cli, auth: AuthService, db: Database, hall: SmallHall
) -> None:
    code, out, err = await cli('set', 'w01', '--window', '2')
    assert code == 0 and '2号窗口' in out, err
    assert (await auth.login('w01', 'Window-01-pass')).principal.window_id == hall.window_2

    code, out, err = await cli('set', 'w01', '--role', 'reviewer', '--window', 'none', '--department', 'DEPT')
    assert code == 0, err
    issued = await auth.login('w01', 'Window-01-pass')
    assert (issued.principal.role, issued.principal.window_id) == ('reviewer', None)
    assert issued.principal.department_id is not None

    code, _, err = await cli('set', 'w01', '--window', '99')
    assert code == 1 and '99' in err
    with pytest.raises(SystemExit) as usage:
        await cli('set', 'w01', '--role', 'citizen')
    assert usage.value.code == 2
    assert [row[1] for row in await audit_rows(db)] == ['staff_changed', 'staff_changed']


async def test_with_redis_a_disable_from_the_cli_ends_open_pages_and_redraws_admin_lists_at_once(
    cli: Cli, auth: AuthService, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = await auth.login('w01', 'Window-01-pass')
    monkeypatch.setenv('REDIS_URL', REDIS)
    get_settings.cache_clear()
    app_process = RedisBus(REDIS, key=get_settings().key(Purpose.BUS), stream=hall_stream('main'))  # the hall's app
    await app_process.start()
    heard: list[Event] = []
    app_process.subscribe(heard.append, SessionEnded, StaffChanged, name='test')
    try:
        code, _, err = await cli('disable', 'w01')
        assert code == 0, err
        for _ in range(50):
            if len(heard) >= 2:
                break
            await asyncio.sleep(0.1)
    finally:
        await app_process.stop()
    ended = [e for e in heard if isinstance(e, SessionEnded) and e.session_id == token.principal.session_id]
    assert [e.reason for e in ended] == ['deactivated']
    assert [(e.username, e.action, e.actor) for e in heard if isinstance(e, StaffChanged)] == [
        ('w01', 'staff_disabled', OPERATOR)
    ]
