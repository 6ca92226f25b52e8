"""Peak forecast: arrivals per service and hour for the coming days, fitted from ArrivalHistory.

A multiplicative model, fitted with ratios of sums (no heavy libraries), per service:

    arrivals(day, hour) = level x weekday[day] x dekad[day] x after_holiday^[day] x hour_share[hour]

`dekad` is the day-of-month effect in thirds of the month (1st-10th: the social-security peak,
11th-20th, 21st-31st); `after_holiday` (shared by all services) is the rush on the first working day
after three or more closed days; closed days (weekends, holidays, per chinese_calendar) get nothing.
The method and its limits are in docs/forecast.md.

History comes from seed/history.py (a synthetic year, so the forecast works on first start) and
from `roll_up`, which adds each finished day's real tickets (simulated ones are left out).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, insert
from sqlmodel import col, select

from app.clock import hall_day
from app.models.appointment import Appointment, AppointmentStatus
from app.models.hall import ServiceItem
from app.models.operations import ArrivalHistory
from app.models.ticket import Ticket, TicketEvent
from app.services import erlang
from app.services.deps import Deps
from app.services.hall_hours import (
    CLOSE_HOUR,
    HOURS,
    after_long_closure,
    day_bounds,
    hour_label,
    is_working_day,
    next_working_day,
)
from app.services.live_queue import LiveQueue
from app.services.recent import Recent
from app.services.uow import Service

SIMULATED_ACTOR = 'hall-sim'  # tickets the hall simulator takes: live activity, never history
HISTORY_DAYS = 365
LEVEL_DAYS = 84  # the level follows the last twelve weeks, so growth or decline shows quickly
BACKFIT_ROUNDS = 4
MIN_FACTOR_DAYS = 4  # fewer observations than this: the factor stays 1
PEAK_RATIO = 1.2  # an hour 20% above the day's mean hour is a peak
QUIET_RATIO = 0.8
TARGET_WAIT_MINUTES = 15.0
CITIZEN_PROMPT_MINUTES = 20  # suggest 错峰 to citizens when a queue's wait reaches this
READS_SECONDS = 60.0  # forecast reads shared by every manager's panel for this long


def dekad(day: dt.date) -> int:
    """0 for the 1st-10th, 1 for the 11th-20th, 2 for the 21st to the end of the month."""
    return min((day.day - 1) // 10, 2)


@dataclass(frozen=True)
class ServiceProfile:
    level: float  # arrivals per working day with every effect at 1
    weekday: Mapping[int, float]
    dekads: tuple[float, float, float]
    hours: Mapping[int, float]  # share of the day's arrivals per opening hour (sums to 1)


@dataclass(frozen=True)
class ForecastModel:
    services: Mapping[int, ServiceProfile]
    after_holiday: float = 1.0
    days: int = 0  # working days of history it was fitted on

    def day_total(self, service_id: int, day: dt.date) -> float:
        profile = self.services.get(service_id)
        if profile is None or not is_working_day(day):
            return 0.0
        boost = self.after_holiday if after_long_closure(day) else 1.0
        return profile.level * profile.weekday.get(day.weekday(), 1.0) * profile.dekads[dekad(day)] * boost

    def predict(self, service_id: int, day: dt.date, hour: int) -> float:
        """Expected arrivals of a service in one hour of a hall day."""
        profile = self.services.get(service_id)
        if profile is None:
            return 0.0
        return self.day_total(service_id, day) * profile.hours.get(hour, 0.0)

    def hall_hours(self, day: dt.date, service_ids: Iterable[int] | None = None) -> dict[int, float]:
        """Expected arrivals per opening hour, summed over services (all by default)."""
        ids = list(self.services if service_ids is None else service_ids)
        return {hour: sum(self.predict(sid, day, hour) for sid in ids) for hour in HOURS}


@dataclass
class _Series:
    """One service's daily totals and its factors while they are fitted."""

    days: list[tuple[dt.date, float]]
    level: float = 1.0
    weekday: dict[int, float] = field(default_factory=dict)
    dekads: list[float] = field(default_factory=lambda: [1.0, 1.0, 1.0])

    def weekday_of(self, day: dt.date) -> float:
        return self.weekday.get(day.weekday(), 1.0)

    def dekad_of(self, day: dt.date) -> float:
        return self.dekads[dekad(day)]

    def base(self, day: dt.date, after: float) -> float:
        return self.weekday_of(day) * self.dekad_of(day) * after


