"""The call boards' live state for every open board: one JSON text per change per board scope, shared by all.

A scope is the hall-wide board (`None`) or a zone's (`/display/{zone}`); its channel is made when the first
board of that scope connects, from `app.services.call_board.board_scope`, and lives as long as the process
(there are only as many as zones). What a board shows, as texts (`seq` is the channel's number):

    snapshot: {"seq": 7, "calls": [...], "waiting": {"SVC-A": 3}}      on connect
    a call:   {"seq": 8, "calls": [...], "waiting": {...}, "say": "请 A001 号到 1 号窗口办理"}
    waiting:  {"seq": 9, "waiting": {...}}                             counts moved (at most 4 a second)

Each text carries whole parts (the whole list of calls, every count the board shows), so a page applies any
text as the truth. A call names the ticket number, the window number, recall and green channel (never why),
nothing personal. A call goes out at once; waiting counts are coalesced, as the floor map's are.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from app.events import Event, TicketCalled, TicketResumed
from app.fanout import Channel
from app.services.call_board import BoardScope, Call, push_call
from app.services.errors import NotFound
from twin.hall import HallTwin
from twin.model import QUEUE, Key

WAITING_INTERVAL = 0.25  # at most four count updates a second per board
CALL_EVENTS = (TicketCalled, TicketResumed)

ScopeReader = Callable[[str | None], Awaitable[BoardScope]]


def initial_calls(twin: HallTwin, scope: BoardScope) -> list[Call]:
    """What windows are serving now, newest first: the board's list until the next call."""
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    serving = [w for w in twin.windows.values() if w.current_number and scope.shows_window(w.id)]
    serving.sort(key=lambda w: _aware(w.current_since) or epoch, reverse=True)
    calls: list[Call] = []
    for window in reversed(serving):
        calls = push_call(calls, Call(window.current_number, window.number))
    return calls


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    return moment.replace(tzinfo=dt.UTC) if moment is not None and moment.tzinfo is None else moment


def _text(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(',', ':'))


def _call(call: Call) -> dict[str, Any]:
    return {'number': call.number, 'window': call.window_number, 'recall': call.recall, 'green': call.green}


class Board:
    """One scope's board: its calls, the counts last sent, and the channel its pages listen to."""

    def __init__(self, twin: HallTwin, scope: BoardScope) -> None:
        self.twin = twin
        self.scope = scope
        self.calls = initial_calls(twin, scope)
        self.waiting = self.counts()
        self.channel = Channel(self._snapshot)

    def counts(self) -> dict[str, int]:
        queues = sorted(self.twin.queues.values(), key=lambda q: q.prefix)
        return {q.code: q.waiting for q in queues if self.scope.shows_service(q.service_id)}

    def _snapshot(self, seq: int) -> str:
        return _text({'seq': seq, 'calls': [_call(c) for c in self.calls], 'waiting': self.waiting})

    def call(self, call: Call, window_id: int | None) -> None:
        if not self.scope.shows_window(window_id):
            return
        self.calls = push_call(self.calls, call)
        self.waiting = self.counts()
        calls = [_call(c) for c in self.calls]
        self.channel.publish(
            lambda seq: _text({'seq': seq, 'calls': calls, 'waiting': self.waiting, 'say': call.announcement})
        )

    def recount(self) -> None:
        waiting = self.counts()
        if waiting != self.waiting:
            self.waiting = waiting
            self.channel.publish(lambda seq: _text({'seq': seq, 'waiting': waiting}))

    def rescope(self, scope: BoardScope) -> None:
        """The hall's configuration changed: the same zone with other windows or services (a full text)."""
        self.scope = scope
        shown = {w.number for w in self.twin.windows.values() if scope.shows_window(w.id)}
        self.calls = [c for c in self.calls if c.window_number in shown]
        self.waiting = self.counts()
        self.channel.publish(self._snapshot)


class BoardFeed:
    """Every open board's channel, fed by calls from the bus and queue changes from the twin."""

    def __init__(self, twin: HallTwin, read_scope: ScopeReader, *, waiting_interval: float = WAITING_INTERVAL) -> None:
        self.twin = twin
        self.read_scope = read_scope
        self.waiting_interval = waiting_interval
        self.boards: dict[str | None, Board] = {}
        self._lock = asyncio.Lock()
        self._handle: asyncio.Handle | None = None
        self._last_recount = -float('inf')

    async def board(self, zone: str | None) -> Board:
        """The scope's board, made at its first visit; NotFound for a zone the hall does not have."""
        found = self.boards.get(zone)
        if found is not None:
            return found
        async with self._lock:
            if zone not in self.boards:
                self.boards[zone] = Board(self.twin, await self.read_scope(zone))
            return self.boards[zone]

    def on_call(self, event: Event) -> None:
        if not isinstance(event, CALL_EVENTS):
            return
        call = Call.of(event)
        if call is None:
            return
        for board in self.boards.values():
            board.call(call, event.payload.window_id)

    def on_update(self, keys: frozenset[Key]) -> None:
        if self._handle is not None or not any(kind == QUEUE for kind, _ in keys):
            return
        loop = asyncio.get_running_loop()
        delay = self._last_recount + self.waiting_interval - time.monotonic()
        self._handle = loop.call_later(delay, self.recount) if delay > 0 else loop.call_soon(self.recount)

    def recount(self) -> None:
        self._handle = None
        self._last_recount = time.monotonic()
        for board in self.boards.values():
            board.recount()

    async def reconfigure(self, _event: Event) -> None:
        """Zones, windows or services changed: each board takes its scope again; a zone that is gone loses its
        pages (they reconnect and are refused)."""
        async with self._lock:
            for zone, board in list(self.boards.items()):
                try:
                    board.rescope(await self.read_scope(zone))
                except NotFound:
                    del self.boards[zone]
                    board.channel.close_all()

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        for board in self.boards.values():
            board.channel.close_all()
