"""The call board's rules: which windows and queues a board shows, and what it says aloud.

A board shows ticket numbers and window numbers only, never a name (nothing personal leaves the
server for it). The hall-wide board shows every window; `/display/{zone}` only that zone's windows
and the services they serve (a zone without windows, such as the rest area, gets the hall-wide
board). Every announcement names the window.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select

from app.db import Database
from app.events import TicketCalled, TicketEventBase
from app.models.hall import Window, WindowService, Zone
from app.models.ticket import PriorityClass
from app.services.errors import NotFound

RECENT_CALLS = 7  # the current call plus six before it


@dataclass(frozen=True)
class BoardScope:
    title: str
    zone_code: str | None = None
    window_ids: frozenset[int] | None = None  # None: every window of the hall
    service_ids: frozenset[int] | None = None

    def shows_window(self, window_id: int | None) -> bool:
        return window_id is not None and (self.window_ids is None or window_id in self.window_ids)

    def shows_service(self, service_id: int) -> bool:
        return self.service_ids is None or service_id in self.service_ids


@dataclass(frozen=True)
class Call:
    """A ticket called to a window: one line on the boards, one announcement on the board and the call displays."""

    number: str
    window_number: int
    recall: bool = False
    green: bool = False  # 绿色通道: the board marks it, never why (no personal data on a public screen)

    @classmethod
    def of(cls, event: TicketEventBase) -> Call | None:
        """The call a ticket event (called, recalled, resumed) makes; None when it names no window."""
        ticket = event.payload
        if ticket.window_number is None:
            return None
        recall = isinstance(event, TicketCalled) and event.recall
        return cls(
            ticket.number, ticket.window_number, recall=recall, green=ticket.priority_class == PriorityClass.GREEN
        )

    @property
    def announcement(self) -> str:
        return announcement(self.number, self.window_number)

    @property
    def announcement_en(self) -> str:
        return announcement(self.number, self.window_number, lang='en')


def announcement(number: str, window_number: int, *, lang: str = 'zh-CN') -> str:
    """What the hall hears: the number and, always, the window (a recall says it again)."""
    if lang == 'en':
        return f'Number {number}, please go to window {window_number}'
    return f'请 {number} 号到 {window_number} 号窗口办理'


def push_call(calls: list[Call], call: Call, *, limit: int = RECENT_CALLS) -> list[Call]:
    """The board's list after a call: newest first, one line per ticket (a recall moves it back to the top)."""
    rest = [c for c in calls if c.number != call.number]
    return [call, *rest][:limit]


async def board_scope(db: Database, hall_id: int, zone_code: str | None) -> BoardScope:
    if zone_code is None:
        return BoardScope(title='')
    async with db.read_session() as s:
        zone = (
            await s.execute(select(Zone).where(Zone.hall_id == hall_id, Zone.code == zone_code))
        ).scalar_one_or_none()
        if zone is None:
            raise NotFound('unknown_zone', zone_code=zone_code)
        window_ids = frozenset(
            (await s.execute(select(Window.id).where(Window.hall_id == hall_id, Window.zone_id == zone.id))).scalars()
        )
        if not window_ids:  # the waiting or rest area: its board is hall-wide (as the devices route their calls)
            return BoardScope(zone.name, zone.code)
        service_ids = frozenset(
            (
                await s.execute(select(WindowService.service_id).where(col(WindowService.window_id).in_(window_ids)))
            ).scalars()
        )
    return BoardScope(zone.name, zone.code, frozenset(w for w in window_ids if w), service_ids)
