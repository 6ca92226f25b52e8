"""每月监测报告: the month's core indicators per hall, department, window and staff member, with month-on-month
change, anomalies against control limits, and the 考核 score tables; stored once per hall and month.

A job generates the previous month's report from the 1st on (app/jobs.py; it runs hourly and writes only a
missing report, so running it twice, or in two workers, keeps one). A manager may generate last month's
again at once (late ratings, a corrected case): that replaces its figures and is audited, as is every
download. The previous months' figures come from their stored reports, or are computed by the same code
when a month was never stored.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from app.models.people import Role
from app.models.report import MonthlyReport
from app.models.ticket import Ticket
from app.services import assessment, audit, report_data
from app.services.control_limits import HISTORY_MONTHS, Limits, individuals_chart, p_chart
from app.services.errors import Invalid, NotFound
from app.services.principal import Principal
from app.services.report_export import csv_bytes
from app.services.report_indicators import BY_CODE, Kind, Scope, scope_rows
from app.services.report_pdf import pdf_bytes
from app.services.uow import Service

MONTH_PATTERN = re.compile(r'(20[0-9]{2})-(0[1-9]|1[0-2])')  # ASCII digits only; years 2000-2099
REPORT_GENERATED = 'monthly_report_generated'
JOB_ACTOR = 'system:monthly_report'


def parse_month(text: str) -> dt.date:
    """A month from a link (`2026-11`); anything else is refused before it reaches a query."""
    found = MONTH_PATTERN.fullmatch(text)
    if found is None:
        raise Invalid('month_invalid')
    return dt.date(int(found.group(1)), int(found.group(2)), 1)


DOWNLOAD_KINDS = {'csv': 'text/csv; charset=utf-8', 'pdf': 'application/pdf'}


@dataclass(frozen=True)
class Download:
    content: bytes
    filename: str
    media_type: str


@dataclass(frozen=True)
class StoredMonth:
    month: dt.date
    generated_at: dt.datetime
    generated_by: str

    @property
    def label(self) -> str:
        return self.month.strftime('%Y-%m')


def _values(scopes: dict[str, list[dict[str, Any]]]) -> dict[tuple[str, Any, str], dict[str, Any]]:
    return {
        (scope, row['key'], code): figure
        for scope, rows in scopes.items()
        for row in rows
        for code, figure in row['figures'].items()
    }


def _limits(code: str, figure: dict[str, Any], prior: list[dict[str, Any]]) -> tuple[Limits | None, str]:
    if BY_CODE[code].kind == Kind.RATE:
        return p_chart([(p['k'], p['n']) for p in prior if p['value'] is not None], figure['n']), 'p'
    return individuals_chart([p['value'] for p in prior if p['value'] is not None]), 'individuals'


def annotate(
    scopes: dict[str, list[dict[str, Any]]], history: list[dict[str, list[dict[str, Any]]]]
) -> list[dict[str, Any]]:
    """Add `change` (against the month before, `history[0]`) and control limits to every figure; return the
    anomalies (a figure outside its limits), newest history first."""
    before = [_values(month) for month in history]
    anomalies: list[dict[str, Any]] = []
    for scope, rows in scopes.items():
        for row in rows:
            for code, figure in row['figures'].items():
                key = (scope, row['key'], code)
                previous = before[0].get(key) if before else None
                value = figure['value']
                figure['change'] = (
                    round(value - previous['value'], 6)
                    if value is not None and previous is not None and previous['value'] is not None
                    else None
                )
                limits, chart = _limits(code, figure, [month[key] for month in before if key in month])
                figure['limits'] = None if limits is None else {'low': limits.low, 'high': limits.high, 'chart': chart}
                figure['anomaly'] = value is not None and limits is not None and limits.outside(value)
                if figure['anomaly']:
                    anomalies.append(
                        {'scope': scope, 'key': row['key'], 'name': row['name'], 'indicator': code, 'value': value}
                        | figure['limits']
                    )
    return anomalies


class MonthlyReportService(Service):
    """Generate, store, list and read the monthly reports (managers; the job as the system)."""

    def last_month(self) -> dt.date:
        return report_data.previous_month(self.clock().astimezone(self.settings.tz).date())

    async def generate_due(self) -> int:
        """The job: last month's report when it is missing (1 written, 0 already there or not due). A hall that
        issued its first ticket this month was not open last month: it has nothing to report yet."""
        month = self.last_month()
        if await self._stored(month) is not None or not await self._open_before(report_data.next_month(month)):
            return 0
        return 1 if await self._write(month, JOB_ACTOR, replace=False) else 0

    async def _open_before(self, day: dt.date) -> bool:
        async with self.db.read_session() as s:
            found = await s.execute(
                select(Ticket.id).where(Ticket.hall_id == self.hall_id, col(Ticket.day) < day).limit(1)
            )
            return found.first() is not None

    async def generate_last_month(self, caller: Principal) -> dt.date:
        """A manager's "generate now": last month's report, replacing a stored one (audited)."""
        caller.require(Role.MANAGER)
        month = self.last_month()
        await self._write(month, caller.name, replace=True, caller=caller)
        return month

    async def stored_months(self, caller: Principal) -> list[StoredMonth]:
        """The kept reports, newest first."""
        caller.require(Role.MANAGER)
        async with self.db.read_session() as s:
            rows = await s.execute(
                select(MonthlyReport.month, MonthlyReport.generated_at, MonthlyReport.generated_by)
                .where(MonthlyReport.hall_id == self.hall_id)
                .order_by(col(MonthlyReport.month).desc())
            )
            return [StoredMonth(*row) for row in rows]

    async def report(self, caller: Principal, month_text: str) -> MonthlyReport:
        """One stored report by its month (`2026-11`): month_invalid, or report_not_found when none was made."""
        caller.require(Role.MANAGER)
        month = parse_month(month_text)
        stored = await self._stored(month)
        if stored is None:
            raise NotFound('report_not_found', month=month_text)
        return stored

    async def download(
        self, caller: Principal, month_text: str, kind: Literal['csv', 'pdf'], *, hall_name: str
    ) -> Download:
        """A stored report as CSV or PDF; each download is an audit row (the report names staff)."""
        stored = await self.report(caller, month_text)
        if kind == 'csv':
            content = csv_bytes(stored.figures)
        else:  # reportlab is CPU-bound: off the event loop
            content = await asyncio.to_thread(
                pdf_bytes, stored.figures, hall_name=hall_name, generated_at=stored.generated_at
            )
        async with self._transaction() as uow:
            await audit.record_for(
                uow.session,
                caller,
                action=audit.EXPORT,
                target=f'monthly_report:{stored.month:%Y-%m}',
                detail={'as': kind},
                now=self.clock(),
            )
        return Download(content, f'halltwin-report-{stored.month:%Y-%m}.{kind}', DOWNLOAD_KINDS[kind])

    async def build(self, month: dt.date) -> dict[str, Any]:
        """The month's figures (not stored): indicators, change, limits, anomalies and 考核."""
        data = await report_data.load(self.db, self.hall_id, month, self.settings.tz)
        scopes = scope_rows(data.rows)
        history = [await self._scopes_of(earlier) for earlier in _before(month)]
        anomalies = annotate(scopes, history)
        return {
            'month': month.strftime('%Y-%m'),
            'scopes': scopes,
            'anomalies': anomalies,
            'assessment': {
                'windows': assessment.score_table(scopes[Scope.WINDOW]),
                'departments': assessment.score_table(scopes[Scope.DEPARTMENT]),
                'case_time': assessment.case_time(
                    data.nodes, data.rows.names.get(Scope.DEPARTMENT, {}), data.month_end
                ),
            },
        }

    async def _scopes_of(self, month: dt.date) -> dict[str, list[dict[str, Any]]]:
        stored = await self._stored(month)
        if stored is not None:
            return dict(stored.figures['scopes'])
        return scope_rows((await report_data.load(self.db, self.hall_id, month, self.settings.tz)).rows)

    async def _stored(self, month: dt.date) -> MonthlyReport | None:
        async with self.db.read_session() as s:
            return (
                await s.execute(
                    select(MonthlyReport).where(MonthlyReport.hall_id == self.hall_id, MonthlyReport.month == month)
                )
            ).scalar_one_or_none()

    async def _write(self, month: dt.date, actor: str, *, replace: bool, caller: Principal | None = None) -> bool:
        figures = await self.build(month)
        now = self.clock()
        try:
            async with self._transaction() as uow:
                s = uow.session
                existing = (
                    await s.execute(
                        select(MonthlyReport).where(MonthlyReport.hall_id == self.hall_id, MonthlyReport.month == month)
                    )
                ).scalar_one_or_none()
                if existing is not None and not replace:
                    return False
                if existing is None:
                    s.add(
                        MonthlyReport(
                            hall_id=self.hall_id, month=month, figures=figures, generated_at=now, generated_by=actor
                        )
                    )
                else:
                    existing.figures, existing.generated_at, existing.generated_by = figures, now, actor
                if caller is not None:
                    await audit.record_for(
                        s, caller, action=REPORT_GENERATED, target=f'monthly_report:{month:%Y-%m}', now=now
                    )
        except IntegrityError:  # another worker stored it first: one report per hall and month
            return False
        return True


def _before(month: dt.date) -> list[dt.date]:
    months, current = [], month
    for _ in range(HISTORY_MONTHS):
        current = report_data.previous_month(current)
        months.append(current)
    return months
