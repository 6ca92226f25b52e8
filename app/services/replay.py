"""Replay: the hall at any moment of a day, rebuilt from the TicketEvent, WindowEvent and DeviceEvent rows.

"What happened at 10:40?": `ReplayService.load` reads a day's events once (a DayLog); `state_at`
folds the events up to a moment through the live queue's reducer (app/services/live_queue.py, the
one that keeps the running hall) into windows (open, paused or closed; who was being served, since
when) and queues (who was waiting), and the device rows into devices (online, offline, fault; seats
taken). Moving a slider only re-runs the fold over memory.

A window's state before the day's first change is that change's `from_state`; a window that did
not change that day (or since) held the state it has now.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.clock import hall_day
from app.events import (
    TicketArrived,
    TicketCalled,
    TicketCompleted,
    TicketEventBase,
    TicketIssued,
    TicketNoShow,
    TicketParked,
    TicketPrioritised,
    TicketResumed,
    TicketSnapshot,
    TicketTransferred,
    WindowChanged,
    WindowPayload,
)
from app.models.device import Device
from app.models.hall import ServiceItem, Window, WindowState
from app.models.operations import DeviceEvent, WindowEvent
from app.models.ticket import OPEN_STATUSES, PriorityClass, Ticket, TicketEvent
from app.services.deps import Deps
from app.services.hall_hours import day_bounds, opening
from app.services.live_queue import LiveQueue, WindowSlot
from app.services.recent import Recent
from app.services.uow import Service

DEVICE_LOOKBACK = dt.timedelta(days=7)  # how far back to find each device's state at the start of the day
RECENT_STEPS = 8
LOG_SECONDS = 20.0  # managers opening the page together share one read
HEALTH, SEAT = 'health', 'seat'
# The event each kind of TicketEvent row was published as. A recall is left out: the same ticket stays at the
# same desk since its first call, so it moves nothing; so are rows that are no transition (kiosk answers).
EVENT_OF_KIND: dict[str, type[TicketEventBase]] = {
    'issued': TicketIssued,
    'called': TicketCalled,
    'called_out_of_order': TicketCalled,
    'resumed': TicketResumed,
    'completed': TicketCompleted,
    'no_show': TicketNoShow,
    'parked': TicketParked,
    'transferred': TicketTransferred,
    'arrived': TicketArrived,
    'prioritised': TicketPrioritised,
}


@dataclass(frozen=True)
class TicketStep:
    """One TicketEvent row, with the ticket's number and priority class."""

    at: dt.datetime
    ticket_id: int
    number: str
    kind: str
    service_id: int | None
    window_id: int | None
    to_status: str
    priority_class: str = PriorityClass.NORMAL

    @cached_property
    def event(self) -> TicketEventBase | None:
        """The row as the event the queue published then, for the live queue's reducer (None: it moves nobody).

        A ticket starts waiting (issued, transferred) or is called at the row's moment; a transfer's row names
        the window it left."""
        kind = EVENT_OF_KIND.get(self.kind)
        if kind is None or self.service_id is None:
            return None
        moved = kind is TicketTransferred
        snapshot = TicketSnapshot(
            id=self.ticket_id,
            number=self.number,
            service_id=self.service_id,
            service_code='',
            status=self.to_status,
            priority_class=self.priority_class,
            queued_at=self.at,
            taken_at=self.at,
            called_at=self.at if kind in (TicketCalled, TicketResumed) else None,
            window_id=None if moved else self.window_id,
        )
        if moved:
            return TicketTransferred(
                hall_id=0, time=self.at, payload=snapshot, from_service_id=0, from_window_id=self.window_id
            )
        return kind(hall_id=0, time=self.at, payload=snapshot)


@dataclass(frozen=True)
class WindowStep:
    """One WindowEvent row: a window opened, paused or closed ('state'), or given other services ('services')."""

    at: dt.datetime
    window_id: int
    kind: str
    from_state: str
    to_state: str
    detail: dict[str, Any]


