"""The hall's configuration as a zip over HTTP (admins; bearer token): export the seed folder's files, import them.

The admin console offers the same through its page; these routes let a script copy one hall's setup to another.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel

from app.api.deps import RuntimeDep, StaffDep

router = APIRouter(prefix='/admin/config', tags=['admin'])
IMPORT_PATH = '/api/admin/config/import'


class ImportOut(BaseModel):
    """How much the imported hall describes (what the hall now has by those codes)."""

    zones: int
    departments: int
    services: int
    windows: int
    devices: int


@router.get('/export', response_class=Response, responses={200: {'content': {'application/zip': {}}}})
async def export_config(rt: RuntimeDep, caller: StaffDep) -> Response:
    """hall.yaml, departments.yaml, services.yaml, windows.yaml, devices.yaml in a zip: no staff, no credentials."""
    content = await rt.hall_config.export_zip(caller)
    return Response(
        content,
        media_type='application/zip',
        headers={'content-disposition': 'attachment; filename="hall-config.zip"', 'cache-control': 'no-store'},
    )


@router.post('/import', response_model=ImportOut)
async def import_config(request: Request, rt: RuntimeDep, caller: StaffDep) -> ImportOut:
    """A zip as export writes it (the body, `application/zip`), checked whole and applied as one version,
    or refused (422 with the file and entry at fault) with nothing changed."""
    hall = await rt.hall_config.import_zip(caller, await request.body())
    return ImportOut(
        zones=len(hall.hall.zones),
        departments=len(hall.departments),
        services=len(hall.services),
        windows=len(hall.windows),
        devices=len(hall.devices),
    )
