"""Staffing advice: which window to move to which queue for the next hour, and what it buys.

Each service is its own queue. Its demand for the next hour is the arrival rate (the last hour's
tickets blended with the forecast) plus the tickets already waiting, spread over the hour; the
windows that serve it form its pool (a fallback window counts for the time its preferred services
leave it), as busy as those windows are with everything they serve. Erlang C (M/M/c, app/services/
erlang.py) gives each queue's expected wait; a move re-assigns one window to serve one queue only
("3号窗口 -> 社保参保登记 专窗"), and is advised when it lowers the worst affected wait and the
citizens' total waiting time. Pure functions first, then the service that reads the hall, applies a
move (QueueService.set_window_services, stored in staffing_move, audited) and ends it at its end hour.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, update
from sqlmodel import col, select

from app.models.appointment import Appointment, AppointmentStatus
from app.models.hall import ServiceItem, Window, WindowService, WindowState
from app.models.people import Role
from app.models.staffing import StaffingMove
from app.models.ticket import TicketEvent
from app.services import audit, erlang, eta
from app.services.deps import Deps
from app.services.errors import Conflict, DomainError, NotFound
from app.services.forecast import ForecastService
from app.services.hall_hours import opening
from app.services.principal import Principal
from app.services.queue import QueueService
from app.services.reasons import checked_reason
from app.services.recent import Recent
from app.services.uow import Service, UnitOfWork

log = logging.getLogger(__name__)

HORIZON_MINUTES = 60.0
RECENT_WEIGHT = 0.5  # the last hour's arrivals vs the forecast for the next hour
MAX_WAIT = 240.0  # minutes: an unstable queue counts as this (and shows as "more than")
MIN_SHARE = 0.05  # a fallback window is never counted as entirely unavailable
PRESSURE_MINUTES = 10.0  # queues expected to wait at least this long are move targets
MIN_GAIN = 60.0  # citizen-minutes of waiting saved over the hour for a move to be worth the change
ADVICE_SECONDS = 30.0  # one computation serves every manager's panel for this long
NEAR_BEST = 0.8  # a window that already serves the target wins when it saves this share of the best move


@dataclass(frozen=True)
class QueueDemand:
    service_id: int
    code: str
    name: str
    arrivals_per_hour: float
    handling_minutes: float
    waiting: int = 0

    @property
    def rate_per_minute(self) -> float:
        """Arrivals plus today's backlog, which must also be served within the horizon."""
        return self.arrivals_per_hour / 60 + self.waiting / HORIZON_MINUTES

    @property
    def load(self) -> float:
        return self.rate_per_minute * self.handling_minutes


@dataclass(frozen=True)
class WindowPlan:
    window_id: int
    number: int
    name: str
    services: Mapping[int, int]  # service id -> tier (1 = main)


@dataclass(frozen=True)
class QueueOutlook:
    service_id: int
    code: str
    name: str
    servers: float
    load: float
    wait_minutes: float  # capped at MAX_WAIT

    @property
    def overloaded(self) -> bool:
        return self.wait_minutes >= MAX_WAIT


@dataclass(frozen=True)
class Move:
    """Re-assign one window to serve `target` only, for the next hour; waits are per affected queue."""

    window_id: int
    window_number: int
    window_name: str
    before: dict[str, int]  # service code -> tier, as QueueService.set_window_services takes it
    after: dict[str, int]
    target_code: str
    target_name: str
    source_code: str  # the window's main queue before the move
    source_name: str
    waits_before: dict[str, float]
    waits_after: dict[str, float]
    names: dict[str, str]  # service code -> name, for every queue in the waits
    gain: float  # citizen-minutes of waiting saved over the next hour
    knows_target: bool  # the window already served the target (as a fallback)
    hours: float = HORIZON_MINUTES / 60


@dataclass(frozen=True)
class StaffingAdvice:
    at: dt.datetime
    queues: list[QueueOutlook]
    moves: list[Move]


def blend_rate(
    recent_per_hour: float, forecast_per_hour: float | None, *, booked: int = 0, weight: float = RECENT_WEIGHT
) -> float:
    """What the next hour brings: the last hour's pace, pulled toward the forecast when there is one; never
    fewer than the citizens already booked into the hour (a booking is an arrival we know of)."""
    rate = recent_per_hour if forecast_per_hour is None else weight * recent_per_hour + (1 - weight) * forecast_per_hour
    return max(rate, float(booked))