Step = TicketStep | WindowStep


@dataclass(frozen=True)
class DeviceStep:
    at: dt.datetime
    device_id: int
    kind: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class DayLog:
    """Everything replay needs for one hall day, read once."""

    day: dt.date
    start: dt.datetime  # the slider's range: opening hours, widened to the day's ticket and window events
    end: dt.datetime
    tickets: list[TicketStep]
    devices: list[DeviceStep]  # each device's last health / seat event before the day come first
    window_steps: list[WindowStep]  # the day's window changes
    window_start: dict[int, str]  # each window's state when the day began
    windows: dict[int, tuple[int, str]]  # id -> (number, name)
    services: dict[int, tuple[str, str, str]]  # id -> (code, name, prefix)
    device_info: dict[int, tuple[str, str, str]]  # id -> (code, kind, name)


@dataclass(frozen=True)
class WindowAt:
    window_id: int
    number: int
    name: str
    state: str  # open / paused / closed
    activity: str  # 'serving', or the state: 'idle' (open, no one at the desk), 'paused', 'closed'
    ticket_number: str | None = None
    since: dt.datetime | None = None
    finished: int = 0  # tickets completed or marked no-show here so far


@dataclass(frozen=True)
class QueueAt:
    service_id: int
    code: str
    name: str
    prefix: str
    waiting: int
    numbers: list[str]  # in the order they started waiting
    oldest: dt.datetime | None


@dataclass(frozen=True)
class DeviceAt:
    device_id: int
    code: str
    kind: str
    name: str
    state: str  # online / offline / fault, or 'unknown' when nothing was recorded
    occupied: bool | None = None  # seats only


@dataclass(frozen=True)
class HallAt:
    moment: dt.datetime
    windows: list[WindowAt]
    queues: list[QueueAt]
    devices: list[DeviceAt]
    issued: int
    finished: int
    no_shows: int
    recent: list[Step] = field(default_factory=list)  # the last steps before the moment, newest first

    @property
    def waiting(self) -> int:
        return sum(q.waiting for q in self.queues)


def state_at(log: DayLog, moment: dt.datetime) -> HallAt:
    """The hall as it stood at `moment`: every event at or before it applied, in order, through the live queue's
    reducer; the day's counts are tallied on the way."""
    hall = LiveQueue(
        {},
        {wid: WindowSlot({}, log.window_start.get(wid, WindowState.CLOSED)) for wid in log.windows},
        clock=lambda: moment,
    )
    numbers: dict[int, str] = {}
    finished: dict[int, int] = {}
    issued = done = no_shows = 0
    recent: list[Step] = []
    for step in log.tickets:
        if step.at > moment:
            break
        numbers[step.ticket_id] = step.number
        if step.event is not None:
            hall.apply(step.event)
        if step.kind in ('completed', 'no_show') and step.window_id is not None:
            finished[step.window_id] = finished.get(step.window_id, 0) + 1
        if step.at >= log.start:
            recent.append(step)
            issued += step.kind == 'issued'
            done += step.kind == 'completed'
            no_shows += step.kind == 'no_show'
    changes: list[Step] = []
    for change in log.window_steps:
        if change.at > moment:
            break
        number = log.windows.get(change.window_id, (0, ''))[0]
        hall.apply(
            WindowChanged(
                hall_id=0,
                time=change.at,
                payload=WindowPayload(id=change.window_id, number=number, state=change.to_state, service_ids=[]),
            )
        )
        changes.append(change)
    latest = sorted(recent[-RECENT_STEPS:] + changes[-RECENT_STEPS:], key=lambda step: step.at)
    return HallAt(
        moment=moment,
        windows=_windows(log, hall, finished, numbers),
        queues=_queues(log, hall, numbers),
        devices=_devices(log, moment),
        issued=issued,
        finished=done,
        no_shows=no_shows,
        recent=latest[-RECENT_STEPS:][::-1],
    )


