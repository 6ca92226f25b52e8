"""Routes: tickets (public), windows (staff), hall overview (public), auth, bookings (citizens)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from app.api import admin, assistant, cases, citizen, guide, hall_config, handoffs, health, me, reports, visits
from app.api.booking import BookingIn, BookingOut, MoveIn, SlotOut
from app.api.callers import address_of, bearer_token
from app.api.deps import CallerDep, RuntimeDep, StaffDep
from app.api.schemas import (
    ArrivalIn,
    CallTicketIn,
    HallOut,
    ParkIn,
    ResumeIn,
    TicketOut,
    TokenIn,
    TokenOut,
    TrackedTicketOut,
    TransferIn,
    WindowStateIn,
    sent,
)
from app.clock import utcnow
from app.models.ticket import TicketCreate
from app.services.errors import NotFound, Unauthorized
from app.services.queue import SERVICE_CODE_MAX

router = APIRouter(prefix='/api')


@router.post('/tickets', status_code=201, response_model=TrackedTicketOut, tags=['tickets'])
async def take_ticket(body: TicketCreate, rt: RuntimeDep, caller: CallerDep) -> Response:
    """Take a number. Anyone may take a plain ticket (limited per address); an identity, the ID-card, face,
    appointment and staff channels and priority flags need a paired kiosk or a clerk's token. The code is what
    the slip carries: it shows the ticket's status, and acting for the person needs the texted code.
    `channel: mobile` with a citizen's token is a remote ticket (远程取号): it waits until arrival is confirmed."""
    return sent(TrackedTicketOut.tracked(await rt.queue.take_ticket(body, caller=caller)), 201)


@router.post('/arrivals', response_model=list[TrackedTicketOut], tags=['tickets'])
async def arrive(body: ArrivalIn, rt: RuntimeDep, caller: CallerDep) -> list[TrackedTicketOut]:
    """The signed-in phone scanned the hall's entrance code: its remote tickets of today are in the hall."""
    views = await rt.queue.arrive_by_entrance(body.entrance_code, caller=caller)
    return [TrackedTicketOut.tracked(view) for view in views]


@router.get('/tickets/{code}', response_model=TicketOut, tags=['tickets'])
async def get_ticket(code: str, request: Request, rt: RuntimeDep) -> Response:
    """A ticket's status by its tracking code (what the slip shows; nothing about the person).
    Unknown codes count against the caller's address, as on /track."""
    tracked = await rt.journey.tracking.follow(code, address=address_of(request, rt.settings.trusted_proxies))
    if tracked.ticket_id is None:
        raise NotFound('unknown_ticket')
    return sent(TicketOut.of(await rt.queue.ticket_view_by_id(tracked.ticket_id)))


@router.get('/hall', response_model=HallOut, tags=['hall'])
async def hall(rt: RuntimeDep) -> HallOut:
    """Windows with the ticket being served, and every service's queue length and ETA."""
    return HallOut.of(await rt.queue.overview(), utcnow())


@router.post('/windows/{window_id}/call-next', response_model=TicketOut, tags=['windows'])
async def call_next(window_id: int, rt: RuntimeDep, who: StaffDep) -> Response:
    return sent(TicketOut.of(await rt.queue.call_next(window_id, caller=who)))


@router.post('/windows/{window_id}/call', response_model=TicketOut, tags=['windows'])
async def call_named(window_id: int, body: CallTicketIn, rt: RuntimeDep, who: StaffDep) -> Response:
    """Call a named ticket out of order; the reason is recorded."""
    return sent(TicketOut.of(await rt.queue.call_ticket(window_id, body.number, reason=body.reason, caller=who)))


@router.post('/windows/{window_id}/recall', response_model=TicketOut, tags=['windows'])
async def recall(window_id: int, rt: RuntimeDep, who: StaffDep) -> Response:
    return sent(TicketOut.of(await rt.queue.recall(window_id, caller=who)))


@router.post('/windows/{window_id}/no-show', response_model=TicketOut, tags=['windows'])
async def no_show(window_id: int, rt: RuntimeDep, who: StaffDep) -> Response:
    return sent(TicketOut.of(await rt.queue.no_show(window_id, caller=who)))


@router.post('/windows/{window_id}/complete', response_model=TicketOut, tags=['windows'])
async def complete(window_id: int, rt: RuntimeDep, who: StaffDep) -> Response:
    return sent(TicketOut.of(await rt.queue.complete(window_id, caller=who)))


@router.post('/windows/{window_id}/transfer', response_model=TicketOut, tags=['windows'])
async def transfer(window_id: int, body: TransferIn, rt: RuntimeDep, who: StaffDep) -> Response:
    view = await rt.queue.transfer(
        window_id,
        to_service_code=body.service_code,
        to_window_id=body.window_id,
        reason=body.reason,
        caller=who,
    )
    return sent(TicketOut.of(view))


@router.post('/windows/{window_id}/park', response_model=TicketOut, tags=['windows'])
async def park(window_id: int, body: ParkIn, rt: RuntimeDep, who: StaffDep) -> Response:
    return sent(TicketOut.of(await rt.queue.park(window_id, reason=body.reason, caller=who)))


