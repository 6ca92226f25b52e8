"""Hall traffic (beside the device simulator): citizens take numbers, windows serve them, through the QueueService.

Citizens arrive per service at the forecast's hourly rates (a Poisson process); some are elderly
with valid ID numbers (green channel), some take a number by ID card; a few never answer the call
(recalled, then marked no-show) and a few only answer the first recall. The windows it drives act as
the staff: call the next ticket when free, serve for a lognormal time around the service's average,
complete, call again. Everything goes through QueueService, so tickets, events, the twin and the
estimates are exactly what a real hall would produce.

Two clocks: a VirtualClock jumps from one event to the next, so tests and benchmarks run a whole
day in seconds; a WallClock sleeps, for the live demo (`HALL_SIMULATION=on`, see docs/simulation.md).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import itertools
import logging
import math
import random
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

from stdnum.cn import ric

from app import tasks
from app.clock import utcnow
from app.models.hall import WindowState
from app.models.people import Role
from app.models.ticket import Channel, TicketCreate
from app.services.errors import DomainError
from app.services.forecast import SIMULATED_ACTOR, ForecastModel, ForecastService
from app.services.hall_hours import CLOSE_HOUR, OPEN_HOUR, is_open, next_working_day, opening
from app.services.live_queue import LiveQueue
from app.services.principal import Kind, Principal
from app.services.queue import QueueService, TicketView
from app.settings import Settings

log = logging.getLogger(__name__)

ArrivalRates = Callable[[dt.date, int], Mapping[int, float]]  # (hall day, hour) -> {service id: arrivals per hour}
Observer = Callable[[str, TicketView], object]  # ('issued', view) when a number is taken
ID_REGIONS = ('110101', '110105', '110108', '120101', '310101', '310104')  # codes stdnum accepts for any birth year
REDRAW_MINUTES = 5.0  # arrival gaps are redrawn at least this often, so hourly rate changes take effect
SWEEP_MINUTES = 1.0  # idle windows look for tickets they were not woken for (kiosks, transfers, staffing moves)
DEMO_START_HOUR = 9
DEMO_FLAT_RATE = 6.0  # arrivals per service and hour when there is no history to follow
# The demo's citizens and clerks act as the system: their rows carry SIMULATED_ACTOR, which the forecast skips.
SIMULATOR = Principal(Kind.SYSTEM, SIMULATED_ACTOR, Role.ADMIN)


class SimClock(Protocol):
    def __call__(self) -> dt.datetime: ...

    async def wait_until(self, moment: dt.datetime) -> None: ...


class VirtualClock:
    """Time that jumps to the next event: a simulated day takes as long as its database work."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    async def wait_until(self, moment: dt.datetime) -> None:
        self.now = max(self.now, moment)
        await asyncio.sleep(0)  # let bus subscribers run, as they would between real events


class WallClock:
    def __call__(self) -> dt.datetime:
        return utcnow()

    async def wait_until(self, moment: dt.datetime) -> None:
        delay = (moment - utcnow()).total_seconds()
        await asyncio.sleep(max(delay, 0.0))


@dataclass(frozen=True)
class SimConfig:
    speed: float = 1.0  # > 1 runs the hall faster than real time (durations divided by it)
    arrival_scale: float = 1.0
    no_show: float = 0.04  # never come to the window
    late: float = 0.04  # come only after the first recall
    elderly: float = 0.08  # 65+ with their ID card: green channel
    disability: float = 0.01
    id_card: float = 0.3  # of the others, take the number with their ID card
    handling_cv: float = 0.5
    turnaround_minutes: float = 0.3  # between finishing one citizen and calling the next
    recall_minutes: float = 1.0
    seed: int | None = None


def model_rates(model: ForecastModel, *, scale: float = 1.0) -> ArrivalRates:
    """The forecast's expected arrivals per service for an hour of a day."""

    def rates(day: dt.date, hour: int) -> dict[int, float]:
        return {sid: scale * model.predict(sid, day, hour) for sid in model.services}

    return rates


def id_number(rng: random.Random, birth: dt.date) -> str:
    """A valid resident ID number (GB 11643) for a synthetic citizen born on `birth`."""
    body = f'{rng.choice(ID_REGIONS)}{birth:%Y%m%d}{rng.randrange(1000):03d}'
    return body + ric.calc_check_digit(body + '0')


def handling_minutes(rng: random.Random, mean: float, cv: float) -> float:
    """Lognormal with the given mean and coefficient of variation: right-skewed, like real cases."""
    sigma2 = math.log(1 + cv * cv)
    return rng.lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))


