"""Peak forecast: the model finds the effects planted in synthetic history; holidays; the daily roll-up."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlmodel import select

from app.db import Database
from app.models import Hall, ServiceItem, TicketCreate
from app.models.appointment import Appointment, AppointmentStatus
from app.models.operations import ArrivalHistory
from app.services import hall_hours
from app.services.forecast import (
    SIMULATED_ACTOR,
    ForecastModel,
    ForecastService,
    ServiceProfile,
    dekad,
    fit,
    roll_up_arrivals,
)
from app.services.queue import QueueService
from app.settings import Settings
from seed import history
from tests.callers import DESK, as_staff, deps_for
from tests.conftest import FakeClock
from tests.factories import SmallHall

SOCIAL, PLAIN = 1, 2
END = dt.date(2026, 6, 1)


def _aggregate(rows: list[dict[str, object]]) -> tuple[list[tuple[int, dt.date, float]], list[tuple[int, int, float]]]:
    daily: dict[tuple[int, dt.date], float] = defaultdict(float)
    hourly: dict[tuple[int, int], float] = defaultdict(float)
    for row in rows:
        daily[(row['service_id'], row['day'])] += row['arrivals']  # type: ignore[index]
        hourly[(row['service_id'], row['hour'])] += row['arrivals']  # type: ignore[index]
    return [(s, d, n) for (s, d), n in daily.items()], [(s, h, n) for (s, h), n in hourly.items()]


def _fitted() -> ForecastModel:
    rows = history.synthetic_rows(
        hall_id=1, services=[(SOCIAL, 'HRSS', 60.0, 10.0), (PLAIN, 'PSB', 40.0, 12.0)], end=END, seed=7
    )
    daily, hourly = _aggregate(rows)
    return fit(daily, hourly)


def test_the_model_recovers_the_planted_effects() -> None:
    model = _fitted()
    social, plain = model.services[SOCIAL], model.services[PLAIN]
    peak = social.dekads[0] / ((social.dekads[1] + social.dekads[2]) / 2)
    assert abs(peak / history.MONTH_PEAKS['HRSS'].factor - 1) < 0.10
    assert abs(plain.dekads[0] / ((plain.dekads[1] + plain.dekads[2]) / 2) - 1) < 0.10
    monday_friday = history.WEEKDAY[0] / history.WEEKDAY[4]
    for profile, department in ((social, 'HRSS'), (plain, 'PSB')):
        assert abs(profile.weekday[0] / profile.weekday[4] / monday_friday - 1) < 0.10
        for hour, share in history.hour_shares(department).items():
            assert abs(profile.hours[hour] - share) < 0.01
    assert abs(model.after_holiday / history.AFTER_HOLIDAY - 1) < 0.15
    assert abs(model.services[PLAIN].level / 40 - 1) < 0.10


def test_forecast_follows_day_of_month_weekday_and_hour() -> None:
    model = _fitted()
    early, late = dt.date(2026, 6, 3), dt.date(2026, 6, 24)  # both Wednesdays
    assert model.predict(SOCIAL, early, 10) > 1.3 * model.predict(SOCIAL, late, 10)
    assert model.predict(SOCIAL, early, 10) > 2 * model.predict(SOCIAL, early, 12)
    assert model.predict(PLAIN, dt.date(2026, 6, 22), 10) > model.predict(PLAIN, dt.date(2026, 6, 26), 10)  # Mon > Fri


def test_closed_days_get_nothing_and_make_up_days_are_open() -> None:
    model = ForecastModel({1: ServiceProfile(50, {}, (1, 1, 1), {h: 0.1 for h in hall_hours.HOURS})})
    assert model.day_total(1, dt.date(2025, 10, 1)) == 0  # National Day
    assert model.day_total(1, dt.date(2025, 9, 28)) == 50  # a Sunday worked to make up for it (调休)
    assert model.day_total(1, dt.date(2025, 10, 9)) == 50
    assert model.predict(1, dt.date(2025, 10, 9), 7) == 0  # before opening


def test_years_the_calendar_does_not_cover_fall_back_to_weekdays() -> None:
    assert hall_hours.is_working_day(dt.date(2031, 1, 8))  # a Wednesday
    assert not hall_hours.is_working_day(dt.date(2031, 1, 11))  # a Saturday
    model = ForecastModel({1: ServiceProfile(50, {}, (1, 1, 1), {h: 0.1 for h in hall_hours.HOURS})})
    assert model.day_total(1, dt.date(2031, 1, 8)) == 50


def test_after_a_long_holiday_is_flagged_but_a_plain_monday_is_not() -> None:
    assert hall_hours.after_long_closure(dt.date(2025, 10, 9))  # after the 1-8 October closure
    assert not hall_hours.after_long_closure(dt.date(2025, 10, 13))  # a Monday after a weekend
    assert [dekad(dt.date(2025, 1, d)) for d in (1, 10, 11, 20, 21, 31)] == [0, 0, 1, 1, 2, 2]


def test_hour_labels_merge_consecutive_hours() -> None:
    assert hall_hours.hour_label([14, 9, 10]) == '9:00-11:00、14:00-15:00'


async def _service_id(db: Database, code: str) -> int:
    async with db.session() as s:
        return (await s.execute(select(ServiceItem.id).where(ServiceItem.code == code))).scalar_one()


async def _history(db: Database, hall_id: int) -> list[tuple[int, dt.date, int, int]]:
    async with db.session() as s:
        rows = await s.execute(
            select(ArrivalHistory.service_id, ArrivalHistory.day, ArrivalHistory.hour, ArrivalHistory.arrivals)
            .where(ArrivalHistory.hall_id == hall_id)
            .order_by(ArrivalHistory.service_id, ArrivalHistory.day, ArrivalHistory.hour)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_roll_up_is_idempotent_and_leaves_simulated_tickets_out(
    db: Database, queue: QueueService, hall: SmallHall, clock: FakeClock, settings: Settings
) -> None:
    clock.now = hall_hours.local_moment(dt.date(2026, 6, 3), 9, settings.tz, minute=10)
    for _ in range(3):
        await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    clock.advance(60)  # 10:10
    await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    await queue.take_ticket(TicketCreate(service_code=hall.service_b), caller=DESK)
    await queue.take_ticket(TicketCreate(service_code=hall.service_b), caller=as_staff(SIMULATED_ACTOR))
    await queue.call_next(hall.window_1, caller=DESK)
    clock.advance(12)
    await queue.complete(hall.window_1, caller=DESK)
    clock.advance(24 * 60)  # the next day
    forecast = ForecastService(deps_for(db, hall_id=hall.hall_id, settings=settings, clock=clock))

    assert await forecast.roll_up(dt.date(2026, 6, 3)) == 3
    first = await _history(db, hall.hall_id)
    assert await forecast.roll_up(dt.date(2026, 6, 3)) == 3
    assert await _history(db, hall.hall_id) == first
    a, b = await _service_id(db, hall.service_a), await _service_id(db, hall.service_b)
    assert first == [(a, dt.date(2026, 6, 3), 9, 3), (a, dt.date(2026, 6, 3), 10, 1), (b, dt.date(2026, 6, 3), 10, 1)]
    assert await roll_up_arrivals({'forecast': forecast}) == 0  # the day is in history now


async def test_catch_up_rolls_up_only_days_with_tickets_and_the_model_uses_them(
    db: Database, queue: QueueService, hall: SmallHall, clock: FakeClock, settings: Settings
) -> None:
    clock.now = hall_hours.local_moment(dt.date(2026, 6, 3), 10, settings.tz)
    await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    clock.now = hall_hours.local_moment(dt.date(2026, 6, 8), 10, settings.tz)
    forecast = ForecastService(deps_for(db, hall_id=hall.hall_id, settings=settings, clock=clock))
    model = await forecast.model()
    assert [row[1] for row in await _history(db, hall.hall_id)] == [dt.date(2026, 6, 3)]
    assert model.days == 1 and model.predict(await _service_id(db, hall.service_a), dt.date(2026, 6, 8), 10) > 0
    points = await forecast.hourly()
    assert [p.hour for p in points] == list(hall_hours.HOURS)
    assert points[0].actual == 0 and points[-1].actual is None  # 08:00 has passed, 17:00 has not


async def test_the_hourly_forecast_shows_the_appointments_booked_into_each_hour(
    db: Database, hall: SmallHall, clock: FakeClock, settings: Settings
) -> None:
    day = dt.date(2026, 6, 8)
    clock.now = hall_hours.local_moment(day, 8, settings.tz)
    service_a = await _service_id(db, hall.service_a)
    async with db.session() as s, s.begin():
        for n, (hour, minute, status) in enumerate(
            [
                (10, 0, AppointmentStatus.BOOKED),
                (10, 30, AppointmentStatus.CHECKED_IN),
                (14, 0, AppointmentStatus.BOOKED),
                (14, 30, AppointmentStatus.CANCELLED),
            ]
        ):
            start = hall_hours.local_moment(day, hour, settings.tz) + dt.timedelta(minutes=minute)
            s.add(
                Appointment(
                    hall_id=hall.hall_id,
                    service_id=service_a,
                    reference=f'R{n}',
                    status=status,
                    slot_start=start,
                    slot_end=start + dt.timedelta(minutes=30),
                    created_at=clock(),
                )
            )
    forecast = ForecastService(deps_for(db, hall_id=hall.hall_id, settings=settings, clock=clock))
    booked = {p.hour: p.booked for p in await forecast.hourly() if p.booked}
    assert booked == {10: 2, 14: 1}  # a cancelled booking brings nobody
    assert [p.booked for p in await forecast.hourly(service_id=await _service_id(db, hall.service_b))] == [0] * len(
        hall_hours.HOURS
    )


async def test_seeded_history_is_written_once(db: Database, hall: SmallHall) -> None:
    async with db.session() as s:
        code = (await s.execute(select(Hall.code).where(Hall.id == hall.hall_id))).scalar_one()
    written = await history.ensure_history(db, hall_code=code, end=END)
    assert written > 0
    assert await history.ensure_history(db, hall_code=code, end=END) == 0
    assert len(await _history(db, hall.hall_id)) == written


async def test_suggestions_fill_the_seed_prompts(
    db: Database, hall: SmallHall, clock: FakeClock, settings: Settings
) -> None:
    prompts = {
        'off_peak_manager': {
            'zh': '「{service}」{peak_hours}高峰，增开{extra}个窗口，引导{quiet_hours}',
            'en': '{service}',
        },
    }
    clock.now = hall_hours.local_moment(dt.date(2026, 6, 2), 7, settings.tz)
    async with db.session() as s:
        code = (await s.execute(select(Hall.code).where(Hall.id == hall.hall_id))).scalar_one()
    await history.ensure_history(db, hall_code=code, end=dt.date(2026, 6, 2))
    forecast = ForecastService(deps_for(db, hall_id=hall.hall_id, settings=settings, clock=clock), prompts=prompts)
    suggestions = await forecast.suggestions()
    assert suggestions, 'a seeded hall has peaks worth a window'
    first = suggestions[0]
    assert first.audience == 'manager' and '9:00-11:00' in first.zh and '12:00-1' in first.zh