def _weekday(day: dt.date) -> int:
    return day.weekday()


def fit(
    daily: Iterable[tuple[int, dt.date, float]],
    hourly: Iterable[tuple[int, int, float]],
    *,
    level_from: dt.date | None = None,
) -> ForecastModel:
    """Fit the model from daily totals (service, day, arrivals) and hour totals (service, hour, arrivals).

    Each factor is a ratio of sums (observed / expected with the other factors), refitted a few
    rounds (backfitting) so an uneven mix of weekdays across months does not leak into the dekads.
    Non-working days in the input are ignored. `level_from` limits the level to recent days.
    """
    series: dict[int, _Series] = defaultdict(lambda: _Series([]))
    for service_id, day, arrivals in daily:
        if is_working_day(day):
            series[service_id].days.append((day, float(arrivals)))
    after_days = {day for s in series.values() for day, _ in s.days if after_long_closure(day)}
    after = 1.0
    for _ in range(BACKFIT_ROUNDS):
        for s in series.values():
            _fit_level(s, after_days, after, level_from)
            s.weekday = _factor(s, _weekday, s.weekday_of, after_days, after)
            s.dekads = [_factor(s, dekad, s.dekad_of, after_days, after).get(k, 1.0) for k in range(3)]
        after = _after_holiday(series.values(), after_days)
    for s in series.values():
        _fit_level(s, after_days, after, level_from)
    shares = _hour_shares(hourly)
    services = {
        sid: ServiceProfile(s.level, dict(s.weekday), (s.dekads[0], s.dekads[1], s.dekads[2]), shares.get(sid, {}))
        for sid, s in series.items()
    }
    return ForecastModel(services, after, len({day for s in series.values() for day, _ in s.days}))


def _boost(day: dt.date, after_days: set[dt.date], after: float) -> float:
    return after if day in after_days else 1.0


def _fit_level(s: _Series, after_days: set[dt.date], after: float, level_from: dt.date | None) -> None:
    recent = [(d, n) for d, n in s.days if level_from is None or d >= level_from]
    days = recent if len(recent) >= 20 else s.days
    expected = sum(s.base(d, _boost(d, after_days, after)) for d, _ in days)
    s.level = sum(n for _, n in days) / expected if expected else 0.0


def _factor(
    s: _Series,
    key: Callable[[dt.date], int],
    own: Callable[[dt.date], float],
    after_days: set[dt.date],
    after: float,
) -> dict[int, float]:
    """Observed / expected per group of days, the expectation leaving out this factor's current value
    (`own`); normalised so that the factor averages 1 over the days."""
    observed: dict[int, float] = defaultdict(float)
    expected: dict[int, float] = defaultdict(float)
    counts: dict[int, int] = defaultdict(int)
    for day, arrivals in s.days:
        group = key(day)
        observed[group] += arrivals
        expected[group] += s.level * s.base(day, _boost(day, after_days, after)) / own(day)
        counts[group] += 1
    raw = {g: observed[g] / expected[g] for g in observed if counts[g] >= MIN_FACTOR_DAYS and expected[g] > 0}
    weight = sum(counts[g] for g in raw)
    mean = sum(raw[g] * counts[g] for g in raw) / weight if weight else 1.0
    return {g: value / mean for g, value in raw.items()} if mean > 0 else {}


def _after_holiday(series: Iterable[_Series], after_days: set[dt.date]) -> float:
    observed = expected = 0.0
    for s in series:
        for day, arrivals in s.days:
            if day in after_days:
                observed += arrivals
                expected += s.level * s.base(day, 1.0)
    return observed / expected if expected and observed else 1.0


