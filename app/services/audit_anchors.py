"""Signed anchors of the audit chain's head, kept outside the database, so a cut-off tail shows.

A chain cannot show that its own last rows were deleted: the shorter chain is still consistent. An
anchor is the head at one moment (last row id, its hash, how many rows up to it, when), signed with
the audit key (HMAC-SHA256), written where the database's users cannot write: a JSON-lines file
(AUDIT_ANCHOR_FILE, default `$VAR_DIR/audit-anchors.jsonl`; created 0600, only ever appended to)
and, with REDIS_URL, a Redis list too. `verify` then checks every anchored row is still there and unchanged.

An anchor whose signature does not hold (forged, or made with another key) or that cannot be read
is never trusted: it is reported (`Rejected`), and the caller treats that as a finding.

The app anchors by itself (`anchor_audit` in app/jobs.py) whenever the head moved since its last
anchor; `python -m app.audit anchor` does it by hand. See docs/audit.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy import func, select
from sqlalchemy.orm import aliased
from sqlmodel import col

from app.clock import utcnow
from app.db import Database
from app.models.security import AuditEntry
from app.services.audit import GENESIS_HASH, AuditKeyMissing, Checkpoint

VERSION = 1
SIGNED_KIND = 'halltwin-audit-anchor'  # inside the signed text: an anchor's signature can sign nothing else
REDIS_KEEP = 1000  # the newest anchors kept in Redis (the file keeps every one)
FORGED = 'bad signature: forged, or signed with another key'
MALFORMED = 'not an anchor line'
_HEX = frozenset('0123456789abcdef')


@dataclass(frozen=True)
class Anchor:
    """The signed head of the chain at `at`."""

    last_id: int
    hash: str
    rows: int
    at: datetime
    signature: str

    @property
    def checkpoint(self) -> Checkpoint:
        return Checkpoint(self.last_id, self.hash, self.rows)

    def line(self) -> str:
        """The anchor as one JSON line (what the file and Redis store)."""
        return json.dumps({**_fields(self.last_id, self.hash, self.rows, self.at), 'sig': self.signature})


@dataclass(frozen=True)
class Rejected:
    """An anchor that is not trusted: where it was found and why."""

    source: str
    reason: str


@dataclass
class AnchorSet:
    """Every trusted anchor found, what was rejected, how many came from each store, and stores not read."""

    anchors: list[Anchor] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    found: dict[str, int] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)

    @property
    def checkpoints(self) -> list[Checkpoint]:
        return [anchor.checkpoint for anchor in self.anchors]


def _fields(last_id: int, head: str, rows: int, at: datetime) -> dict[str, Any]:
    return {
        'v': VERSION,
        'last_id': last_id,
        'hash': head,
        'rows': rows,
        'at': at.astimezone(UTC).isoformat(timespec='seconds'),
    }


def signature(key: bytes, last_id: int, head: str, rows: int, at: datetime) -> str:
    """HMAC-SHA256 with the audit key over a canonical JSON of the anchor's fields."""
    signed = {'kind': SIGNED_KIND, **_fields(last_id, head, rows, at)}
    canonical = json.dumps(signed, sort_keys=True, separators=(',', ':'))
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def make_anchor(key: bytes, head: Checkpoint, at: datetime) -> Anchor:
    at = at.astimezone(UTC).replace(microsecond=0)
    return Anchor(head.last_id, head.hash, head.rows, at, signature(key, head.last_id, head.hash, head.rows, at))


