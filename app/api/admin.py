"""The admin's API: GET /api/admin/audit.csv, the audit log as a masked CSV file (admins only; bearer token).

The service decides and audits (app/services/audit_browser.py); this edge reads the filter from the query
string and hands the file out as a download.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from app.api.deps import RuntimeDep, StaffDep
from app.services.audit_browser import ACTION_MAX, ACTOR_MAX, AuditFilter

router = APIRouter(prefix='/admin')


@router.get('/audit.csv', tags=['admin'], response_class=Response, responses={200: {'content': {'text/csv': {}}}})
async def audit_csv(
    rt: RuntimeDep,
    caller: StaffDep,
    actor: Annotated[str, Query(max_length=ACTOR_MAX)] = '',
    action: Annotated[str, Query(max_length=ACTION_MAX)] = '',
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> Response:
    """The audit rows that match (actor contains, action is, hall days since..until, both included), oldest
    first: ID numbers and mobiles starred out, addresses cut to their network, formula cells neutralised.
    The export itself is an audit row (who, which filter, how many rows)."""
    exported = await rt.audit_log.export(caller, AuditFilter(actor, action, since, until))
    return Response(
        exported.content,
        media_type='text/csv; charset=utf-8',
        headers={
            'Content-Disposition': f'attachment; filename="{exported.filename}"',
            'Cache-Control': 'no-store',
            'X-Content-Type-Options': 'nosniff',
        },
    )
