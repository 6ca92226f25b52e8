"""跨区通办 of a ticket over the API: staff of this hall send today's ticket to a service of another hall.

`POST /api/tickets/{number}/hall-transfer` takes a staff bearer token (a clerk whose window is in this hall, or a
manager signed in to it). The ticket closes here at once; the other hall's process issues its new number. The
answer waits up to `SENDER_WAIT` seconds for that: 200 with the new number, or 202 while the other hall has not
applied it yet (its process is down or behind: the request is stored and applied when it runs).
"""

from __future__ import annotations

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.api.deps import RuntimeDep, StaffDep
from app.models.handoff import HandoffStatus
from app.services.queue import NUMBER_MAX, SERVICE_CODE_MAX
from app.services.reasons import REASON_MAX
from app.services.ticket_handoff import HALL_CODE_MAX, SENDER_WAIT, HandoffView

router = APIRouter()  # included by the API router (app/api/routes.py), under its /api prefix


class HallTransferIn(BaseModel):
    to_hall: str = Field(min_length=1, max_length=HALL_CODE_MAX, description="the other hall's code")
    to_service: str = Field(min_length=1, max_length=SERVICE_CODE_MAX, description='a service that hall offers')
    reason: str = Field(min_length=1, max_length=REASON_MAX, description='why: kept on both tickets')


class HallTransferOut(BaseModel):
    id: int
    status: HandoffStatus = Field(description='applied: the other hall issued the new number; pending: not yet')
    from_number: str
    to_hall: str
    to_hall_name: str
    to_service: str
    new_number: str | None = Field(description="the other hall's number, once applied")
    new_code: str | None = Field(description='the tracking code of the new ticket, once applied')

    @classmethod
    def of(cls, view: HandoffView) -> HallTransferOut:
        return cls(
            id=view.id,
            status=view.status,
            from_number=view.from_number,
            to_hall=view.to_hall_code,
            to_hall_name=view.to_hall,
            to_service=view.to_service,
            new_number=view.new_number,
            new_code=view.new_code,
        )


@router.post(
    '/tickets/{number}/hall-transfer',
    response_model=HallTransferOut,
    responses={202: {'model': HallTransferOut, 'description': 'sent; the other hall has not issued the number yet'}},
    tags=['tickets'],
)
async def transfer_to_hall(
    body: HallTransferIn,
    rt: RuntimeDep,
    who: StaffDep,
    number: str = Path(min_length=1, max_length=NUMBER_MAX),
) -> HallTransferOut | JSONResponse:
    """Send today's waiting or served ticket `number` to a service of another hall (跨区通办)."""
    sent = await rt.handoffs.send(
        number, to_hall_code=body.to_hall, to_service_code=body.to_service, reason=body.reason, caller=who
    )
    view = await rt.handoffs.wait_applied(sent.id, within=SENDER_WAIT)
    answer = HallTransferOut.of(view)
    if view.status == HandoffStatus.APPLIED:
        return answer
    return JSONResponse(answer.model_dump(mode='json'), status_code=202)
