"""`python -m app.users add NAME --role ROLE [--window NUMBER]`: create a staff account.

The password is read from standard input (one line), so it never appears in shell history or ps.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from sqlmodel import select

from app.clock import utcnow
from app.db import Database
from app.models.hall import Window
from app.models.people import STAFF_ROLES, Role, StaffUser
from app.security.passwords import WeakPasswordError, check_strength, hash_password
from app.services.uow import unit_of_work
from app.settings import ConfigError, get_settings


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
) -> StaffUser:
    check_strength(password)
    async with unit_of_work(db) as uow:
        s = uow.session
        if (await s.execute(select(StaffUser).where(StaffUser.username == username))).first():
            raise UserError(f'用户 {username} 已存在 / user {username} already exists')
        window_id = None
        if window_number is not None:
            window = (await s.execute(select(Window).where(Window.number == window_number))).scalar_one_or_none()
            if window is None:
                raise UserError(f'没有 {window_number} 号窗口 / no window {window_number}')
            window_id = window.id
        user = StaffUser(
            username=username,
            display_name=display_name or username,
            role=role,
            window_id=window_id,
            password_hash=hash_password(password),
            created_at=utcnow(),
        )
        s.add(user)
    return user


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='python -m app.users', description='Manage staff accounts.')
    commands = parser.add_subparsers(dest='command', required=True)
    add = commands.add_parser('add', help='create an account; the password is read from stdin')
    add.add_argument('username')
    add.add_argument('--role', required=True, choices=[r.value for r in STAFF_ROLES])
    add.add_argument('--window', type=int, help='window number (staff)')
    add.add_argument('--name', help='display name')
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    password = sys.stdin.readline().rstrip('\n')
    try:
        settings = get_settings()
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2

    async def run() -> StaffUser:
        db = Database(settings.db_url)
        try:
            return await add_user(
                db,
                username=args.username,
                role=Role(args.role),
                password=password,
                window_number=args.window,
                display_name=args.name,
            )
        finally:
            await db.dispose()

    try:
        user = asyncio.run(run())
    except (UserError, WeakPasswordError) as error:
        print(f'halltwin: {error}', file=sys.stderr)
        return 1
    print(f'已创建 / created {user.username} ({user.role})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