def _hour_shares(hourly: Iterable[tuple[int, int, float]]) -> dict[int, dict[int, float]]:
    """Share of a service's arrivals per opening hour; thin services borrow the whole hall's shape."""
    per_service: dict[int, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    hall: dict[int, float] = defaultdict(float)
    for service_id, hour, arrivals in hourly:
        if hour in HOURS:
            per_service[service_id][hour] += arrivals
            hall[hour] += arrivals
    hall_total = sum(hall.values())
    hall_share = {h: hall[h] / hall_total for h in HOURS} if hall_total else {h: 1 / len(HOURS) for h in HOURS}
    shares: dict[int, dict[int, float]] = {}
    for service_id, hours in per_service.items():
        total = sum(hours.values())
        shares[service_id] = {h: hours[h] / total for h in HOURS} if total >= 50 else dict(hall_share)
    return shares


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


# ---- the service: history in, forecasts and 错峰 suggestions out ---------------------------------


@dataclass(frozen=True)
class HourPoint:
    hour: int
    forecast: float
    actual: int | None  # None for hours still to come
    booked: int = 0  # appointments whose slot starts in this hour (booked or already checked in)


@dataclass(frozen=True)
class DayPoint:
    day: dt.date
    forecast: float
    working: bool


@dataclass(frozen=True)
class Suggestion:
    """A filled-in 错峰 prompt: `audience` is 'manager' or 'citizen' (for displays, kiosks, messages)."""

    audience: str
    service_code: str
    zh: str
    en: str


class ForecastService(Service):
    def __init__(self, deps: Deps, *, prompts: Mapping[str, Any] | None = None) -> None:
        super().__init__(deps)
        self.prompts = prompts or {}
        self._model: ForecastModel | None = None
        self._fitted_for: dt.date | None = None
        self._fitting = asyncio.Lock()  # the day's first readers (a guide page, a manager page) share one fit
        self.recent: Recent[Any] = Recent(READS_SECONDS)

    def forget(self) -> None:
        """Drop the reads kept for READS_SECONDS (the model itself is refitted once a day)."""
        self.recent.clear()

    @property
    def today(self) -> dt.date:
        return hall_day(self.clock(), self.settings.tz)

    async def model(self) -> ForecastModel:
        """The model for today: refitted once per hall day, after rolling up the days not yet in history."""
        async with self._fitting:
            today = self.today
            if self._model is None or self._fitted_for != today:
                await self.catch_up()
                self._model = await self._fit(today)
                self._fitted_for = today
            return self._model

    async def _fit(self, today: dt.date) -> ForecastModel:
        since = today - dt.timedelta(days=HISTORY_DAYS)
        where = (
            ArrivalHistory.hall_id == self.hall_id,
            col(ArrivalHistory.day) >= since,
            col(ArrivalHistory.day) < today,
        )
        total = func.sum(ArrivalHistory.arrivals)
        async with self.db.read_session() as s:
            daily = list(
                await s.execute(
                    select(ArrivalHistory.service_id, ArrivalHistory.day, total)
                    .where(*where)
                    .group_by(ArrivalHistory.service_id, ArrivalHistory.day)
                )
            )
            hourly = list(
                await s.execute(
                    select(ArrivalHistory.service_id, ArrivalHistory.hour, total)
                    .where(*where)
                    .group_by(ArrivalHistory.service_id, ArrivalHistory.hour)
                )
            )
        return fit(daily, hourly, level_from=today - dt.timedelta(days=LEVEL_DAYS))

    # ---- roll-up (the daily job) ---------------------------------------------------------------

    async def roll_up(self, day: dt.date) -> int:
        """Write `day`'s arrivals per service and hour into ArrivalHistory (replacing that day): idempotent.

        Counts TicketEvent 'issued' rows, leaving out the hall simulator's; the hour's mean handling
        time comes from the tickets taken in it that were completed.
        """
        start, end = day_bounds(day, self.settings.tz)
        tz = self.settings.tz
        async with self.db.read_session() as s:
            issued = list(
                await s.execute(
                    select(TicketEvent.service_id, TicketEvent.at).where(
                        TicketEvent.hall_id == self.hall_id,
                        TicketEvent.kind == 'issued',
                        TicketEvent.actor != SIMULATED_ACTOR,
                        col(TicketEvent.at) >= start,
                        col(TicketEvent.at) < end,
                    )
                )
            )
            handled = list(
                await s.execute(
                    select(Ticket.service_id, Ticket.taken_at, Ticket.called_at, Ticket.completed_at).where(
                        Ticket.hall_id == self.hall_id,
                        Ticket.day == day,
                        col(Ticket.completed_at).is_not(None),
                        col(Ticket.called_at).is_not(None),
                    )
                )
            )
        counts: dict[tuple[int, int], int] = defaultdict(int)
        for service_id, at in issued:
            counts[(service_id, at.astimezone(tz).hour)] += 1
        minutes: dict[tuple[int, int], list[float]] = defaultdict(list)
        for service_id, taken_at, called_at, completed_at in handled:
            key = (service_id, taken_at.astimezone(tz).hour)
            if key in counts:
                minutes[key].append((completed_at - called_at).total_seconds() / 60)
        rows = [
            {
                'hall_id': self.hall_id,
                'service_id': service_id,
                'day': day,
                'hour': hour,
                'arrivals': n,
                'mean_handling_minutes': _mean(minutes[(service_id, hour)]),
            }
            for (service_id, hour), n in sorted(counts.items())
        ]
        async with self._transaction() as uow:
            s = uow.session
            await s.execute(
                delete(ArrivalHistory).where(ArrivalHistory.hall_id == self.hall_id, ArrivalHistory.day == day)
            )
            if rows:
                await s.execute(insert(ArrivalHistory), rows)
        self._model = None
        self.forget()
        return len(rows)

    async def catch_up(self) -> int:
        """Roll up every finished day after the last one in history that has tickets (the hall was open)."""
        today = self.today
        async with self.db.read_session() as s:
            last = (
                await s.execute(select(func.max(ArrivalHistory.day)).where(ArrivalHistory.hall_id == self.hall_id))
            ).scalar_one_or_none()
            first_start = day_bounds(last + dt.timedelta(days=1), self.settings.tz)[0] if last else None
            query = select(Ticket.day).where(Ticket.hall_id == self.hall_id, Ticket.day < today).distinct()
            if first_start is not None:
                query = query.where(col(Ticket.taken_at) >= first_start)
            days = sorted((await s.execute(query)).scalars())
        rolled = 0
        for day in days:
            rolled += await self.roll_up(day)
        return rolled

    # ---- reads for the manager -----------------------------------------------------------------

    async def hourly(self, day: dt.date | None = None, *, service_id: int | None = None) -> list[HourPoint]:
        """Forecast against actual arrivals per opening hour (actual up to the current hour)."""
        day = day or self.today
        return await self.recent.get(('hourly', day, service_id), lambda: self._hourly(day, service_id))

    async def _hourly(self, day: dt.date, service_id: int | None) -> list[HourPoint]:
        model = await self.model()
        ids = None if service_id is None else [service_id]
        forecast = model.hall_hours(day, ids)
        actual = await self._actual(day, service_id)
        booked = await self._booked(day, service_id)
        now = self.clock().astimezone(self.settings.tz)
        return [
            HourPoint(
                hour,
                round(forecast[hour], 1),
                actual.get(hour, 0) if (day, hour) <= (now.date(), now.hour) else None,
                booked.get(hour, 0),
            )
            for hour in HOURS
        ]

    async def _booked(self, day: dt.date, service_id: int | None) -> dict[int, int]:
        """Appointments per slot hour: the arrivals already promised, which the forecast's line should cover."""
        start, end = day_bounds(day, self.settings.tz)
        query = select(Appointment.slot_start).where(
            Appointment.hall_id == self.hall_id,
            col(Appointment.status).in_((AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN)),
            col(Appointment.slot_start) >= start,
            col(Appointment.slot_start) < end,
        )
        if service_id is not None:
            query = query.where(Appointment.service_id == service_id)
        counts: dict[int, int] = defaultdict(int)
        async with self.db.read_session() as s:
            for (at,) in await s.execute(query):
                counts[at.astimezone(self.settings.tz).hour] += 1
        return dict(counts)

    async def _actual(self, day: dt.date, service_id: int | None) -> dict[int, int]:
        start, end = day_bounds(day, self.settings.tz)
        query = select(TicketEvent.at).where(
            TicketEvent.hall_id == self.hall_id,
            TicketEvent.kind == 'issued',
            col(TicketEvent.at) >= start,
            col(TicketEvent.at) < end,
        )
        if service_id is not None:
            query = query.where(TicketEvent.service_id == service_id)
        counts: dict[int, int] = defaultdict(int)
        async with self.db.read_session() as s:
            for (at,) in await s.execute(query):
                counts[at.astimezone(self.settings.tz).hour] += 1
        return dict(counts)

    async def coming_days(self, days: int = 7) -> list[DayPoint]:
        return await self.recent.get(('days', self.today, days), lambda: self._coming_days(days))

    async def _coming_days(self, days: int) -> list[DayPoint]:
        model = await self.model()
        start = self.today
        return [
            DayPoint(day, round(sum(model.day_total(sid, day) for sid in model.services), 1), is_working_day(day))
            for day in (start + dt.timedelta(days=n) for n in range(days))
        ]

    async def arrivals_per_hour(self, service_id: int, moment: dt.datetime) -> float:
        """The forecast for the hour containing `moment` (0 when the hall is closed then)."""
        local = moment.astimezone(self.settings.tz)
        return (await self.model()).predict(service_id, local.date(), local.hour)

    async def suggestions(self, live: LiveQueue | None = None, *, limit: int = 6) -> list[Suggestion]:
        """错峰 messages: for the manager, services whose coming peak needs more windows; for citizens,
        queues with a long wait now, with the hours that are usually quiet."""
        return await self.recent.get(('suggestions', live is None, limit), lambda: self._suggestions(live, limit))

    async def _suggestions(self, live: LiveQueue | None, limit: int) -> list[Suggestion]:
        model = await self.model()
        async with self.db.read_session() as s:
            services = {sv.id: sv for sv in (await s.execute(select(ServiceItem))).scalars() if sv.id is not None}
        now = self.clock().astimezone(self.settings.tz)
        day = (
            now.date()
            if is_working_day(now.date()) and now.hour < CLOSE_HOUR
            else next_working_day(now.date() + dt.timedelta(days=1))
        )
        found = [
            item
            for sid, service in services.items()
            if (item := self._manager_suggestion(model, sid, service, day)) is not None
        ]
        found.sort(key=lambda pair: -pair[0])
        result = [suggestion for _, suggestion in found[:limit]]
        if live is not None:
            result += self._citizen_suggestions(model, live, services)[:limit]
        return result

    def _manager_suggestion(
        self, model: ForecastModel, service_id: int, service: ServiceItem, day: dt.date
    ) -> tuple[int, Suggestion] | None:
        hours = {h: model.predict(service_id, day, h) for h in HOURS}
        mean = sum(hours.values()) / len(hours)
        if mean <= 0:
            return None
        peak = [h for h, n in hours.items() if n >= PEAK_RATIO * mean]
        quiet = [h for h, n in hours.items() if n <= QUIET_RATIO * mean]
        if not peak or not quiet:
            return None
        handling = service.avg_handling_minutes
        at_peak = erlang.servers_needed(round(max(hours[h] for h in peak), 1), handling, TARGET_WAIT_MINUTES)
        usual = erlang.servers_needed(round(mean, 1), handling, TARGET_WAIT_MINUTES)
        extra = at_peak - usual
        if extra < 1:
            return None
        values = {'service': service.name, 'peak_hours': hour_label(peak), 'quiet_hours': hour_label(quiet)}
        return extra, self._fill('off_peak_manager', 'manager', service, extra=extra, **values)

    def _citizen_suggestions(
        self, model: ForecastModel, live: LiveQueue, services: Mapping[int, ServiceItem]
    ) -> list[Suggestion]:
        found: list[tuple[float, Suggestion]] = []
        for sid, service in services.items():
            waiting = live.waiting_count(sid)
            estimate = live.estimate(sid, waiting) if waiting else None
            profile = model.services.get(sid)
            if estimate is None or estimate.minutes < CITIZEN_PROMPT_MINUTES or profile is None:
                continue
            mean = sum(profile.hours.values()) / len(HOURS)
            quiet = [h for h, share in profile.hours.items() if share <= QUIET_RATIO * mean]
            if not quiet:
                continue
            values = {'service': service.name, 'waiting': waiting, 'quiet_hours': hour_label(quiet)}
            found.append(
                (
                    estimate.minutes,
                    self._fill('off_peak_citizen', 'citizen', service, minutes=round(estimate.minutes), **values),
                )
            )
        found.sort(key=lambda pair: -pair[0])
        return [suggestion for _, suggestion in found]

    def _fill(self, prompt: str, audience: str, item: ServiceItem, **values: Any) -> Suggestion:
        template = self.prompts.get(prompt) or {}
        zh = str(template.get('zh', '')).format(**values)
        en = str(template.get('en', '')).format(**{**values, 'service': item.name_en or item.name})
        return Suggestion(audience, item.code, zh, en)


async def roll_up_arrivals(ctx: dict[str, Any]) -> int:
    """The daily roll-up job (arq's ctx, or the in-process runner's): every finished day not yet in history."""
    service = ctx['forecast']
    assert isinstance(service, ForecastService)
    return await service.catch_up()
