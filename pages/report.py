"""`/report/{month}`: one stored monthly monitoring report (每月监测报告 and 考核) with charts, PDF and CSV.

Managers (and admins) only, with their second factor like /manager (pages/guard.py). The month comes from
the link; a malformed month or one with no stored report is said on the page and nothing is read. Downloads
are re-checked and audited by the service (app/services/monthly_report.py) when clicked.
"""

from __future__ import annotations

from typing import Literal

from fastapi import Request
from fastapi.responses import Response
from nicegui import ui

from app.models.people import Role
from app.services.errors import DomainError
from app.services.monthly_report import MonthlyReportService
from components import report_texts  # noqa: F401 - registers the texts
from components.frame import frame
from components.report_view import report_view
from components.testids import tid
from components.texts import error_text, t
from pages.parts import Started


def _reports(started_reports: MonthlyReportService | None) -> MonthlyReportService:
    assert started_reports is not None, 'the composition root builds the monthly reports'
    return started_reports


async def report_page(started: Started, month: str, request: Request) -> Response | None:
    parts = await started.ready()
    session = await parts.guard.require(request, Role.MANAGER)
    if isinstance(session, Response):
        return session
    rt = parts.runtime
    reports = _reports(rt.reports)

    async def download(kind: Literal['csv', 'pdf']) -> None:
        caller = await session.recheck()
        if caller is None:
            return
        try:
            found = await reports.download(caller, month, kind, hall_name=rt.hall.name)
        except DomainError as error:
            ui.notify(error_text(error), type='negative')
            return
        ui.download.content(found.content, found.filename, found.media_type)

    with frame(t('report.title'), hall_name=rt.hall.name, stand_ins=rt.stand_ins):
        try:
            stored = await reports.report(session.principal, month)
        except DomainError as refused:
            tid(ui.label(error_text(refused)), 'report-error').classes('text-negative')
            ui.link(t('report.back'), '/manager')
            return None
        at = stored.generated_at.astimezone(rt.settings.tz).strftime('%Y-%m-%d %H:%M')
        with ui.row().classes('w-full items-center gap-3'):
            tid(ui.label(t('report.heading', month=f'{stored.month:%Y-%m}')), 'report-heading').classes(
                'text-xl font-bold'
            )
            ui.label(t('report.generated', at=at, by=stored.generated_by)).classes('text-xs text-grey-7')
            ui.space()
            tid(ui.button(t('report.pdf'), on_click=lambda: download('pdf')), 'report-pdf').props('icon=picture_as_pdf')
            tid(ui.button(t('report.csv'), on_click=lambda: download('csv')), 'report-csv').props(
                'outline icon=download'
            )
            ui.link(t('report.back'), '/manager').classes('text-sm')
        report_view(stored.figures)
    return None