def _windows(log: DayLog, hall: LiveQueue, finished: dict[int, int], numbers: dict[int, str]) -> list[WindowAt]:
    result = []
    for window_id, (number, name) in sorted(log.windows.items(), key=lambda item: item[1][0]):
        slot = hall.windows[window_id]
        ticket = slot.current_ticket_id
        activity = 'serving' if ticket else ('idle' if slot.state == WindowState.OPEN else slot.state)
        result.append(
            WindowAt(
                window_id,
                number,
                name,
                slot.state,
                activity,
                numbers.get(ticket) if ticket else None,
                slot.since if ticket else None,
                finished.get(window_id, 0),
            )
        )
    return result


def _queues(log: DayLog, hall: LiveQueue, numbers: dict[int, str]) -> list[QueueAt]:
    result = []
    for service_id, (code, name, prefix) in sorted(log.services.items(), key=lambda item: item[1][2]):
        tickets = sorted((c.queued_at, c.ticket_id) for c in hall.waiting.get(service_id, {}).values())
        result.append(
            QueueAt(
                service_id,
                code,
                name,
                prefix,
                len(tickets),
                [numbers[t] for _, t in tickets],
                tickets[0][0] if tickets else None,
            )
        )
    return result


def _devices(log: DayLog, moment: dt.datetime) -> list[DeviceAt]:
    state: dict[int, str] = {}
    occupied: dict[int, bool] = {}
    for step in log.devices:
        if step.at > moment:
            break
        if step.kind == HEALTH and 'state' in step.detail:
            state[step.device_id] = str(step.detail['state'])
        elif step.kind == SEAT and 'occupied' in step.detail:
            occupied[step.device_id] = bool(step.detail['occupied'])
    return [
        DeviceAt(device_id, code, kind, name, state.get(device_id, 'unknown'), occupied.get(device_id))
        for device_id, (code, kind, name) in sorted(log.device_info.items(), key=lambda item: item[1][0])
    ]


