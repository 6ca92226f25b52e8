"""The monthly report's downloads: GET /api/reports/{month}/csv and /pdf (managers; bearer token).

The service decides, renders and audits (app/services/monthly_report.py); this edge hands the file out.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import Response

from app.api.deps import RuntimeDep, StaffDep
from app.runtime import Runtime
from app.services.monthly_report import MonthlyReportService
from app.services.principal import Principal

router = APIRouter(prefix='/reports')
FILE_RESPONSES = {200: {'content': {'text/csv': {}, 'application/pdf': {}}}}


def _reports(rt: Runtime) -> MonthlyReportService:
    assert rt.reports is not None, 'the composition root builds the monthly reports'
    return rt.reports


async def _file(rt: Runtime, caller: Principal, month: str, kind: Literal['csv', 'pdf']) -> Response:
    found = await _reports(rt).download(caller, month, kind, hall_name=rt.hall.name)
    return Response(
        found.content,
        media_type=found.media_type,
        headers={
            'Content-Disposition': f'attachment; filename="{found.filename}"',
            'Cache-Control': 'no-store',
            'X-Content-Type-Options': 'nosniff',
        },
    )


@router.get('/{month}/csv', tags=['reports'], response_class=Response, responses=FILE_RESPONSES)
async def report_csv(month: str, rt: RuntimeDep, caller: StaffDep) -> Response:
    """A stored monthly report (`2026-10`) as CSV: one row per figure, then scores and case-time shares."""
    return await _file(rt, caller, month, 'csv')


@router.get('/{month}/pdf', tags=['reports'], response_class=Response, responses=FILE_RESPONSES)
async def report_pdf(month: str, rt: RuntimeDep, caller: StaffDep) -> Response:
    """A stored monthly report as PDF (tables and a bar chart; Chinese in the built-in STSong-Light)."""
    return await _file(rt, caller, month, 'pdf')
