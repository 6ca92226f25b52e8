"""The audit log for admins: browse it with filters, check the chain, export it as CSV.

Reading is admins' alone. What leaves the server is masked: on screen as the rows were written (ID numbers
and mobiles already masked, addresses cut to their network); in an export, ID numbers and mobiles are
replaced by stars entirely, because a file travels further than a screen. Every export writes its own
audit row (who, which filter, how many rows) before the file is handed out, and each CSV cell that a
spreadsheet would run as a formula (= + - @) is neutralised.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from app.models.people import Role
from app.models.security import AuditEntry
from app.security.masking import mask_address, mask_text, mask_text_fully
from app.services import audit
from app.services.audit_anchors import AuditAnchors
from app.services.errors import Invalid
from app.services.principal import Principal
from app.services.uow import Service

PAGE_SIZE = 50
PAGE_SIZE_MAX = 200
EXPORT_MAX_ROWS = 50_000
ACTOR_MAX = 64
ACTION_MAX = 48
FORMULA_STARTS = ('=', '+', '-', '@', '\t', '\r')
EXPORT_TARGET = 'audit_log'
CSV_COLUMNS = ('id', 'time', 'actor', 'role', 'action', 'target', 'outcome', 'detail', 'client_address', 'hash')


@dataclass(frozen=True)
class AuditFilter:
    """Which rows: `actor` contains this text, `action` is exactly this, between the hall days `since` and
    `until` (both included). Empty means any."""

    actor: str = ''
    action: str = ''
    since: dt.date | None = None
    until: dt.date | None = None

    def checked(self) -> AuditFilter:
        """Trimmed, within the columns' lengths and in order; Invalid otherwise (nothing is read)."""
        actor, action = self.actor.strip(), self.action.strip()
        if len(actor) > ACTOR_MAX or len(action) > ACTION_MAX:
            raise Invalid('audit_filter_too_long', max=ACTOR_MAX)
        if any(not char.isprintable() for char in actor + action):  # PostgreSQL refuses NUL; none is typed
            raise Invalid('audit_filter_unprintable')
        if self.since is not None and self.until is not None and self.since > self.until:
            raise Invalid('audit_range')
        return AuditFilter(actor, action, self.since, self.until)

    def as_detail(self) -> dict[str, str]:
        """The filter as the export's audit row keeps it (only what was set)."""
        values = {
            'actor': self.actor,
            'action': self.action,
            'since': self.since.isoformat() if self.since else '',
            'until': self.until.isoformat() if self.until else '',
        }
        return {key: value for key, value in values.items() if value}


@dataclass(frozen=True)
class AuditRow:
    """One row as a person may see it: time in the hall's zone, personal values masked, detail as text."""

    id: int
    at: dt.datetime
    actor: str
    role: str
    action: str
    target: str
    outcome: str
    detail: dict[str, Any]
    client_address: str
    hash: str


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    total: int
    page: int
    pages: int


@dataclass(frozen=True)
class ChainCheck:
    """The chain check's answer: `problem` is '' (intact), 'edited', 'link', 'truncated' or 'rewritten', at
    `bad_row_id`. Anchors: how many held, were not trusted (forged, damaged) or could not be read."""

    ok: bool
    rows: int
    bad_row_id: int | None = None
    problem: str = ''
    anchors_held: int = 0
    anchors_rejected: int = 0
    anchors_unreadable: int = 0


@dataclass(frozen=True)
class AuditExport:
    filename: str
    content: bytes
    rows: int


PROBLEMS = {
    audit.HASH_MISMATCH: 'edited',
    audit.BROKEN_LINK: 'link',
    audit.TRUNCATED: 'truncated',
    audit.REWRITTEN: 'rewritten',
}


def neutralised(cell: str) -> str:
    """A cell a spreadsheet would take for a formula gets a leading apostrophe (OWASP CSV injection)."""
    return f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell


