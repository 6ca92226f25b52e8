"""The recent history of one window or one device, for the floor map's detail panel.

Only public fields leave here (ticket numbers, kinds, times, device states): no citizen data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlmodel import col, select

from app.db import Database
from app.models.hall import ServiceItem
from app.models.operations import DeviceEvent, WindowEvent
from app.models.ticket import Ticket, TicketEvent

HISTORY_LIMIT = 12
PUBLIC_DETAIL_KEYS = ('state', 'reason', 'occupied', 'status', 'valid', 'outcome', 'kind', 'waited_minutes', 'seconds')


@dataclass(frozen=True)
class HistoryLine:
    at: dt.datetime
    kind: str
    text: str = ''  # a ticket number for windows
    detail: dict[str, object] = field(default_factory=dict)  # public facts for devices (see `public_detail`)


async def window_history(db: Database, window_id: int, *, limit: int = HISTORY_LIMIT) -> list[HistoryLine]:
    """The window's last ticket transitions and its own changes (opened, paused, closed, new services), newest first."""
    tickets = (
        select(TicketEvent.at, TicketEvent.kind, Ticket.number)
        .join(Ticket, col(Ticket.id) == TicketEvent.ticket_id)
        .where(TicketEvent.window_id == window_id)
        .order_by(col(TicketEvent.at).desc(), col(TicketEvent.id).desc())
        .limit(limit)
    )
    changes = (
        select(WindowEvent.at, WindowEvent.kind, WindowEvent.to_state, WindowEvent.detail)
        .where(WindowEvent.window_id == window_id)
        .order_by(col(WindowEvent.at).desc(), col(WindowEvent.id).desc())
        .limit(limit)
    )
    async with db.read_session() as s:
        lines = [HistoryLine(at, kind, number) for at, kind, number in await s.execute(tickets)]
        names = dict((await s.execute(select(ServiceItem.code, ServiceItem.name))).all())
        for at, kind, to_state, detail in await s.execute(changes):
            if kind == 'services':
                served = '、'.join(names.get(code, code) for code in detail or {})
                lines.append(HistoryLine(at, 'window_services', served))
            else:
                lines.append(HistoryLine(at, 'window_state', detail={'state': to_state}))
    return sorted(lines, key=lambda line: line.at, reverse=True)[:limit]


async def device_history(db: Database, device_id: int, *, limit: int = HISTORY_LIMIT) -> list[HistoryLine]:
    """The device's last recorded events (health, seat, prints, reads), newest first."""
    statement = (
        select(DeviceEvent.at, DeviceEvent.kind, DeviceEvent.detail)
        .where(DeviceEvent.device_id == device_id)
        .order_by(col(DeviceEvent.at).desc(), col(DeviceEvent.id).desc())
        .limit(limit)
    )
    async with db.read_session() as s:
        return [HistoryLine(at, kind, detail=public_detail(detail)) for at, kind, detail in await s.execute(statement)]


def public_detail(detail: dict[str, object] | None) -> dict[str, object]:
    """Only the facts a manager reads (state, outcome, ...): session ids and job ids stay in the database."""
    return {key: detail[key] for key in PUBLIC_DETAIL_KEYS if key in detail} if detail else {}