def _is_hex(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and set(value) <= _HEX


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def parse(line: str, key: bytes, source: str) -> Anchor | Rejected:
    """One stored line: a trusted Anchor only if well-formed and its signature holds with `key`."""
    try:
        data = json.loads(line)
        at = datetime.fromisoformat(data['at'])
        last_id, head, rows, sig = data['last_id'], data['hash'], data['rows'], data['sig']
    except (ValueError, TypeError, KeyError):
        return Rejected(source, MALFORMED)
    well_formed = data.get('v') == VERSION and _is_count(last_id) and _is_count(rows) and at.utcoffset() is not None
    if not (well_formed and _is_hex(head) and _is_hex(sig)):
        return Rejected(source, MALFORMED)
    if not hmac.compare_digest(signature(key, last_id, head, rows, at), sig):
        return Rejected(source, FORGED)
    return Anchor(last_id, head, rows, at, sig)


async def head(db: Database) -> Checkpoint:
    """The newest row and the number of rows up to it, in one statement (one consistent snapshot)."""
    newest = select(AuditEntry.id, AuditEntry.hash).order_by(col(AuditEntry.id).desc()).limit(1).subquery()
    earlier = aliased(AuditEntry)
    count = select(func.count()).select_from(earlier).where(col(earlier.id) <= newest.c.id).scalar_subquery()
    async with db.read_session() as session:
        row = (await session.execute(select(newest.c.id, newest.c.hash, count))).one_or_none()
    return Checkpoint(row[0], row[1], row[2]) if row else Checkpoint(0, GENESIS_HASH, 0)


class AnchorFile:
    """Anchors as JSON lines in a file only the app's user may read or write (0600 from creation)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, anchor: Anchor) -> None:
        """One write of one whole line in append mode, then fsync: an anchor is there or not, never half."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (anchor.line() + '\n').encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def lines(self) -> list[tuple[str, str]]:
        """(source, line) for every non-empty line; FileNotFoundError when there is no file."""
        with self.path.open(encoding='utf-8', errors='replace') as file:
            return [(f'{self.path}:{n}', line) for n, line in enumerate(file, 1) if line.strip()]


class AnchorRedis:
    """Anchors in a Redis list (the newest REDIS_KEEP). Its name comes from the key, so two deployments
    sharing one Redis never read each other's anchors."""

    def __init__(self, url: str, key: bytes) -> None:
        self.url = url
        self.name = 'halltwin:audit:anchors:' + hmac.new(key, b'anchor-list', hashlib.sha256).hexdigest()[:16]

    async def append(self, anchor: Anchor) -> None:
        client = aioredis.from_url(self.url)
        try:
            await client.rpush(self.name, anchor.line())
            await client.ltrim(self.name, -REDIS_KEEP, -1)
        finally:
            await client.aclose()

    async def lines(self) -> list[tuple[str, str]]:
        client = aioredis.from_url(self.url)
        try:
            items = await client.lrange(self.name, 0, -1)
        finally:
            await client.aclose()
        return [(f'redis {self.name}[{n}]', item.decode('utf-8', 'replace')) for n, item in enumerate(items)]


class AuditAnchors:
    """Anchor the head to every store, and read the anchors back for `verify`."""

    def __init__(
        self, db: Database, *, path: Path, redis_url: str = '', clock: Callable[[], datetime] = utcnow
    ) -> None:
        if not db.audit_key:
            raise AuditKeyMissing()
        self.db = db
        self.key = db.audit_key
        self.file = AnchorFile(path)
        self.redis = AnchorRedis(redis_url, self.key) if redis_url else None
        self.clock = clock
        self._last: Checkpoint | None = None

    async def anchor(self) -> Anchor:
        """Sign the current head and append it to the file, then to Redis (a Redis error is raised after
        the file has it)."""
        current = await head(self.db)
        anchor = make_anchor(self.key, current, self.clock())
        await asyncio.to_thread(self.file.append, anchor)
        self._last = current
        if self.redis is not None:
            await self.redis.append(anchor)
        return anchor

    async def anchor_if_moved(self) -> Anchor | None:
        """What the periodic job does: anchor only when the head moved since this object's last anchor."""
        if await head(self.db) == self._last:
            return None
        return await self.anchor()

    async def load(self, *, require_file: bool = False) -> AnchorSet:
        """Every anchor of both stores, sorted into trusted and rejected. A missing file is no anchors
        (or FileNotFoundError with `require_file`); an unreachable Redis is listed in `unreadable`."""
        found = AnchorSet()
        try:
            self._sort(found, 'file', await asyncio.to_thread(self.file.lines))
        except FileNotFoundError:
            if require_file:
                raise
            found.found['file'] = 0
        if self.redis is not None:
            try:
                self._sort(found, 'redis', await self.redis.lines())
            except (RedisError, OSError) as error:
                found.unreadable.append(f'redis: {error}')
        return found

    def _sort(self, found: AnchorSet, store: str, lines: list[tuple[str, str]]) -> None:
        found.found[store] = len(lines)
        for source, line in lines:
            parsed = parse(line, self.key, source)
            if isinstance(parsed, Anchor):
                found.anchors.append(parsed)
            else:
                found.rejected.append(parsed)