@router.post('/windows/{window_id}/resume', response_model=TicketOut, tags=['windows'])
async def resume(window_id: int, body: ResumeIn, rt: RuntimeDep, who: StaffDep) -> Response:
    return sent(TicketOut.of(await rt.queue.resume(window_id, body.number, caller=who)))


@router.post('/windows/{window_id}/state', tags=['windows'])
async def window_state(window_id: int, body: WindowStateIn, rt: RuntimeDep, who: StaffDep) -> dict[str, str]:
    """Open, pause or close a window (refused while a ticket is at the window)."""
    window = await rt.queue.set_window_state(window_id, body.state, caller=who)
    return {'state': window.state}


@router.post('/auth/token', response_model=TokenOut, tags=['auth'])
async def login(body: TokenIn, request: Request, rt: RuntimeDep) -> TokenOut:
    address = address_of(request, rt.settings.trusted_proxies)
    issued = await rt.auth.login(
        body.username, body.password, totp=body.totp, client_address=address, new_password=body.new_password
    )
    p = issued.principal
    return TokenOut(access_token=issued.token, role=p.role, window_id=p.window_id, expires_at=issued.expires_at)


@router.post('/auth/logout', status_code=204, tags=['auth'])
async def logout(request: Request, rt: RuntimeDep) -> None:
    token = bearer_token(request)
    if token is None:
        raise Unauthorized('not_authenticated')
    await rt.auth.logout(token, client_address=address_of(request, rt.settings.trusted_proxies))


# ---- bookings (预约): slots are open; the rest need a citizen's token, and app/services/booking.py decides ----

Reference = Annotated[str, Path(min_length=1, max_length=32, pattern=r'^[A-Za-z0-9]+$')]


@router.get('/services/{code}/slots', response_model=list[SlotOut], tags=['bookings'])
async def booking_slots(
    rt: RuntimeDep,
    code: Annotated[str, Path(min_length=1, max_length=SERVICE_CODE_MAX)],
    date: Annotated[dt.date, Query(description='a hall day, YYYY-MM-DD')],
) -> list[SlotOut]:
    """A day's bookable slots of a service with their places; empty on closed days and beyond the horizon."""
    return [SlotOut.of(slot) for slot in await rt.journey.bookings.slots(code, date)]


@router.post('/appointments', status_code=201, response_model=BookingOut, tags=['bookings'])
async def book_slot(body: BookingIn, rt: RuntimeDep, caller: CallerDep) -> BookingOut:
    """Book a slot (a citizen's token). 409 when the slot is full, over a limit, or booking is paused."""
    return BookingOut.of(await rt.journey.bookings.book(caller, body.service_code, body.start))


@router.get('/appointments', response_model=list[BookingOut], tags=['bookings'])
async def own_bookings(rt: RuntimeDep, caller: CallerDep) -> list[BookingOut]:
    """The caller's own bookings, the latest slot first."""
    return [BookingOut.of(view) for view in await rt.journey.bookings.bookings_of(caller)]


@router.delete('/appointments/{reference}', response_model=BookingOut, tags=['bookings'])
async def cancel_booking(reference: Reference, rt: RuntimeDep, caller: CallerDep) -> BookingOut:
    """Cancel one's own booking before its slot; anyone else's reference is 404, as an unknown one."""
    return BookingOut.of(await rt.journey.bookings.cancel(caller, reference))


@router.patch('/appointments/{reference}', response_model=BookingOut, tags=['bookings'])
async def move_booking(reference: Reference, body: MoveIn, rt: RuntimeDep, caller: CallerDep) -> BookingOut:
    """Move one's own booking to another slot of the same service (one transaction; the reference stays)."""
    return BookingOut.of(await rt.journey.bookings.reschedule(caller, reference, body.start))


# Citizens sign in by phone (handlers in app/api/citizen.py)
router.add_api_route(
    '/citizen/code',
    citizen.request_code,
    methods=['POST'],
    status_code=202,
    response_model=citizen.CodeOut,
    tags=['citizen'],
)
router.add_api_route(
    '/citizen/session', citizen.sign_in, methods=['POST'], response_model=citizen.SessionOut, tags=['citizen']
)
router.add_api_route('/citizen/session', citizen.sign_out, methods=['DELETE'], status_code=204, tags=['citizen'])

# The other routers after this module's own routes: a request walks the routes in order, so the take, call and
# complete a hall makes all day are found first instead of after every included router's routes.
router.include_router(guide.router)  # GET /api/services, /api/services/{code}/guide (app/api/guide.py)
router.include_router(assistant.router)  # GET /api/assistant (app/api/assistant.py)
router.include_router(me.router)  # GET /api/me (app/api/me.py)
router.include_router(visits.router)  # 上门服务 and the desk's green channel (app/api/visits.py)
router.include_router(cases.router)  # 跨区通办: POST /api/cases/{case_id}/transfer (app/api/cases.py)
router.include_router(handoffs.router)  # 跨区通办 of tickets: POST /api/tickets/{number}/hall-transfer
router.include_router(health.router)  # GET /api/health (app/api/health.py)
router.include_router(admin.router)  # GET /api/admin/audit.csv (app/api/admin.py)
router.include_router(hall_config.router)  # GET /api/admin/config/export, POST .../import (app/api/hall_config.py)
router.include_router(reports.router)  # GET /api/reports/{month}/csv, /pdf (app/api/reports.py)