def window_loads(windows: Iterable[WindowPlan], demand: Mapping[int, QueueDemand]) -> dict[int, dict[int, float]]:
    """How much of each window's time each of its services takes (erlangs, by window then service).

    A service's load is spread over the windows that serve it, a main-service window (tier 1) taking
    twice a fallback's share (tier 2), three times a tier-3 one, and so on.
    """
    windows = list(windows)
    weight: dict[int, float] = defaultdict(float)
    for window in windows:
        for sid, tier in window.services.items():
            weight[sid] += 1 / tier
    return {
        window.window_id: {
            sid: (demand[sid].load if sid in demand else 0.0) / tier / weight[sid]
            for sid, tier in window.services.items()
        }
        for window in windows
    }


def pools(windows: Iterable[WindowPlan], demand: Mapping[int, QueueDemand]) -> dict[int, tuple[float, float]]:
    """Per service, the windows that serve it as one M/M/c pool: (servers, utilisation).

    Servers: each window that serves it counts for the share of its time not taken by services it
    prefers (all of it at a main-service window). Utilisation: how busy those windows are overall,
    since a window busy with anything makes this queue wait too.
    """
    windows = list(windows)
    loads = window_loads(windows, demand)
    servers: dict[int, float] = defaultdict(float)
    busy: dict[int, float] = defaultdict(float)
    for window in windows:
        use = loads[window.window_id]
        total = sum(use.values())
        for sid, tier in window.services.items():
            better = sum(load for other, load in use.items() if window.services[other] < tier)
            available = min(max(1.0 - better, MIN_SHARE), 1.0)
            servers[sid] += available
            busy[sid] += available * total
    return {sid: (servers[sid], busy[sid] / servers[sid]) for sid in servers}


def outlook(windows: Iterable[WindowPlan], demand: Mapping[int, QueueDemand]) -> dict[int, QueueOutlook]:
    """Expected wait per queue with these windows (Erlang C on its pool, capped at MAX_WAIT)."""
    pool = pools(windows, demand)
    result = {}
    for sid, queue in demand.items():
        c, utilisation = pool.get(sid, (0.0, 0.0))
        if queue.load <= 0:
            wait = 0.0
        elif c <= 0:
            wait = math.inf
        else:
            wait = erlang.expected_wait(c, utilisation * c / queue.handling_minutes, queue.handling_minutes)
        result[sid] = QueueOutlook(
            sid, queue.code, queue.name, round(c, 2), round(queue.load, 2), round(min(wait, MAX_WAIT), 1)
        )
    return result


def waiting_cost(outlooks: Mapping[int, QueueOutlook], demand: Mapping[int, QueueDemand]) -> float:
    """Citizen-minutes of waiting over the horizon: arrivals (and backlog) times their expected wait."""
    return sum(demand[sid].rate_per_minute * HORIZON_MINUTES * o.wait_minutes for sid, o in outlooks.items())


def recommend(windows: list[WindowPlan], demand: Mapping[int, QueueDemand], *, limit: int = 3) -> list[Move]:
    """The best single-window moves, each against the current plan, for different windows and queues.

    A candidate makes one open window serve one pressured queue only. It must lower the worst wait
    among the queues it touches, push no other queue it touches past PRESSURE_MINUTES (unless it
    was already), and save at least MIN_GAIN citizen-minutes; the saving ranks them, and near the
    best a window that already served the target (as a fallback) wins.
    """
    now = outlook(windows, demand)
    base_cost = waiting_cost(now, demand)
    targets = [sid for sid, o in now.items() if o.wait_minutes >= PRESSURE_MINUTES]
    candidates: list[Move] = []
    for target in targets:
        for index, window in enumerate(windows):
            if dict(window.services) == {target: 1}:
                continue
            moved = WindowPlan(window.window_id, window.number, window.name, {target: 1})
            plan = [*windows[:index], moved, *windows[index + 1 :]]
            after = outlook(plan, demand)
            touched = set(window.services) | {target}
            worst_before = max(now[sid].wait_minutes for sid in touched if sid in now)
            worst_after = max(after[sid].wait_minutes for sid in touched if sid in after)
            gain = base_cost - waiting_cost(after, demand)
            hotspot = any(
                after[sid].wait_minutes > max(now[sid].wait_minutes, PRESSURE_MINUTES)
                for sid in touched - {target}
                if sid in now
            )
            if worst_after < worst_before and gain >= MIN_GAIN and not hotspot:
                candidates.append(_move(window, target, demand, now, after, touched, gain))
    return _pick(candidates, limit)


