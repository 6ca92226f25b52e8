"""`python -m app.users`: staff accounts from the command line, by the same rules as the admin console.

    list | add NAME --role R [--window N] [--department D] [--name TEXT] | disable NAME | enable NAME
    | reset NAME | reset-2fa NAME | set NAME [--role R] [--window N|none] [--department D|none]

`add` and `reset` read the password from standard input (one line), so it never appears in shell history
or ps. Every change goes through StaffAdminService and is audited as `cli:<os user>`. With REDIS_URL set
the command publishes over the hall's Redis bus like the app does: the open pages of a disabled person end
at once and open admin pages redraw their staff list. Without it those pages end at their process's next
session check (SESSION_CHECK_SECONDS); the sessions themselves are revoked at once either way.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable

from sqlmodel import select

from app.bus_redis import RedisBus, hall_stream
from app.clock import utcnow
from app.db import Database
from app.models.hall import Window
from app.models.people import ACCOUNT_ROLES, Role, StaffUser
from app.security.keys import Purpose
from app.security.passwords import check_strength, hash_password
from app.services.deps import build_deps
from app.services.errors import DomainError
from app.services.halls import HallMissing, hall_to_serve
from app.services.principal import Principal
from app.services.staff_admin import KEEP, StaffAccount, StaffAdminService
from app.services.uow import unit_of_work
from app.settings import ConfigError, get_settings

NONE = 'none'  # `set --window none`: the account keeps no window


class UserError(Exception):
    pass


async def add_user(
    db: Database,
    *,
    username: str,
    role: Role,
    password: str,
    window_number: int | None,
    display_name: str | None = None,
    hall_code: str = '',
) -> StaffUser:
    """An account written straight to the database, unaudited: for tests that build a hall before any app runs.

    It belongs to the hall `hall_code` (empty: the first hall); a city manager to none."""
    check_strength(password)
    async with unit_of_work(db) as uow:
        s = uow.session
        if (await s.execute(select(StaffUser).where(StaffUser.username == username))).first():
            raise UserError(f'用户 {username} 已存在 / user {username} already exists')
        try:
            hall = await hall_to_serve(s, hall_code)
        except HallMissing as error:
            raise UserError(str(error)) from None
        window_id = None
        if window_number is not None:
            statement = select(Window).where(Window.hall_id == hall.id, Window.number == window_number)
            window = (await s.execute(statement)).scalar_one_or_none()
            if window is None:
                raise UserError(f'没有 {window_number} 号窗口 / no window {window_number}')
            window_id = window.id
        user = StaffUser(
            username=username,
            display_name=display_name or username,
            role=role,
            window_id=window_id,
            hall_id=None if role == Role.CITY else hall.id,
            password_hash=hash_password(password),
            created_at=utcnow(),
        )
        s.add(user)
    return user


def _window(value: str) -> int | None:
    if value.lower() == NONE:
        return None
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f'窗口号须为数字或 none / a window number or none, not {value!r}') from None


def _department(value: str) -> str | None:
    return None if value.lower() == NONE else value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='python -m app.users', description='Manage staff accounts.')
    commands = parser.add_subparsers(dest='command', required=True)
    roles = [r.value for r in ACCOUNT_ROLES]  # city managers only from here or the seed, never from /admin
    commands.add_parser('list', help='every account: role, window, department, state')
    add = commands.add_parser('add', help='create an account; the password is read from stdin')
    add.add_argument('username')
    add.add_argument('--role', required=True, choices=roles)
    add.add_argument('--window', type=int, help='window number (staff)')
    add.add_argument('--department', help='department code (reviewers)')
    add.add_argument('--name', default='', help='display name')
    for verb, text in (('disable', 'refuse logins and end every session now'), ('enable', 'allow logins again')):
        commands.add_parser(verb, help=text).add_argument('username')
    commands.add_parser('reset', help='set a new password, read from stdin; ends every session').add_argument(
        'username'
    )
    commands.add_parser(
        'reset-2fa', help='remove the authenticator and recovery codes (a lost phone); ends every session'
    ).add_argument('username')
    change = commands.add_parser('set', help='change role, window or department')
    change.add_argument('username')
    change.add_argument('--role', choices=roles)
    change.add_argument('--window', type=_window, default=KEEP, help='window number, or none')
    change.add_argument('--department', type=_department, default=KEEP, help='department code, or none')
    return parser


def _line(account: StaffAccount) -> str:
    window = f'{account.window_number}号窗口/window {account.window_number}' if account.window_number else '-'
    state = ('在用/active' if account.active else '已停用/disabled') + (' 已锁定/locked' if account.locked else '')
    if account.must_change_password:
        state += ' 待改密码/must change password'
    fields = (account.username, account.display_name, account.role, window, account.department_code or '-', state)
    return '\t'.join(fields)


async def _with_service(run: Callable[[StaffAdminService], Awaitable[str]]) -> str:
    settings = get_settings()
    db = Database(settings.db_url, audit_key=settings.key(Purpose.AUDIT))
    try:
        try:
            async with db.read_session() as s:
                hall = await hall_to_serve(s, settings.hall_code)
        except HallMissing as error:
            raise UserError(str(error)) from None
        hall_id = hall.id
        assert hall_id is not None
        bus = (
            RedisBus(settings.redis_url, key=settings.key(Purpose.BUS), stream=hall_stream(hall.code))
            if settings.redis_url
            else None
        )
        if bus is not None:
            await bus.start()
        deps = build_deps(settings, db, bus, hall_id=hall_id)
        try:
            return await run(StaffAdminService(deps))
        finally:
            await deps.limits.close()
            if bus is not None:
                await bus.stop()  # sends what the change published before the command returns
    finally:
        await db.dispose()


def _verb(args: argparse.Namespace, caller: Principal, password: str) -> Callable[[StaffAdminService], Awaitable[str]]:
    """What the command does with the service, and the line it prints."""

    async def run(staff: StaffAdminService) -> str:
        match args.command:
            case 'list':
                return '\n'.join(_line(a) for a in await staff.accounts(caller)) or '没有账号 / no accounts'
            case 'add':
                issued = await staff.add(
                    caller,
                    username=args.username,
                    role=Role(args.role),
                    display_name=args.name,
                    password=password,
                    window_number=args.window,
                    department_code=args.department,
                )
                return f'已创建 / created {issued.account.username} ({issued.account.role})'
            case 'disable':
                await staff.disable(caller, args.username)
                return f'已停用，会话已结束 / disabled {args.username}; their sessions ended'
            case 'enable':
                await staff.enable(caller, args.username)
                return f'已启用 / enabled {args.username}'
            case 'reset':
                await staff.reset_password(caller, args.username, password=password)
                return f'密码已重置，会话已结束 / password reset for {args.username}; their sessions ended'
            case 'reset-2fa':
                await staff.reset_second_factor(caller, args.username)
                return f'动态验证码已移除 / authenticator removed: {args.username} sets one up at the next login'
            case _:
                role = Role(args.role) if args.role else None
                account = await staff.change(
                    caller, args.username, role=role, window_number=args.window, department_code=args.department
                )
                return f'已更新 / updated {_line(account)}'

    return run


def main(argv: list[str] | None = None) -> int:
    """Run one verb; 0 done, 1 refused (the reason on stderr), 2 not configured."""
    args = _parser().parse_args(argv)
    password = sys.stdin.readline().rstrip('\n') if args.command in ('add', 'reset') else ''
    try:
        get_settings()
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    caller = Principal.cli(getpass.getuser())
    try:
        print(asyncio.run(_with_service(_verb(args, caller, password))))
    except DomainError as error:
        print(f'halltwin: {error.message}', file=sys.stderr)
        return 1
    except UserError as error:
        print(f'halltwin: {error}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