class ReplayService(Service):
    def __init__(self, deps: Deps) -> None:
        super().__init__(deps)
        self.recent: Recent[DayLog] = Recent(LOG_SECONDS)

    async def load(self, day: dt.date | None = None, *, fresh: bool = False) -> DayLog:
        """A hall day's events (today by default), read at most every LOG_SECONDS unless `fresh`;
        `state_at` does the rest in memory."""
        day = day or hall_day(self.clock(), self.settings.tz)
        return await self.recent.get(day, lambda: self._load(day), fresh=fresh)

    async def _load(self, day: dt.date) -> DayLog:
        tz = self.settings.tz
        start, end = day_bounds(day, tz)
        async with self.db.read_session() as s:
            tickets = await self._ticket_steps(s, day, start, end)
            devices = await self._device_steps(s, start, end)
            rows = list((await s.execute(select(Window).where(Window.hall_id == self.hall_id))).scalars())
            windows = {w.id: (w.number, w.name) for w in rows if w.id is not None}
            window_steps, window_start = await self._window_steps(s, start, end, {w.id: w.state for w in rows if w.id})
            services = {
                sv.id: (sv.code, sv.name, sv.ticket_prefix)
                for sv in (await s.execute(select(ServiceItem))).scalars()
                if sv.id is not None
            }
            device_info = {
                d.id: (d.code, d.kind, d.name)
                for d in (await s.execute(select(Device).where(Device.hall_id == self.hall_id))).scalars()
                if d.id is not None
            }
        first, last = opening(day, tz)
        today = [step.at for step in tickets if step.at >= start] + [step.at for step in window_steps]
        if today:
            first, last = min(first, min(today)), max(last, max(today))
        last = min(last, max(self.clock(), first))
        return DayLog(day, first, last, tickets, devices, window_steps, window_start, windows, services, device_info)

    async def _window_steps(
        self, s: AsyncSession, start: dt.datetime, end: dt.datetime, now: dict[int, str]
    ) -> tuple[list[WindowStep], dict[int, str]]:
        """The day's window changes, and each window's state when the day began: the `from_state` of
        its first change from then on, or (no change since) the state it has now."""
        rows = await s.execute(
            select(
                WindowEvent.at,
                WindowEvent.window_id,
                WindowEvent.kind,
                WindowEvent.from_state,
                WindowEvent.to_state,
                WindowEvent.detail,
            )
            .where(WindowEvent.hall_id == self.hall_id, col(WindowEvent.at) >= start)
            .order_by(col(WindowEvent.at), col(WindowEvent.id))
        )
        steps: list[WindowStep] = []
        at_start = dict(now)
        seen: set[int] = set()
        for at, window_id, kind, from_state, to_state, detail in rows:
            if window_id not in seen:
                seen.add(window_id)
                at_start[window_id] = from_state
            if at < end:
                steps.append(WindowStep(at, window_id, kind, from_state, to_state, dict(detail or {})))
        return steps, at_start

    async def _ticket_steps(
        self, s: AsyncSession, day: dt.date, start: dt.datetime, end: dt.datetime
    ) -> list[TicketStep]:
        """Events up to the day's end of the day's tickets and of older ones still open or closed today."""
        tickets = select(Ticket.id).where(
            Ticket.hall_id == self.hall_id,
            or_(
                Ticket.day == day,
                and_(col(Ticket.day) < day, col(Ticket.status).in_(OPEN_STATUSES)),
                and_(col(Ticket.day) < day, col(Ticket.completed_at) >= start),
            ),
        )
        rows = await s.execute(
            select(
                TicketEvent.at,
                TicketEvent.ticket_id,
                Ticket.number,
                TicketEvent.kind,
                TicketEvent.service_id,
                TicketEvent.window_id,
                TicketEvent.to_status,
                Ticket.priority_class,
            )
            .join(Ticket, Ticket.id == TicketEvent.ticket_id)
            .where(col(TicketEvent.ticket_id).in_(tickets), col(TicketEvent.at) < end)
            .order_by(col(TicketEvent.at), col(TicketEvent.id))
        )
        return [TicketStep(*row) for row in rows]

    async def _device_steps(self, s: AsyncSession, start: dt.datetime, end: dt.datetime) -> list[DeviceStep]:
        """Each device's last health and seat event before the day, then the day's own."""
        rows = await s.execute(
            select(DeviceEvent.at, DeviceEvent.device_id, DeviceEvent.kind, DeviceEvent.detail)
            .where(
                DeviceEvent.hall_id == self.hall_id,
                col(DeviceEvent.kind).in_((HEALTH, SEAT)),
                col(DeviceEvent.at) >= start - DEVICE_LOOKBACK,
                col(DeviceEvent.at) < end,
            )
            .order_by(col(DeviceEvent.at), col(DeviceEvent.id))
        )
        before: dict[tuple[int, str], DeviceStep] = {}
        during: list[DeviceStep] = []
        for at, device_id, kind, detail in rows:
            step = DeviceStep(at, device_id, kind, dict(detail or {}))
            if at < start:
                before[(device_id, kind)] = step
            else:
                during.append(step)
        return sorted(before.values(), key=lambda step: step.at) + during


def slider_minutes(log: DayLog) -> int:
    """How many minutes the slider spans; the last, partial minute counts, so its last stop is `log.end` itself."""
    return max(1, math.ceil((log.end - log.start).total_seconds() / 60))


def moment_at(log: DayLog, minutes: int) -> dt.datetime:
    """The moment a slider stop stands for: whole minutes after the start, and the end itself at the last stop.

    On today's log the end is "now": rounding it down to a whole minute would hide what happened this minute.
    """
    return min(log.start + dt.timedelta(minutes=max(0, minutes)), log.end)
