"""The hall's thresholds (app/services/thresholds.py): one rule each, for alerts, the twin, the map and the drivers."""

from __future__ import annotations

import datetime as dt

from app.services.thresholds import (
    LONG_WAIT,
    SEAT_COMFORT,
    SLOW_SERVICE,
    SeatLevel,
    held_long,
    queue_is_hot,
    seat_level,
    serving_too_long,
    usage_alerted,
    waited_too_long,
)
from components.floor_map import legend_text
from components.floor_plan import seat_class
from components.texts import t
from devices.driver import DeviceTuning

NOW = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


def test_a_queue_is_hot_only_when_more_wait_than_its_line() -> None:
    assert not queue_is_hot(15, 15)
    assert queue_is_hot(16, 15)
    assert not queue_is_hot(0, 1)


def test_a_wait_is_too_long_only_past_the_limit_and_never_without_anyone_waiting() -> None:
    assert not waited_too_long(None, NOW)
    assert not waited_too_long(NOW - LONG_WAIT, NOW)
    assert waited_too_long(NOW - LONG_WAIT - MINUTE, NOW)
    assert waited_too_long(NOW - 6 * MINUTE, NOW, dt.timedelta(minutes=5))


def test_a_window_is_slow_only_past_thirty_minutes_on_one_ticket() -> None:
    assert dt.timedelta(minutes=30) == SLOW_SERVICE
    assert not serving_too_long(None, NOW)
    assert not serving_too_long(NOW - SLOW_SERVICE, NOW)
    assert serving_too_long(NOW - SLOW_SERVICE - MINUTE, NOW)


def test_seat_levels_go_free_occupied_warm_long_and_long_is_when_the_comfort_prompt_is_due() -> None:
    assert seat_level(False, NOW - 2 * SEAT_COMFORT, NOW) == SeatLevel.FREE
    assert seat_level(True, None, NOW) == SeatLevel.OCCUPIED
    assert seat_level(True, NOW - 14 * MINUTE, NOW) == SeatLevel.OCCUPIED
    assert seat_level(True, NOW - 15 * MINUTE, NOW) == SeatLevel.WARM
    assert seat_level(True, NOW - SEAT_COMFORT + MINUTE, NOW) == SeatLevel.WARM
    assert seat_level(True, NOW - SEAT_COMFORT, NOW) == SeatLevel.LONG
    assert held_long(NOW - SEAT_COMFORT, NOW) and not held_long(None, NOW)


def test_the_map_and_the_seat_driver_share_the_comfort_threshold() -> None:
    assert DeviceTuning().comfort_after == SEAT_COMFORT
    assert seat_class(True, NOW - SEAT_COMFORT, NOW) == ' occ long'
    assert seat_class(True, NOW - SEAT_COMFORT + MINUTE, NOW) == ' occ warm'


def test_usage_alerts_once_above_the_high_mark_and_rearms_only_below_the_rearm_mark() -> None:
    assert not usage_alerted(False, 0.8)
    assert usage_alerted(False, 0.81)
    assert usage_alerted(True, 0.75)  # hovering between the marks: still alerted, no new suggestion
    assert usage_alerted(True, 0.7)
    assert not usage_alerted(True, 0.69)
    assert usage_alerted(False, 0.6, high=0.5, rearm=0.4)


def test_the_map_legend_names_the_thresholds_it_draws_with() -> None:
    assert '30' in legend_text('legend.slow') and '{' not in legend_text('legend.slow')
    assert '15' in legend_text('legend.seat_warm') and '30' in legend_text('legend.seat_long')
    assert legend_text('legend.open') == t('legend.open')
