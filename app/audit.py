"""`python -m app.audit verify [--anchors PATH] | anchor [--out PATH] | tail [-n 20]`: the audit log's commands.

`verify` checks every row of the keyed chain and every signed anchor (app/services/audit_anchors.py):
exit 0 when intact, 1 at the first edited, deleted or inserted row, at a truncation after an anchor,
or when an anchor is forged or unreadable (reported, never trusted), 2 when it cannot check (no
audit table, no key, an --anchors file that is not there). So it can run from cron or a monitoring
check. `anchor` signs the current head and appends it to the anchor file (and to Redis when REDIS_URL
is set). `tail` prints the newest rows, masked. See docs/audit.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError

from app.db import Database
from app.models.security import AuditEntry
from app.security.keys import Purpose
from app.security.masking import mask_address
from app.services.audit import REWRITTEN, TRUNCATED, VerifyResult, last_entries, verify
from app.services.audit_anchors import AnchorSet, AuditAnchors
from app.settings import ConfigError, Settings, get_settings

EXIT_INTACT = 0
EXIT_BROKEN = 1
EXIT_ERROR = 2


class CannotCheck(Exception):
    """Something the command needs is missing or failed (printed, exit 2)."""


def verify_message(result: VerifyResult) -> str:
    if result.ok:
        return f'审计链完整 / audit chain intact: {result.rows} rows\n最新哈希 / head hash: {result.head_hash}'
    if result.reason in (TRUNCATED, REWRITTEN):
        return f'审计链被截断或改写 / audit chain truncated at anchored row {result.bad_row_id}: {result.reason}'
    return f'审计链被篡改 / audit chain broken at row {result.bad_row_id}: {result.reason}'


def anchors_message(result: VerifyResult, found: AnchorSet) -> list[str]:
    """What the anchors added to the check, and every anchor that was not trusted."""
    lines = [
        f'伪造或损坏的锚点，未采信 / anchor not trusted ({rejected.reason}): {rejected.source}'
        for rejected in found.rejected
    ]
    lines += [f'无法读取锚点 / anchors not read: {problem}' for problem in found.unreadable]
    if result.ok and found.anchors:
        stores = ', '.join(f'{store} {count}' for store, count in found.found.items())
        lines.append(f'锚点核对无误 / anchors held: {result.checkpoints} ({stores})')
    elif result.ok:
        lines.append('没有锚点，无法发现尾部被截断 / no anchors: a cut-off tail cannot be detected (see: anchor)')
    return lines


def format_entry(entry: AuditEntry, tz: ZoneInfo) -> str:
    at = entry.at.astimezone(tz).strftime('%Y-%m-%d %H:%M:%S')
    detail = json.dumps(entry.detail, ensure_ascii=False, sort_keys=True) if entry.detail else ''
    fields = [str(entry.id), at, entry.actor, entry.role, entry.action, entry.target, entry.outcome]
    return '  '.join([*fields, detail, mask_address(entry.client_address), entry.hash[:12]]).rstrip()


def audit_key(settings: Settings) -> bytes:
    """The audit key, never a new one: a key generated now could only ever say "broken"."""
    if not settings.secret_key and not (settings.var_dir / 'secret_key').exists():
        raise CannotCheck(
            f'没有 SECRET_KEY，也没有 {settings.var_dir / "secret_key"}：无法核验带密钥的审计链 / '
            'no SECRET_KEY and no var/secret_key: the keyed chain cannot be checked'
        )
    return settings.key(Purpose.AUDIT)


def anchor_path(settings: Settings, given: str | None) -> Path:
    return Path(given) if given else settings.anchor_file


async def _verify(settings: Settings, anchors_file: str | None) -> int:
    db = Database(settings.db_url, audit_key=audit_key(settings))
    try:
        anchors = AuditAnchors(db, path=anchor_path(settings, anchors_file), redis_url=settings.redis_url)
        try:
            found = await anchors.load(require_file=anchors_file is not None)
        except FileNotFoundError as error:
            raise CannotCheck(f'找不到锚点文件 / no anchor file: {error.filename}') from None
        result = await verify(db, checkpoints=found.checkpoints)
    finally:
        await db.dispose()
    print(verify_message(result))
    for line in anchors_message(result, found):
        print(line)
    return EXIT_INTACT if result.ok and not found.rejected and not found.unreadable else EXIT_BROKEN


async def _anchor(settings: Settings, out: str | None) -> int:
    db = Database(settings.db_url, audit_key=audit_key(settings))
    try:
        anchors = AuditAnchors(db, path=anchor_path(settings, out), redis_url=settings.redis_url)
        try:
            anchor = await anchors.anchor()
        except (RedisError, OSError) as error:
            raise CannotCheck(f'锚点未能全部写入 / could not write the anchor everywhere: {error}') from error
    finally:
        await db.dispose()
    stores = f'{anchors.file.path}' + (' + Redis' if anchors.redis is not None else '')
    print(f'已写入锚点 / anchored to {stores}: row {anchor.last_id}, {anchor.rows} rows, head hash {anchor.hash}')
    return EXIT_INTACT


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
    check = commands.add_parser('verify', help='check every row of the keyed chain and every signed anchor')
    check.add_argument('--anchors', help='anchor file (default: AUDIT_ANCHOR_FILE or $VAR_DIR/audit-anchors.jsonl)')
    anchor = commands.add_parser('anchor', help='sign the current head and append it to the anchor file (and Redis)')
    anchor.add_argument('--out', help='anchor file (default: as for verify), created 0600; Redis too with REDIS_URL')
    tail = commands.add_parser('tail', help='print the newest rows (masked, no raw personal data)')
    tail.add_argument('-n', type=int, default=20, help='how many rows (default 20)')
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code (0 intact, 1 broken, 2 cannot check)."""
    args = _parser().parse_args(argv)
    try:
        settings = get_settings()
        if args.command == 'verify':
            return asyncio.run(_verify(settings, args.anchors))
        if args.command == 'anchor':
            return asyncio.run(_anchor(settings, args.out))
        return asyncio.run(_tail(settings.db_url, max(args.n, 1), settings.tz))
    except ConfigError as error:
        print(error, file=sys.stderr)
    except CannotCheck as error:
        print(error, file=sys.stderr)
    except DBAPIError as error:
        print(
            f'无法读取审计表 / cannot read the audit table: {error.orig} (run python -m app.migrate?)', file=sys.stderr
        )
    return EXIT_ERROR


if __name__ == '__main__':
    sys.exit(main())
