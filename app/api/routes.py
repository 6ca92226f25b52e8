"""Routes: tickets (public), windows (staff), hall overview (public), auth."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from app.api.deps import bearer_token, check_window_scope, runtime, staff_principal
from app.api.schemas import (
    CallTicketIn,
    HallOut,
    ParkIn,
    ResumeIn,
    TicketOut,
    TokenIn,
    TokenOut,
    TransferIn,
    WindowStateIn,
)
from app.clock import utcnow
from app.models.ticket import TicketCreate
from app.runtime import Runtime
from app.services.principal import Principal

router = APIRouter(prefix='/api')
RuntimeDep = Annotated[Runtime, Depends(runtime)]
StaffDep = Annotated[Principal, Depends(staff_principal)]


@router.post('/tickets', status_code=201, response_model=TicketOut, tags=['tickets'])
async def take_ticket(body: TicketCreate, rt: RuntimeDep) -> TicketOut:
    """Take a number for a service (kiosk, phone, ID card, face, appointment QR or staff)."""
    return TicketOut.of(await rt.queue.take_ticket(body, actor=f'channel:{body.channel}'))


@router.get('/tickets/{code}', response_model=TicketOut, tags=['tickets'])
async def get_ticket(code: str, rt: RuntimeDep) -> TicketOut:
    return TicketOut.of(await rt.queue.ticket_view(code))


@router.get('/hall', response_model=HallOut, tags=['hall'])
async def hall(rt: RuntimeDep) -> HallOut:
    """Windows with the ticket being served, and every service's queue length and ETA."""
    return HallOut.of(await rt.queue.overview(), utcnow())


@router.post('/windows/{window_id}/call-next', response_model=TicketOut, tags=['windows'])
async def call_next(window_id: int, rt: RuntimeDep, who: StaffDep) -> TicketOut:
    check_window_scope(who, window_id)
    return TicketOut.of(await rt.queue.call_next(window_id, actor=who.name))


@router.post('/windows/{window_id}/call', response_model=TicketOut, tags=['windows'])
async def call_named(window_id: int, body: CallTicketIn, rt: RuntimeDep, who: StaffDep) -> TicketOut:
    """Call a named ticket out of order; the reason is recorded."""
    check_window_scope(who, window_id)
    return TicketOut.of(await rt.queue.call_ticket(window_id, body.number, reason=body.reason, actor=who.name))


@router.post('/windows/{window_id}/recall', response_model=TicketOut, tags=['windows'])
async def recall(window_id: int, rt: RuntimeDep, who: StaffDep) -> TicketOut:
    check_window_scope(who, window_id)
    return TicketOut.of(await rt.queue.recall(window_id, actor=who.name))


@router.post('/windows/{window_id}/no-show', response_model=TicketOut, tags=['windows'])
async def no_show(window_id: int, rt: RuntimeDep, who: StaffDep) -> TicketOut:
    check_window_scope(who, window_id)
    return TicketOut.of(await rt.queue.no_show(window_id, actor=who.name))


@router.post('/windows/{window_id}/complete', response_model=TicketOut, tags=['windows'])
async def complete(window_id: int, rt: RuntimeDep, who: StaffDep) -> TicketOut:
    check_window_scope(who, window_id)
    return TicketOut.of(await rt.queue.complete(window_id, actor=who.name))


@router.post('/windows/{window_id}/transfer', response_model=TicketOut, tags=['windows'])
async def transfer(window_id: int, body: TransferIn, rt: RuntimeDep, who: StaffDep) -> TicketOut:
    check_window_scope(who, window_id)
    view = await rt.queue.transfer(
        window_id,
        to_service_code=body.service_code,
        to_window_id=body.window_id,
        reason=body.reason,
        actor=who.name,
    )
    return TicketOut.of(view)


@router.post('/windows/{window_id}/park', response_model=TicketOut, tags=['windows'])
async def park(window_id: int, body: ParkIn, rt: RuntimeDep, who: StaffDep) -> TicketOut:
    check_window_scope(who, window_id)
    return TicketOut.of(await rt.queue.park(window_id, reason=body.reason, actor=who.name))


@router.post('/windows/{window_id}/resume', response_model=TicketOut, tags=['windows'])
async def resume(window_id: int, body: ResumeIn, rt: RuntimeDep, who: StaffDep) -> TicketOut:
    check_window_scope(who, window_id)
    return TicketOut.of(await rt.queue.resume(window_id, body.number, actor=who.name))


@router.post('/windows/{window_id}/state', tags=['windows'])
async def window_state(window_id: int, body: WindowStateIn, rt: RuntimeDep, who: StaffDep) -> dict[str, str]:
    """Open, pause or close a window (refused while a ticket is at the window)."""
    check_window_scope(who, window_id)
    window = await rt.queue.set_window_state(window_id, body.state, actor=who.name)
    return {'state': window.state}


@router.post('/auth/token', response_model=TokenOut, tags=['auth'])
async def login(body: TokenIn, request: Request, rt: RuntimeDep) -> TokenOut:
    address = request.client.host if request.client else ''
    issued = await rt.auth.login(body.username, body.password, client_address=address)
    p = issued.principal
    return TokenOut(access_token=issued.token, role=p.role, window_id=p.window_id, expires_at=issued.expires_at)


@router.post('/auth/logout', status_code=204, tags=['auth'])
async def logout(request: Request, rt: RuntimeDep) -> None:
    await rt.auth.logout(bearer_token(request))