@dataclass
class _Window:
    window_id: int
    ticket_id: int | None = None
    answers_recall: bool = False  # the citizen called is not there yet but comes at the first recall
    recalls: int = 0
    pending: bool = False  # a call for this window is on the agenda
    mean_minutes: float = 10.0  # the configured average of the service being handled


@dataclass
class DayReport:
    issued: int = 0
    called: int = 0
    completed: int = 0
    no_shows: int = 0
    errors: int = 0


class HallSimulator:
    def __init__(
        self,
        queue: QueueService,
        rates: ArrivalRates,
        *,
        clock: SimClock,
        config: SimConfig | None = None,
        windows: Collection[int] | None = None,
        observer: Observer | None = None,
        live_demo: bool = False,
    ) -> None:
        """`windows`: the window ids it drives (default: every window open when it starts).
        `live_demo`: outside opening hours (or at speed != 1) follow a virtual working day (see `profile_hour`)."""
        self.queue = queue
        self.rates = rates
        self.clock = clock
        self.config = config or SimConfig()
        self.rng = random.Random(self.config.seed)
        self.observer = observer
        self.live_demo = live_demo
        self._wanted = set(windows) if windows is not None else None
        self.windows: dict[int, _Window] = {}
        self.report = DayReport()
        self._agenda: list[tuple[dt.datetime, int, Callable[[], Awaitable[None]]]] = []
        self._seq = itertools.count()
        self._arrivals_until: dt.datetime | None = None
        self._started = clock()
        self._task: asyncio.Task[None] | None = None

    @property
    def tz(self) -> ZoneInfo:
        return self.queue.settings.tz

    # ---- running -------------------------------------------------------------------------------

    async def prepare(self) -> LiveQueue:
        """Use the queue's in-memory state (start it if needed) and take over the windows."""
        live = self.queue.live or await self.queue.start_live()
        chosen = (
            self._wanted
            if self._wanted is not None
            else {wid for wid, slot in live.windows.items() if slot.state == WindowState.OPEN}
        )
        self.windows = {wid: _Window(wid) for wid in sorted(chosen) if wid in live.windows}
        for window in self.windows.values():
            current = live.windows[window.window_id].current_ticket_id
            if current is not None:  # a citizen already at the window (e.g. before a restart)
                window.ticket_id = current
                self._after(self._handling(None) / 2, lambda w=window: self._complete(w))
        self._started = self.clock()
        return live

    async def run_day(self, day: dt.date, *, drain_hours: float = 3.0) -> DayReport:
        """Simulate one hall day on a VirtualClock: arrivals during opening hours, then serve the rest."""
        start, close = opening(day, self.tz)
        await self.clock.wait_until(start)
        await self.prepare()
        self.report = DayReport()
        self._arrivals_until = close
        self._at(start, self._arrive)
        self._at(start, self._sweep)
        await self._run(until=close + dt.timedelta(hours=drain_hours), stop_when_idle_after=close)
        return self.report

    def start(self) -> None:
        """Run in the background until `stop` (the live demo)."""
        self._task = asyncio.get_running_loop().create_task(self._run_forever(), name='hall-simulator')

    async def stop(self) -> None:
        await tasks.stop(self._task)
        self._task = None

    async def _run_forever(self) -> None:
        await self.prepare()
        self._warm_start()
        self._at(self.clock(), self._arrive)
        self._at(self.clock(), self._sweep)
        await self._run(until=None)

    async def _run(self, *, until: dt.datetime | None, stop_when_idle_after: dt.datetime | None = None) -> None:
        while self._agenda:
            when, _, action = heapq.heappop(self._agenda)
            if until is not None and when > until:
                break
            await self.clock.wait_until(when)
            try:
                await action()
            except DomainError as error:  # someone else acted first (staff, a manager): carry on
                log.debug('simulator: %s', error)
            except Exception:
                self.report.errors += 1
                log.exception('hall simulator step failed')
                await asyncio.sleep(1)
            if stop_when_idle_after is not None and when >= stop_when_idle_after and self._idle():
                break

    def _idle(self) -> bool:
        live = self.queue.live
        waiting = live is not None and any(live.waiting.values())
        return not waiting and all(w.ticket_id is None for w in self.windows.values())

    # ---- the agenda ----------------------------------------------------------------------------

    def _at(self, when: dt.datetime, action: Callable[[], Awaitable[None]]) -> None:
        heapq.heappush(self._agenda, (when, next(self._seq), action))

    def _after(self, minutes: float, action: Callable[[], Awaitable[None]], window: _Window | None = None) -> None:
        """Schedule in hall minutes (divided by the speed for the clock)."""
        if window is not None:
            window.pending = True
        self._at(self.clock() + dt.timedelta(minutes=minutes / self.config.speed), action)

    # ---- citizens --------------------------------------------------------------------------------

    def profile_hour(self, moment: dt.datetime) -> tuple[dt.date, int]:
        """Which hour of which day's arrival profile applies now.

        The hall's own clock, except in the live demo when the hall is closed or the speed is not 1:
        then a virtual working day that starts at 9:00, runs `speed` times faster and starts over
        after closing, so the dashboard shows a busy morning, a lunch lull and an afternoon peak.
        """
        local = moment.astimezone(self.tz)
        if not self.live_demo or (self.config.speed == 1 and is_open(moment, self.tz)):
            return local.date(), local.hour
        span = (CLOSE_HOUR - OPEN_HOUR) * 60
        elapsed = (moment - self._started).total_seconds() / 60 * self.config.speed
        minute = ((DEMO_START_HOUR - OPEN_HOUR) * 60 + elapsed) % span
        return next_working_day(local.date()), OPEN_HOUR + int(minute // 60)

    def _current_rates(self) -> dict[int, float]:
        now = self.clock()
        if self._arrivals_until is not None and now >= self._arrivals_until:
            return {}
        live = self.queue.live
        day, hour = self.profile_hour(now)
        served = {sid for slot in (live.windows.values() if live else ()) for sid in slot.services}
        return {
            sid: rate * self.config.arrival_scale
            for sid, rate in self.rates(day, hour).items()
            if rate > 0 and sid in served
        }

    async def _arrive(self) -> None:
        """One citizen takes a number (if the rates say one came), then the next arrival is drawn."""
        rates = self._current_rates()
        total = sum(rates.values())
        if total <= 0:
            if self._arrivals_until is None or self.clock() < self._arrivals_until:
                self._after(REDRAW_MINUTES, self._arrive)
            return
        gap = self.rng.expovariate(total / 60)
        if gap > REDRAW_MINUTES:  # the process is memoryless: redraw with the rate then
            self._after(REDRAW_MINUTES, self._arrive)
            return
        self._after(gap, self._take_number)

    async def _take_number(self) -> None:
        await self._arrive()  # the next citizen is on the way whatever happens to this one
        rates = self._current_rates()
        if rates:
            service_id = self.rng.choices(list(rates), weights=list(rates.values()))[0]
            await self._issue(service_id)

    def citizen(self, service_code: str) -> TicketCreate:
        """A citizen's request: green channel for the elderly (with a valid ID number), ID cards for some."""
        today = self.clock().astimezone(self.tz).date()
        draw = self.rng.random()
        config = self.config
        if draw < config.elderly:
            age = self.rng.randint(66, 88)
            birth = today.replace(year=today.year - age - 1) + dt.timedelta(days=self.rng.randint(1, 300))
            return TicketCreate(
                service_code=service_code, channel=Channel.ID_CARD, id_number=id_number(self.rng, birth)
            )
        if draw < config.elderly + config.disability:
            return TicketCreate(service_code=service_code, disability=True)
        if self.rng.random() < config.id_card:
            birth = today.replace(year=today.year - self.rng.randint(20, 60)) - dt.timedelta(
                days=self.rng.randint(1, 300)
            )
            return TicketCreate(
                service_code=service_code, channel=Channel.ID_CARD, id_number=id_number(self.rng, birth)
            )
        channel = Channel.MOBILE if self.rng.random() < 0.15 else Channel.KIOSK
        return TicketCreate(service_code=service_code, channel=channel)

    async def _issue(self, service_id: int) -> None:
        live = self.queue.live
        if live is None or service_id not in live.services:
            return
        view = await self.queue.take_ticket(self.citizen(live.services[service_id].code), caller=SIMULATOR)
        self.report.issued += 1
        if self.observer is not None:
            self.observer('issued', view)
        self._wake(service_id)

    def _warm_start(self) -> None:
        """A populated hall at once: a quarter of an hour's citizens arrive in the first seconds."""
        live = self.queue.live
        if live is None or any(live.waiting.values()):
            return
        for service_id, rate in self._current_rates().items():
            for _ in range(round(rate / 4)):
                self._after(self.rng.uniform(0, 1), lambda sid=service_id: self._issue(sid))

    # ---- windows ---------------------------------------------------------------------------------

    def _wake(self, service_id: int | None = None) -> None:
        """Idle windows with something to call get a call on the agenda."""
        live = self.queue.live
        if live is None:
            return
        for window in self.windows.values():
            slot = live.windows.get(window.window_id)
            if window.ticket_id is not None or window.pending or slot is None:
                continue
            if slot.state != WindowState.OPEN or slot.current_ticket_id is not None:
                continue
            if service_id is not None and service_id not in slot.services:
                continue
            if any(live.waiting_count(sid) for sid in slot.services):
                self._after(self.config.turnaround_minutes * self.rng.random(), lambda w=window: self._call(w), window)

    async def _sweep(self) -> None:
        self._wake()
        if self._arrivals_until is None or self.clock() < self._arrivals_until or not self._idle():
            self._after(SWEEP_MINUTES, self._sweep)

    async def _call(self, window: _Window) -> None:
        window.pending = False
        live = self.queue.live
        slot = live.windows.get(window.window_id) if live else None
        if window.ticket_id is not None or slot is None or not any(live.waiting_count(sid) for sid in slot.services):
            return  # another window was quicker: no database round trip for nothing
        try:
            view = await self.queue.call_next(window.window_id, caller=SIMULATOR)
        except DomainError:
            return  # nothing this window may call, or it was paused: the sweep looks again
        self.report.called += 1
        window.ticket_id = view.ticket.id
        window.mean_minutes = view.service.avg_handling_minutes
        window.recalls = 0
        draw = self.rng.random()
        present = draw >= self.config.no_show + self.config.late
        window.answers_recall = self.config.no_show <= draw < self.config.no_show + self.config.late
        if present:
            self._after(self._handling(window.mean_minutes), lambda: self._complete(window))
        else:
            self._after(self._recall_minutes(), lambda: self._recall(window))

    def _recall_minutes(self) -> float:
        """The simulated clerk's wait before recalling: never shorter on the clock than the queue's interval (+1 s)."""
        interval = (self.queue.rules.recall_interval_seconds + 1) / 60 * self.config.speed
        return max(self.config.recall_minutes, interval)

    def _handling(self, mean: float | None) -> float:
        return handling_minutes(self.rng, mean or 10.0, self.config.handling_cv)

    async def _recall(self, window: _Window) -> None:
        if window.ticket_id is None:
            return
        if window.recalls >= self.queue.rules.recalls_before_no_show:
            await self._release(window, self.queue.no_show)
            self.report.no_shows += 1
            return
        await self.queue.recall(window.window_id, caller=SIMULATOR)
        window.recalls += 1
        if window.answers_recall:
            self._after(self._handling(window.mean_minutes), lambda: self._complete(window))
        else:
            self._after(self._recall_minutes(), lambda: self._recall(window))

    async def _complete(self, window: _Window) -> None:
        if window.ticket_id is None:
            return
        await self._release(window, self.queue.complete)
        self.report.completed += 1

    async def _release(self, window: _Window, action: Callable[..., Awaitable[TicketView]]) -> None:
        """Finish with the ticket at the window (complete or no-show), then call the next after a pause."""
        window.pending = False
        try:
            await action(window.window_id, caller=SIMULATOR)
        finally:
            window.ticket_id = None
            self._after(self.config.turnaround_minutes, lambda: self._call(window), window)


def flat_rates(service_ids: Collection[int], per_hour: float) -> ArrivalRates:
    """The same arrivals every open hour: for a hall with no history yet."""

    def rates(day: dt.date, hour: int) -> dict[int, float]:
        return {sid: per_hour for sid in service_ids} if OPEN_HOUR <= hour < CLOSE_HOUR else {}

    return rates


async def start_demo(queue: QueueService, forecast: ForecastService, settings: Settings) -> HallSimulator:
    """The live demo (HALL_SIMULATION=on): the forecast's arrivals on the wall clock, HALL_SIMULATION_SPEED
    times faster, staffing HALL_SIMULATION_WINDOWS (or every window open now). See docs/simulation.md."""
    model = await forecast.model()
    live = queue.live or await queue.start_live()
    rates = model_rates(model) if model.services else flat_rates(list(live.services), DEMO_FLAT_RATE)
    numbers = {int(n) for n in settings.hall_simulation_windows.split(',') if n.strip()}
    windows = None
    if numbers:
        windows = [w.window.id for w in (await queue.overview()).windows if w.window.number in numbers and w.window.id]
    simulator = HallSimulator(
        queue,
        rates,
        clock=WallClock(),
        config=SimConfig(speed=settings.hall_simulation_speed),
        windows=windows,
        live_demo=True,
    )
    simulator.start()
    log.info(
        'hall simulator on: speed %sx, %s',
        settings.hall_simulation_speed,
        f'windows {sorted(numbers)}' if numbers else 'every open window',
    )
    return simulator