def _masked(value: Any, mask: Callable[[str], str]) -> Any:
    """Every string in a detail masked; a number that reads as a phone or ID number becomes its masked text."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, int) and not isinstance(value, bool) and mask(str(value)) != str(value):
        return mask(str(value))
    if isinstance(value, dict):
        return {key: _masked(item, mask) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item, mask) for item in value]
    return value


class AuditBrowser(Service):
    """Admins read, check and export the audit log; everyone else is refused before anything is read."""

    def _where(self, wanted: AuditFilter) -> list[Any]:
        tz = self.settings.tz
        conditions: list[Any] = []
        if wanted.actor:
            conditions.append(col(AuditEntry.actor).contains(wanted.actor, autoescape=True))
        if wanted.action:
            conditions.append(col(AuditEntry.action) == wanted.action)
        if wanted.since is not None:
            start = dt.datetime.combine(wanted.since, dt.time(), tzinfo=tz)
            conditions.append(col(AuditEntry.at) >= start.astimezone(dt.UTC))
        if wanted.until is not None:
            end = dt.datetime.combine(wanted.until + dt.timedelta(days=1), dt.time(), tzinfo=tz)
            conditions.append(col(AuditEntry.at) < end.astimezone(dt.UTC))
        return conditions

    def _row(self, entry: AuditEntry, mask: Callable[[str], str]) -> AuditRow:
        at = entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=dt.UTC)
        return AuditRow(
            id=entry.id or 0,
            at=at.astimezone(self.settings.tz),
            actor=mask(entry.actor),
            role=entry.role,
            action=entry.action,
            target=mask(entry.target),
            outcome=entry.outcome,
            detail=_masked(entry.detail, mask),
            client_address=mask_address(entry.client_address),
            hash=entry.hash,
        )

    async def entries(
        self, caller: Principal, wanted: AuditFilter, *, page: int = 1, size: int = PAGE_SIZE
    ) -> AuditPage:
        """One page of the rows that match, newest first."""
        caller.require(Role.ADMIN)
        wanted = wanted.checked()
        size = max(1, min(size, PAGE_SIZE_MAX))
        where = self._where(wanted)
        async with self.db.read_session() as s:
            total = (await s.execute(select(func.count()).select_from(AuditEntry).where(*where))).scalar_one()
            pages = max(1, math.ceil(total / size))
            page = max(1, min(page, pages))
            query = select(AuditEntry).where(*where).order_by(col(AuditEntry.id).desc())
            found = (await s.execute(query.offset((page - 1) * size).limit(size))).scalars().all()
        return AuditPage([self._row(entry, mask_text) for entry in found], total, page, pages)

    async def actions(self, caller: Principal) -> list[str]:
        """The actions the log holds, for the filter's choice."""
        caller.require(Role.ADMIN)
        async with self.db.read_session() as s:
            found = await s.execute(select(AuditEntry.action).distinct().order_by(col(AuditEntry.action)))
            return list(found.scalars())

    async def check(self, caller: Principal) -> ChainCheck:
        """The same check as `python -m app.audit verify`: every row's keyed hash and link, and every signed
        anchor of the head (a forged or unreadable anchor is counted, never trusted)."""
        caller.require(Role.ADMIN)
        anchors = AuditAnchors(self.db, path=self.settings.anchor_file, redis_url=self.settings.redis_url)
        found = await anchors.load()
        result = await audit.verify(self.db, checkpoints=found.checkpoints)
        return ChainCheck(
            ok=result.ok and not found.rejected and not found.unreadable,
            rows=result.rows,
            bad_row_id=result.bad_row_id,
            problem=PROBLEMS.get(result.reason, ''),
            anchors_held=result.checkpoints,
            anchors_rejected=len(found.rejected),
            anchors_unreadable=len(found.unreadable),
        )

    async def export(self, caller: Principal, wanted: AuditFilter) -> AuditExport:
        """The matching rows as CSV (oldest first, ID numbers and mobiles starred out, addresses cut, formulas
        neutralised). The export's own audit row is committed before the file is returned."""
        caller.require(Role.ADMIN)
        wanted = wanted.checked()
        where = self._where(wanted)
        async with self.db.read_session() as s:
            total = (await s.execute(select(func.count()).select_from(AuditEntry).where(*where))).scalar_one()
            if total > EXPORT_MAX_ROWS:
                raise Invalid('audit_export_too_big', limit=EXPORT_MAX_ROWS, rows=total)
            query = select(AuditEntry).where(*where).order_by(col(AuditEntry.id)).limit(EXPORT_MAX_ROWS)
            found = (await s.execute(query)).scalars().all()
        rows = [self._row(entry, mask_text_fully) for entry in found]
        now = self.clock()
        async with self._transaction() as uow:
            await audit.record_for(
                uow.session,
                caller,
                action=audit.EXPORT,
                target=EXPORT_TARGET,
                detail={'filter': wanted.as_detail(), 'rows': len(rows)},
                now=now,
            )
        stamp = now.astimezone(self.settings.tz).strftime('%Y%m%d-%H%M%S')
        return AuditExport(f'audit-{stamp}.csv', _csv(rows), len(rows))


def _csv(rows: list[AuditRow]) -> bytes:
    """UTF-8 with a byte-order mark, so spreadsheet programs read the Chinese as Chinese."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        cells = [
            str(row.id),
            row.at.strftime('%Y-%m-%d %H:%M:%S'),
            row.actor,
            row.role,
            row.action,
            row.target,
            row.outcome,
            json.dumps(row.detail, ensure_ascii=False, sort_keys=True) if row.detail else '',
            row.client_address,
            row.hash,
        ]
        writer.writerow([neutralised(cell) for cell in cells])
    return out.getvalue().encode('utf-8-sig')