def _move(
    window: WindowPlan,
    target: int,
    demand: Mapping[int, QueueDemand],
    now: Mapping[int, QueueOutlook],
    after: Mapping[int, QueueOutlook],
    touched: set[int],
    gain: float,
) -> Move:
    codes = {sid: demand[sid].code for sid in demand}
    main = min(window.services.items(), key=lambda item: (item[1], -now[item[0]].load if item[0] in now else 0))[0]
    shown = [sid for sid in sorted(touched, key=lambda sid: (sid != target, codes.get(sid, ''))) if sid in now]
    return Move(
        window_id=window.window_id,
        window_number=window.number,
        window_name=window.name,
        before={codes[sid]: tier for sid, tier in window.services.items() if sid in codes},
        after={codes[target]: 1},
        target_code=codes[target],
        target_name=demand[target].name,
        source_code=codes.get(main, ''),
        source_name=demand[main].name if main in demand else '',
        waits_before={codes[sid]: round(now[sid].wait_minutes, 1) for sid in shown},
        waits_after={codes[sid]: round(after[sid].wait_minutes, 1) for sid in shown},
        names={codes[sid]: demand[sid].name for sid in shown},
        gain=round(gain, 1),
        knows_target=target in window.services,
    )


def _pick(candidates: list[Move], limit: int) -> list[Move]:
    """Best first; windows that already knew the target win among near-best moves for the same queue."""
    best_gain: dict[str, float] = {}
    for move in candidates:
        best_gain[move.target_code] = max(best_gain.get(move.target_code, 0.0), move.gain)

    def rank(move: Move) -> tuple[float, bool, float]:
        near = move.knows_target and move.gain >= NEAR_BEST * best_gain[move.target_code]
        return (-best_gain[move.target_code], not near, -move.gain)

    chosen: list[Move] = []
    for move in sorted(candidates, key=rank):
        if len(chosen) == limit:
            break
        if all(move.window_id != c.window_id and move.target_code != c.target_code for c in chosen):
            chosen.append(move)
    return chosen


# ---- the service ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppliedMove:
    """A stored move in force (table staffing_move): listed in the panel until it ends at `until`."""

    id: int
    window_id: int
    window_name: str
    target_name: str
    before: dict[str, int]
    after: dict[str, int]
    actor: str
    reason: str
    started_at: dt.datetime
    until: dt.datetime


