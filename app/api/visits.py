"""上门服务 and the desk's 绿色通道 over the API: each route finds the caller and forwards; the services decide.

`POST /api/me/visits` takes a citizen's phone token; the staff routes take a staff bearer token (a manager, or
staff of the visit's department); `POST /api/windows/{window_id}/green` is the desk's mark.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.api.deps import CallerDep, RuntimeDep, StaffDep
from app.api.schemas import TicketOut
from app.services.home_visits import VisitView
from app.services.queue import NUMBER_MAX
from app.services.visit_rules import ADDRESS_MAX, ASSIGNEES_MAX

router = APIRouter()  # included by the API router (app/api/routes.py), under its /api prefix


class GreenIn(BaseModel):
    number: str = Field(min_length=2, max_length=NUMBER_MAX)
    reason: Literal['disability', 'pregnancy']


class VisitIn(BaseModel):
    service_code: str = Field(min_length=1, max_length=32)
    address: str = Field(min_length=1, max_length=ADDRESS_MAX + 50)  # the service trims, then checks the length


class StaffVisitIn(VisitIn):
    id_number: str = Field(min_length=15, max_length=18)
    phone: str | None = Field(default=None, max_length=20)


class SlotIn(BaseModel):
    start: dt.datetime
    end: dt.datetime


class AssignIn(BaseModel):
    staff_ids: list[int] = Field(min_length=1, max_length=ASSIGNEES_MAX)


class DoneIn(BaseModel):
    note: str = Field(default='', max_length=300)


class VisitStepOut(BaseModel):
    name: str
    status: str
    due_at: dt.datetime | None
    note: str


class VisitOut(BaseModel):
    id: int
    status: str
    service_name: str
    address: str = Field(description='masked: city and district only')
    slot_start: dt.datetime | None
    slot_end: dt.datetime | None
    assignees: list[str]
    due_at: dt.datetime | None
    steps: list[VisitStepOut]

    @classmethod
    def of(cls, view: VisitView) -> VisitOut:
        visit = view.visit
        return cls(
            id=view.id,
            status=visit.status,
            service_name=view.service_name,
            address=view.address_masked,
            slot_start=visit.slot_start,
            slot_end=visit.slot_end,
            assignees=view.assignees,
            due_at=view.case.case.due_at,
            steps=[VisitStepOut(name=n.name, status=n.status, due_at=n.due_at, note=n.note) for n in view.case.nodes],
        )


@router.post('/windows/{window_id}/green', response_model=TicketOut, tags=['windows'])
async def green(window_id: int, body: GreenIn, rt: RuntimeDep, who: StaffDep) -> TicketOut:
    """绿色通道 marked at the desk for a waiting ticket (disability or pregnancy, seen by the clerk)."""
    return TicketOut.of(await rt.queue.mark_green(window_id, body.number, reason=body.reason, caller=who))


@router.get('/me/visits', response_model=list[VisitOut], tags=['citizen'])
async def my_visits(rt: RuntimeDep, caller: CallerDep) -> list[VisitOut]:
    """The signed-in phone's home visits with their steps (401 without a citizen token)."""
    return [VisitOut.of(view) for view in await rt.journey.visits.mine(caller)]


@router.post('/me/visits', status_code=201, response_model=VisitOut, tags=['citizen'])
async def ask_visit(body: VisitIn, rt: RuntimeDep, caller: CallerDep) -> VisitOut:
    """上门服务 asked from the phone, for the signed-in citizen."""
    return VisitOut.of(await rt.journey.visits.request(caller, service_code=body.service_code, address=body.address))


@router.get('/visits', response_model=list[VisitOut], tags=['visits'])
async def visit_queue(rt: RuntimeDep, who: StaffDep) -> list[VisitOut]:
    """Open visits a manager (all) or a department's staff (theirs) handle, slot first."""
    return [VisitOut.of(view) for view in await rt.journey.visits.queue(who)]


@router.post('/visits', status_code=201, response_model=VisitOut, tags=['visits'])
async def ask_visit_for(body: StaffVisitIn, rt: RuntimeDep, who: StaffDep) -> VisitOut:
    """Staff ask for a visit for a citizen named by ID number (on the phone to the hall, say)."""
    view = await rt.journey.visits.request_for(
        who, service_code=body.service_code, address=body.address, id_number=body.id_number, phone=body.phone
    )
    return VisitOut.of(view)


@router.post('/visits/{visit_id}/schedule', response_model=VisitOut, tags=['visits'])
async def schedule(visit_id: int, body: SlotIn, rt: RuntimeDep, who: StaffDep) -> VisitOut:
    return VisitOut.of(await rt.journey.visits.schedule(who, visit_id, start=body.start, end=body.end))


@router.post('/visits/{visit_id}/assign', response_model=VisitOut, tags=['visits'])
async def assign(visit_id: int, body: AssignIn, rt: RuntimeDep, who: StaffDep) -> VisitOut:
    return VisitOut.of(await rt.journey.visits.assign(who, visit_id, body.staff_ids))


@router.post('/visits/{visit_id}/done', response_model=VisitOut, tags=['visits'])
async def done(visit_id: int, body: DoneIn, rt: RuntimeDep, who: StaffDep) -> VisitOut:
    return VisitOut.of(await rt.journey.visits.complete(who, visit_id, note=body.note))
