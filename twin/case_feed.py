"""The live cases (办件) of relatives' light pages (亲情代办): one JSON text per change per followed scope, shared.

A scope is what a grant covers: the cases opened from a ticket (a grant of a ticket), or one case (a grant of a
case without a ticket). Its channel (app/fanout.py) is made when its first page connects (who may follow it was
decided by the proxy service before: `ProxyService.access`) and dropped when its last page leaves. A case step
(`CaseStepChanged`, from the bus, so from any process) or a material the citizen confirmed (`ProxyChanged`
'accepted') makes the scope read again: once for all its pages, never once per page, and a burst of events while
a read is under way costs one more read, not one each. What a page is told, as one text:

    {"seq": 2, "cases": [{"id": 5, "service": "...", "status": "open", "due": "2026-12-09", "current": [1],
      "steps": [{"name": "受理", "department": "...", "status": "done", "started": "12-06 09:30", ...}],
      "needs": ["户口簿"], "asked": ["请补充..."]}]}

Nothing the full /proxy page does not show, and less: no codes, no certificates' numbers, no answers; what a
reviewer asked for when returning a step is masked like a log line (app/security/masking.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from app.clock import as_utc
from app.events import CaseStepChanged, Event, ProxyChanged
from app.fanout import Channel
from app.models.cases import CaseNode
from app.security.masking import mask_text
from app.services.case_transfer import TRANSFER_KIND
from app.services.case_views import MATERIAL_REQUIRED, CaseView
from app.services.cases import CaseService
from app.services.workflow import ACTIVE, CASE_RETURNED, RETURNED

log = logging.getLogger(__name__)

TRANSFERRED = 'transferred'  # a step that moved the case to another hall (跨区通办)


@dataclass(frozen=True)
class CaseScope:
    """What a grant covers: the cases of its ticket, or its one case."""

    ticket_id: int | None
    case_id: int | None

    def concerns(self, ticket_id: int | None, case_id: int | None) -> bool:
        if self.ticket_id is not None:
            return ticket_id == self.ticket_id
        return case_id is not None and case_id == self.case_id


def case_body(view: CaseView, *, tz: ZoneInfo, english: bool) -> dict[str, object]:
    """One case as its pages show it: its steps in order, which are current, and what the citizen must still bring."""
    service = view.service.name_en if english and view.service.name_en else view.service.name
    steps = [_step(view, node, tz) for node in view.nodes]
    current = [i for i, node in enumerate(view.nodes) if node.status == ACTIVE]
    if not current and view.case.status == CASE_RETURNED:
        current = [i for i, node in enumerate(view.nodes) if node.status == RETURNED][-1:]
    asked: list[str] = []  # what the department asked for when it returned the case (补正), while it waits for it
    if view.case.status == CASE_RETURNED:
        asked = [mask_text(node.note) for node in view.nodes if node.status == RETURNED and node.note][-1:]
    due = as_utc(view.case.due_at).astimezone(tz).strftime('%Y-%m-%d') if view.case.due_at is not None else None
    return {
        'id': view.id,
        'service': service,
        'status': view.case.status,
        'due': due,
        'current': current,
        'steps': steps,
        'needs': [m.name for m in view.materials if m.status == MATERIAL_REQUIRED],
        'asked': asked,
    }


def _step(view: CaseView, node: CaseNode, tz: ZoneInfo) -> dict[str, object]:
    status = TRANSFERRED if node.kind == TRANSFER_KIND else node.status
    return {
        'name': node.name,
        'department': view.department_name(node.department_id),
        'status': status,
        'stage': node.stage,
        'started': _at(node.started_at, tz),
        'finished': _at(node.finished_at, tz),
        'due': _at(node.due_at, tz) if node.finished_at is None else None,
    }


def _at(moment: dt.datetime | None, tz: ZoneInfo) -> str | None:
    return as_utc(moment).astimezone(tz).strftime('%m-%d %H:%M') if moment is not None else None


class FollowedCases:
    """One followed scope: its cases as last sent, the pages that hold it, and the channel they listen to."""

    def __init__(self, scope: CaseScope, cases: str) -> None:
        self.scope = scope
        self.cases = cases  # the cases' JSON, serialised once per change
        self.holders = 0
        self.channel = Channel(self.text)
        self.stale = False  # an event came while a read was under way: read again after it
        self.reading: asyncio.Task[None] | None = None

    def text(self, seq: int) -> str:
        return f'{{"seq":{seq},"cases":{self.cases}}}'

    def show(self, cases: str) -> None:
        if cases != self.cases:
            self.cases = cases
            self.channel.publish(self.text)


class CaseFeed:
    """Every followed scope's channel, read again when one of its cases moves (events from the bus)."""

    def __init__(self, cases: CaseService, *, tz: ZoneInfo, english: bool) -> None:
        self.cases = cases
        self.tz = tz
        self.english = english
        self.scopes: dict[CaseScope, FollowedCases] = {}
        self._lock = asyncio.Lock()

    async def hold(self, scope: CaseScope) -> FollowedCases:
        """The scope's live cases for one more page (`release` it when the page goes); the grant was admitted."""
        async with self._lock:
            followed = self.scopes.get(scope)
            if followed is None:
                followed = FollowedCases(scope, await self._read(scope))
                self.scopes[scope] = followed
            followed.holders += 1
            return followed

    def release(self, followed: FollowedCases) -> None:
        followed.holders -= 1
        if followed.holders <= 0 and self.scopes.get(followed.scope) is followed:
            del self.scopes[followed.scope]
            if followed.reading is not None:
                followed.reading.cancel()

    def on_event(self, event: Event) -> None:
        """A step of a case, or a material the citizen confirmed: the scopes it concerns read again, once each."""
        if isinstance(event, CaseStepChanged) or (isinstance(event, ProxyChanged) and event.change == 'accepted'):
            for followed in [f for f in self.scopes.values() if f.scope.concerns(event.ticket_id, event.case_id)]:
                self._reread(followed)

    def _reread(self, followed: FollowedCases) -> None:
        followed.stale = True
        if followed.reading is None:
            followed.reading = asyncio.get_running_loop().create_task(self._refresh(followed), name='case-feed')

    async def _refresh(self, followed: FollowedCases) -> None:
        try:
            while followed.stale:
                followed.stale = False
                followed.show(await self._read(followed.scope))
        except Exception:
            log.exception('re-reading followed cases failed; their pages reconnect')
            followed.channel.close_all()
        finally:
            followed.reading = None

    async def _read(self, scope: CaseScope) -> str:
        if scope.ticket_id is not None:
            views = await self.cases.views_for_ticket(scope.ticket_id)
        else:
            views = [await self.cases.tracked_view(scope.case_id or 0)]
        bodies = [case_body(view, tz=self.tz, english=self.english) for view in views]
        return json.dumps(bodies, ensure_ascii=False, separators=(',', ':'))

    async def stop(self) -> None:
        readings = [f.reading for f in self.scopes.values() if f.reading is not None]
        for followed in self.scopes.values():
            followed.channel.close_all()
        for reading in readings:
            reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*readings, return_exceptions=True)