class StaffingService(Service):
    """Reads the live hall, advises moves, applies one (stored, audited) and ends it at its end hour.

    Moves live in the database, so a restart (even kill -9) keeps them; `end_due` runs as one periodic job
    (app/jobs.py), and claiming a move's end is one conditional update, so of several processes one ends it.
    """

    def __init__(self, deps: Deps, queue: QueueService, forecast: ForecastService | None) -> None:
        super().__init__(deps)
        self.queue = queue
        self.forecast = forecast
        self.recent: Recent[StaffingAdvice] = Recent(ADVICE_SECONDS)

    async def advise(self, *, limit: int = 3) -> StaffingAdvice:
        """The advice now; shared for ADVICE_SECONDS by everyone who asks (`forget` to recompute)."""
        return await self.recent.get(limit, lambda: self._advise(limit))

    def forget(self) -> None:
        self.recent.clear()

    async def _advise(self, limit: int) -> StaffingAdvice:
        now = self.clock()
        windows, demand = await self.situation(now)
        queues, moves = await asyncio.to_thread(_advise, windows, demand, limit)
        return StaffingAdvice(now, queues, moves)

    async def situation(self, now: dt.datetime) -> tuple[list[WindowPlan], dict[int, QueueDemand]]:
        """Open windows with what they serve, and each queue's demand for the next hour."""
        live = self.queue.live or await self.queue.load_live()
        since = now - dt.timedelta(minutes=HORIZON_MINUTES)
        opened = opening(now.astimezone(self.tz).date(), self.tz)[0]
        if since < opened <= now:  # the first hour of the day: the pace since opening
            since = opened
        minutes = max((now - since).total_seconds() / 60, 15.0)
        async with self.db.read_session() as s:
            names = {
                w.id: (w.number, w.name)
                for w in (await s.execute(select(Window).where(Window.hall_id == self.hall_id))).scalars()
            }
            recent = dict(
                (
                    await s.execute(
                        select(TicketEvent.service_id, func.count())
                        .where(
                            TicketEvent.hall_id == self.hall_id,
                            TicketEvent.kind == 'issued',
                            col(TicketEvent.at) >= since,
                            col(TicketEvent.at) <= now,
                        )
                        .group_by(TicketEvent.service_id)
                    )
                ).all()
            )
            booked = dict(
                (
                    await s.execute(
                        select(Appointment.service_id, func.count())
                        .where(
                            Appointment.hall_id == self.queue.hall_id,
                            Appointment.status == AppointmentStatus.BOOKED,
                            col(Appointment.slot_start) >= now,
                            col(Appointment.slot_start) < now + dt.timedelta(minutes=HORIZON_MINUTES),
                        )
                        .group_by(Appointment.service_id)
                    )
                ).all()
            )
        demand: dict[int, QueueDemand] = {}
        middle = now + dt.timedelta(minutes=HORIZON_MINUTES / 2)
        for sid, service in live.services.items():
            forecast = await self.forecast.arrivals_per_hour(sid, middle) if self.forecast else None
            stats = eta.handling_stats(list(live.recent.get(sid, ())), prior_mean=service.avg_handling_minutes)
            rate = blend_rate(recent.get(sid, 0) * 60 / minutes, forecast, booked=booked.get(sid, 0))
            demand[sid] = QueueDemand(sid, service.code, service.name, rate, stats.mean, live.waiting_count(sid))
        windows = [
            WindowPlan(wid, *names[wid], dict(slot.services))
            for wid, slot in sorted(live.windows.items(), key=lambda item: names.get(item[0], (0, ''))[0])
            if slot.state == WindowState.OPEN and slot.services and wid in names
        ]
        return windows, demand

    @property
    def tz(self) -> ZoneInfo:
        return self.settings.tz

    async def apply(self, move: Move, *, caller: Principal, reason: str = '') -> AppliedMove:
        """Make the window serve the target queue until the move's end hour; refused when the window changed since
        the advice or is already moved. The move is stored and audited in one transaction."""
        caller.require(Role.MANAGER)
        reason = checked_reason(reason, required=False)
        if any(active.window_id == move.window_id for active in await self.active()):
            raise Conflict('window_already_moved', window_number=move.window_number)
        await self._expect(move.window_id, move.before, move.window_number)
        now = self.clock()
        row = StaffingMove(
            hall_id=self.hall_id,
            window_id=move.window_id,
            before=dict(move.before),
            after=dict(move.after),
            target_code=move.target_code,
            reason=reason,
            actor=caller.name,
            started_at=now,
            ends_at=now + dt.timedelta(hours=move.hours),
        )

        async def store(uow: UnitOfWork) -> None:
            uow.session.add(row)
            await uow.session.flush()
            await audit.record_for(
                uow.session,
                caller,
                action=audit.REASSIGN,
                target=f'window:{move.window_number}',
                detail={
                    'move': row.id,
                    'before': dict(move.before),
                    'after': dict(move.after),
                    'restore': False,
                    'hours': move.hours,
                    'target': move.target_code,
                    'reason': reason,
                    'expected_wait_before': move.waits_before,
                    'expected_wait_after': move.waits_after,
                },
                now=now,
            )

        await self.queue.set_window_services(move.window_id, move.after, caller=caller, along=store)
        self.forget()
        return AppliedMove(
            row.id or 0,
            move.window_id,
            move.window_name,
            move.target_name,
            dict(move.before),
            dict(move.after),
            caller.name,
            reason,
            row.started_at,
            row.ends_at,
        )

    async def active(self) -> list[AppliedMove]:
        """The moves in force, soonest end first (read from the database: every process shows the same)."""
        async with self.db.read_session() as s:
            rows = (
                await s.execute(
                    select(StaffingMove, Window.name, ServiceItem.name)
                    .join(Window, Window.id == StaffingMove.window_id)
                    .join(ServiceItem, ServiceItem.code == StaffingMove.target_code, isouter=True)
                    .where(StaffingMove.hall_id == self.hall_id, col(StaffingMove.ended_at).is_(None))
                    .order_by(col(StaffingMove.ends_at), col(StaffingMove.id))
                )
            ).all()
        return [
            AppliedMove(
                row.id or 0,
                row.window_id,
                window_name,
                target_name or row.target_code,
                dict(row.before),
                dict(row.after),
                row.actor,
                row.reason,
                row.started_at,
                row.ends_at,
            )
            for row, window_name, target_name in rows
        ]

    async def restore(self, applied: AppliedMove, *, caller: Principal) -> None:
        """End a move early: the window gets back what it served before (audited); refused when the window has
        changed since, or when the move has already ended."""
        caller.require(Role.MANAGER)
        number = await self._window_number(applied.window_id)
        await self._expect(applied.window_id, applied.after, number)
        end = self._end(applied.id, number, caller=caller, restored=True)
        await self.queue.set_window_services(applied.window_id, applied.before, caller=caller, along=end)
        self.forget()

    async def end_due(self) -> int:
        """End every move whose end hour has come (the periodic job): the window gets back what it served
        before, unless someone changed it since (then it keeps that, and the end is still recorded)."""
        now = self.clock()
        system = Principal.system('staffing')
        ended = 0
        async with self.db.read_session() as s:
            due = (
                (
                    await s.execute(
                        select(StaffingMove).where(
                            StaffingMove.hall_id == self.hall_id,
                            col(StaffingMove.ended_at).is_(None),
                            col(StaffingMove.ends_at) <= now,
                        )
                    )
                )
                .scalars()
                .all()
            )
        for row in due:
            number = await self._window_number(row.window_id)
            restored = await self._served(row.window_id) == dict(row.after)
            end = self._end(row.id or 0, number, caller=system, restored=restored)
            try:
                if restored:
                    await self.queue.set_window_services(row.window_id, dict(row.before), caller=system, along=end)
                else:
                    async with self._transaction() as uow:
                        await end(uow)
            except DomainError as error:
                if error.code == 'move_ended':
                    continue  # another process ended it first; nothing changed here
                # a service of `before` was removed meanwhile: the window keeps what it serves, the move still ends
                log.warning('staffing move %s: window %s keeps its services (%s)', row.id, number, error.code)
                try:
                    async with self._transaction() as uow:
                        await self._end(row.id or 0, number, caller=system, restored=False)(uow)
                except DomainError:
                    continue
            ended += 1
        if ended:
            self.forget()
        return ended

    def _end(
        self, move_id: int, number: int, *, caller: Principal, restored: bool
    ) -> Callable[[UnitOfWork], Awaitable[None]]:
        """The write that ends a move inside a transaction: claim it (one conditional update, so of several processes
        exactly one wins; the others get `move_ended` and their transaction changes nothing) and audit it."""

        async def end(uow: UnitOfWork) -> None:
            now = self.clock()
            claimed = await uow.session.execute(
                update(StaffingMove)
                .where(col(StaffingMove.id) == move_id, col(StaffingMove.ended_at).is_(None))
                .values(ended_at=now, ended_by=caller.name)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                raise Conflict('move_ended', window_number=number)
            await audit.record_for(
                uow.session,
                caller,
                action=audit.REASSIGN,
                target=f'window:{number}',
                detail={'move': move_id, 'restore': True, 'restored': restored},
                now=now,
            )

        return end

    async def _expect(self, window_id: int, expected: Mapping[str, int], number: int) -> None:
        if await self._served(window_id) != dict(expected):
            raise Conflict('advice_stale', window_number=number)

    async def _window_number(self, window_id: int) -> int:
        async with self.db.read_session() as s:
            window = await s.get(Window, window_id)
        if window is None:
            raise NotFound('unknown_window', text='unknown_window.id')
        return window.number

    async def _served(self, window_id: int) -> dict[str, int]:
        async with self.db.read_session() as s:
            rows = (
                await s.execute(
                    select(ServiceItem.code, WindowService.priority)
                    .join(ServiceItem, ServiceItem.id == WindowService.service_id)
                    .where(WindowService.window_id == window_id)
                )
            ).all()
        if not rows:
            raise NotFound('unknown_window', text='unknown_window.id')
        return dict(rows)


def _advise(
    windows: list[WindowPlan], demand: dict[int, QueueDemand], limit: int
) -> tuple[list[QueueOutlook], list[Move]]:
    queues = sorted(outlook(windows, demand).values(), key=lambda o: (-o.wait_minutes, o.code))
    return queues, recommend(windows, demand, limit=limit)
