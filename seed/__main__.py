"""`python -m seed`: load the hall description HALL_SEED into the (already migrated) database and say what changed.

`--empty` loads the hall alone: no accounts from staff.yaml, no synthetic department data or history.
`python -m seed schema` prints the description's JSON schema (docs/hall-description.schema.json).
New accounts' passwords exist only in this run's output, so they are printed once, in a block that
asks the operator to keep them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import unicodedata

from app.clock import hall_day, utcnow
from app.db import Database
from app.settings import Settings, get_settings
from seed.department_records import load_department_records
from seed.description import hall_description_schema
from seed.history import ensure_history
from seed.loader import SeedReport, load_seed
from seed.schema import SeedError, read_seed, read_vocabulary


async def _run(settings: Settings, *, empty: bool) -> SeedReport:
    db = Database(settings.db_url)
    try:
        read_vocabulary(settings.hall_seed)  # the app reads assistant.yaml at start: a bad one is said here first
        report = await load_seed(db, seed_name=settings.hall_seed, secret=settings.secret, empty=empty)
        if empty:
            return report
        hall = read_seed(settings.hall_seed).hall
        if hall.synthetic_history and (
            history := await ensure_history(db, hall_code=hall.code, end=hall_day(utcnow(), settings.tz))
        ):
            report.created['arrival_history'] += history  # a synthetic year, only while the hall has none
        records = await load_department_records(db, seed_name=settings.hall_seed, secret=settings.secret)
        report.created['department_record'] += records['created']
        report.updated['department_record'] += records['updated']
        return report
    finally:
        await db.dispose()


def _summary(seed_name: str, report: SeedReport) -> str:
    """One headline, then one line per table that changed."""
    if not report.changes:
        return f'种子数据 {seed_name} 已是最新，无改动 / seed {seed_name!r} is up to date, nothing changed'
    lines = [
        f'种子数据 {seed_name} 已载入 / seed {seed_name!r} loaded: '
        f'新建 created {report.created.total()}, 更新 updated {report.updated.total()}, '
        f'移除 removed {report.removed.total()}'
    ]
    for table in sorted(report.created | report.updated | report.removed):
        lines.append(f'  {table:<15} +{report.created[table]}  ~{report.updated[table]}  -{report.removed[table]}')
    return '\n'.join(lines)


def _accounts_block(report: SeedReport) -> str:
    rule = '=' * 72
    lines = [rule, '首次初始化账户（请妥善保存，仅显示一次）/ first-run accounts, shown once', rule]
    lines.append(f'  {_pad("用户名 username", 18)}{_pad("角色 role", 14)}密码 password')
    for username, password in report.new_passwords.items():
        lines.append(f'  {_pad(username, 18)}{_pad(report.new_roles[username], 14)}{password}')
    lines.append(rule)
    return '\n'.join(lines)


def _pad(text: str, width: int) -> str:
    """Pad to a terminal width: CJK characters take two columns, so str.ljust misaligns them."""
    columns = sum(2 if unicodedata.east_asian_width(char) in 'WF' else 1 for char in text)
    return text + ' ' * max(width - columns, 1)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog='python -m seed', description='load the hall description HALL_SEED')
    parser.add_argument('command', nargs='?', choices=('load', 'schema'), default='load')
    parser.add_argument(
        '--empty', action='store_true', help='the hall alone: no staff accounts, no synthetic data or history'
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = _arguments(argv)
    if arguments.command == 'schema':
        print(json.dumps(hall_description_schema(), ensure_ascii=False, indent=2))
        return 0
    settings = get_settings()
    try:
        report = asyncio.run(_run(settings, empty=arguments.empty))
    except SeedError as error:
        print(f'种子数据无效 / invalid seed: {error}', file=sys.stderr)
        return 1
    print(_summary(settings.hall_seed, report))
    if report.new_passwords:
        print(_accounts_block(report))
    return 0


if __name__ == '__main__':
    sys.exit(main())
