"""API response and request bodies (what leaves the server is listed here, field by field)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Self

from fastapi import Response
from pydantic import BaseModel, Field

from app.models.hall import WindowState
from app.services.queue import NUMBER_MAX, SERVICE_CODE_MAX, HallOverview, TicketView
from app.services.reasons import REASON_MAX


class TicketOut(BaseModel):
    """A ticket's status, as the window API returns it: no tracking code, no track path (staff never hold them)."""

    number: str
    status: str
    service_code: str
    service_name: str
    priority_class: str
    position: int | None = Field(description='1 = next to be called; null once called')
    ahead: int | None
    eta_minutes: int | None = Field(description='expected minutes until called; null if no open window serves it')
    eta_range: tuple[int, int] | None = Field(description='80% range of the wait, in minutes')
    window_number: int | None
    taken_at: dt.datetime
    called_at: dt.datetime | None
    completed_at: dt.datetime | None
    awaiting_arrival: bool = Field(
        default=False, description='a remote ticket whose citizen has not yet confirmed arrival at the hall'
    )

    @classmethod
    def of(cls, view: TicketView, **extra: Any) -> Self:
        """The view's fields, validated once (a subclass passes its own fields in `extra`)."""
        t, estimate = view.ticket, view.estimate
        return cls(
            number=t.number,
            status=t.status,
            service_code=view.service.code,
            service_name=view.service.name,
            priority_class=t.priority_class,
            position=view.position,
            ahead=view.position - 1 if view.position else None,
            eta_minutes=round(estimate.minutes) if estimate else None,
            eta_range=(int(estimate.low), max(1, round(estimate.high + 0.49))) if estimate else None,
            window_number=view.window_number,
            taken_at=t.taken_at,
            called_at=t.called_at,
            completed_at=t.completed_at,
            awaiting_arrival=t.awaiting_arrival,
            **extra,
        )


class TrackedTicketOut(TicketOut):
    """The ticket for whoever took it or holds its slip: the code is a pointer to its status, not a key."""

    code: str
    track_path: str

    @classmethod
    def tracked(cls, view: TicketView) -> TrackedTicketOut:
        code = view.ticket.code
        return cls.of(view, code=code, track_path=f'/track/{code}')


def sent(body: BaseModel, status_code: int = 200) -> Response:
    """The body's JSON, serialised once: a model returned as such is dumped, validated again against the route's
    response_model and serialised by FastAPI (the route keeps response_model: it still documents the body)."""
    return Response(body.model_dump_json(), status_code=status_code, media_type='application/json')


class ServiceOut(BaseModel):
    code: str
    name: str
    name_en: str
    prefix: str
    waiting: int
    eta_minutes: int | None
    oldest_wait_minutes: int | None


class WindowOut(BaseModel):
    id: int
    number: int
    name: str
    state: WindowState
    current_number: str | None
    services: list[str]


class HallOut(BaseModel):
    windows: list[WindowOut]
    services: list[ServiceOut]

    @classmethod
    def of(cls, overview: HallOverview, now: dt.datetime) -> HallOut:
        codes = {q.service.id: q.service.code for q in overview.queues}
        return cls(
            windows=[
                WindowOut(
                    id=w.window.id or 0,
                    number=w.window.number,
                    name=w.window.name,
                    state=w.window.state,
                    current_number=w.current.number if w.current else None,
                    services=[
                        codes[sid] for sid, _ in sorted(w.service_ids.items(), key=lambda i: i[1]) if sid in codes
                    ],
                )
                for w in overview.windows
            ],
            services=[
                ServiceOut(
                    code=q.service.code,
                    name=q.service.name,
                    name_en=q.service.name_en,
                    prefix=q.service.ticket_prefix,
                    waiting=q.waiting,
                    eta_minutes=round(q.estimate.minutes) if q.estimate else None,
                    oldest_wait_minutes=int((now - q.oldest_queued_at).total_seconds() // 60)
                    if q.oldest_queued_at
                    else None,
                )
                for q in overview.queues
            ],
        )


class TokenIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    totp: str = Field(default='', max_length=32)  # for an enrolled person: a TOTP or recovery code
    new_password: str = Field(default='', max_length=256)  # replaces a one-time password after an admin's reset


class TokenOut(BaseModel):
    access_token: str
    token_type: str = 'bearer'
    role: str
    window_id: int | None
    expires_at: dt.datetime


class CallTicketIn(BaseModel):
    number: str = Field(min_length=2, max_length=NUMBER_MAX)
    reason: str = Field(min_length=1, max_length=REASON_MAX)


class TransferIn(BaseModel):
    service_code: str | None = Field(default=None, max_length=SERVICE_CODE_MAX)
    window_id: int | None = None
    reason: str = Field(default='', max_length=REASON_MAX)


class ParkIn(BaseModel):
    reason: str = Field(default='', max_length=REASON_MAX)


class ArrivalIn(BaseModel):
    entrance_code: str = Field(min_length=1, max_length=200, description="the hall's entrance code, as scanned")


class ResumeIn(BaseModel):
    number: str = Field(min_length=2, max_length=NUMBER_MAX)


class WindowStateIn(BaseModel):
    state: WindowState
