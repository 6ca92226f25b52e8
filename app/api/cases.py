"""跨区通办 over the API: staff of a case's hall move it to another hall; the case transfer service decides.

`POST /api/cases/{case_id}/transfer` takes a staff bearer token (a clerk whose window is in the case's hall, or a
manager signed in to it) and answers the case as it is now handled: its new hall and the step the move added.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from app.api.deps import RuntimeDep, StaffDep
from app.services.case_transfer import REASON_MAX, TRANSFER_KIND
from app.services.case_views import CaseView

router = APIRouter()  # included by the API router (app/api/routes.py), under its /api prefix

ID_MAX = 2**31 - 1


class CaseTransferIn(BaseModel):
    to_hall_id: int = Field(ge=1, le=ID_MAX, description='the hall that handles the case from now on')
    reason: str = Field(min_length=1, max_length=REASON_MAX + 50, description='why: shown on the case timeline')


class CaseStepOut(BaseModel):
    name: str
    status: str
    finished_at: dt.datetime | None
    actor: str
    note: str


class TransferredCaseOut(BaseModel):
    id: int
    status: str
    hall_id: int
    service_name: str
    transfer: CaseStepOut = Field(description='the step the move added to the timeline')
    steps: int = Field(description='every step of the case, the move included: none was dropped')

    @classmethod
    def of(cls, view: CaseView) -> TransferredCaseOut:
        moved = [node for node in view.nodes if node.kind == TRANSFER_KIND][-1]
        return cls(
            id=view.id,
            status=view.case.status,
            hall_id=view.case.hall_id,
            service_name=view.service.name,
            transfer=CaseStepOut(
                name=moved.name, status=moved.status, finished_at=moved.finished_at, actor=moved.actor, note=moved.note
            ),
            steps=len(view.nodes),
        )


@router.post('/cases/{case_id}/transfer', response_model=TransferredCaseOut, tags=['cases'])
async def transfer_case(
    body: CaseTransferIn,
    rt: RuntimeDep,
    who: StaffDep,
    case_id: int = Path(ge=1, le=ID_MAX),
) -> TransferredCaseOut:
    """Move an open case of this hall to another hall (跨区通办); it keeps its number and its whole history."""
    view = await rt.journey.transfers.transfer(case_id, to_hall_id=body.to_hall_id, reason=body.reason, caller=who)
    return TransferredCaseOut.of(view)
