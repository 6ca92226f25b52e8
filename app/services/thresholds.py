"""The hall's thresholds, each said once: when a queue is hot, a wait or a service too long, a seat held
long enough for the comfort prompt, a device used enough to suggest another.

Alerts, the twin, the floor map and the device drivers all ask here, so the manager's map, the alert
list and the seat's prompt never disagree. Per-service queue lines stay configured on the service
(`ServiceItem.queue_alert_threshold`, from the hall's catalogue); the durations and rates below are
the defaults that `AlertService(wait_limit=...)` and `devices.driver.DeviceTuning` may override.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

LONG_WAIT = dt.timedelta(minutes=30)  # someone waiting longer than this raises an alert
SLOW_SERVICE = dt.timedelta(minutes=30)  # a window serving one ticket longer than this shows as slow
SEAT_WARM = dt.timedelta(minutes=15)  # a seat held this long shows warm on the map
SEAT_COMFORT = dt.timedelta(minutes=30)  # ... and this long: the seat's comfort prompt is due
USAGE_WINDOW = dt.timedelta(hours=1)  # device usage is the busy share of this rolling window
USAGE_HIGH = 0.8  # usage above this suggests another device or maintenance
USAGE_REARM = 0.7  # ... once, until usage has fallen below this again


class SeatLevel(StrEnum):
    FREE = 'free'
    OCCUPIED = 'occupied'
    WARM = 'warm'
    LONG = 'long'


def queue_is_hot(waiting: int, threshold: int) -> bool:
    """A queue is hot (alert raised, zone marked on the map) when more people wait than its line allows."""
    return waiting > threshold


def waited_too_long(oldest: dt.datetime | None, now: dt.datetime, limit: dt.timedelta = LONG_WAIT) -> bool:
    return oldest is not None and now - oldest > limit


def serving_too_long(since: dt.datetime | None, now: dt.datetime, limit: dt.timedelta = SLOW_SERVICE) -> bool:
    return since is not None and now - since > limit


def held_long(since: dt.datetime | None, now: dt.datetime, limit: dt.timedelta = SEAT_COMFORT) -> bool:
    """A seat occupied since `since` has been held long enough for the comfort prompt."""
    return since is not None and now - since >= limit


def seat_level(occupied: bool, since: dt.datetime | None, now: dt.datetime) -> SeatLevel:
    if not occupied:
        return SeatLevel.FREE
    if held_long(since, now):
        return SeatLevel.LONG
    return SeatLevel.WARM if held_long(since, now, SEAT_WARM) else SeatLevel.OCCUPIED


def usage_alerted(was_alerted: bool, rate: float, *, high: float = USAGE_HIGH, rearm: float = USAGE_REARM) -> bool:
    """The new alerted state: set above `high`, cleared below `rearm`, so a rate hovering near the mark
    suggests once rather than at every wobble."""
    return rate >= rearm if was_alerted else rate > high
