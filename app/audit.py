"""`python -m app.audit verify | tail [-n 20]`: check the audit chain, or show its newest rows.

`verify` exits 0 when the chain is intact and 1 at the first edited, deleted or inserted row, so it
can run from cron or a monitoring check. It also prints the head hash: write it down elsewhere, since
a chain cannot show that its own last rows were cut off (see app/services/audit.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from zoneinfo import ZoneInfo

from sqlalchemy.exc import DBAPIError

from app.db import Database
from app.models.security import AuditEntry
from app.services.audit import VerifyResult, last_entries, verify
from app.settings import ConfigError, get_settings

EXIT_INTACT = 0
EXIT_BROKEN = 1
EXIT_ERROR = 2


def mask_address(address: str) -> str:
    """Client addresses are personal data: show the network, hide the host part."""
    if '.' in address:
        return '.'.join([*address.split('.')[:3], '*'])
    if ':' in address:
        return ':'.join([*address.split(':')[:3], '*'])
    return address


def verify_message(result: VerifyResult) -> str:
    if result.ok:
        return f'审计链完整 / audit chain intact: {result.rows} rows\n最新哈希 / head hash: {result.head_hash}'
    return f'审计链被篡改 / audit chain broken at row {result.bad_row_id}: {result.reason}'


def format_entry(entry: AuditEntry, tz: ZoneInfo) -> str:
    at = entry.at.astimezone(tz).strftime('%Y-%m-%d %H:%M:%S')
    detail = json.dumps(entry.detail, ensure_ascii=False, sort_keys=True) if entry.detail else ''
    fields = [str(entry.id), at, entry.actor, entry.role, entry.action, entry.target, entry.outcome]
    return '  '.join([*fields, detail, mask_address(entry.client_address), entry.hash[:12]]).rstrip()


async def _verify(url: str) -> int:
    db = Database(url)
    try:
        result = await verify(db)
    finally:
        await db.dispose()
    print(verify_message(result))
    return EXIT_INTACT if result.ok else EXIT_BROKEN


async def _tail(url: str, limit: int, tz: ZoneInfo) -> int:
    db = Database(url)
    try:
        entries = await last_entries(db, limit)
    finally:
        await db.dispose()
    for entry in entries:
        print(format_entry(entry, tz))
    return EXIT_INTACT


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='python -m app.audit', description='HallTwin audit log')
    commands = parser.add_subparsers(dest='command', required=True)
    commands.add_parser('verify', help='check every row of the hash chain')
    tail = commands.add_parser('tail', help='print the newest rows (masked, no raw personal data)')
    tail.add_argument('-n', type=int, default=20, help='how many rows (default 20)')
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code (0 intact, 1 broken, 2 cannot check)."""
    args = _parser().parse_args(argv)
    try:
        settings = get_settings()
        if args.command == 'verify':
            return asyncio.run(_verify(settings.db_url))
        return asyncio.run(_tail(settings.db_url, max(args.n, 1), settings.tz))
    except ConfigError as error:
        print(error, file=sys.stderr)
    except DBAPIError as error:
        print(
            f'无法读取审计表 / cannot read the audit table: {error.orig} (run python -m app.migrate?)', file=sys.stderr
        )
    return EXIT_ERROR


if __name__ == '__main__':
    sys.exit(main())
