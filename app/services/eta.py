"""Wait estimates: position, expected minutes and an 80% range (the method is in docs/eta.md).

Pure functions over plain numbers, shared by the API (inputs read from the database) and the
twin (inputs kept in memory), so both always agree.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

PRIOR_WEIGHT = 5.0
PRIOR_CV = 0.6
Z80 = 1.2815515655446004


@dataclass(frozen=True)
class HandlingStats:
    """Mean and standard deviation of one service's handling time, in minutes."""

    mean: float
    sd: float
    samples: int


@dataclass(frozen=True)
class Estimate:
    minutes: float
    low: float
    high: float


def handling_stats(recent_minutes: Sequence[float], *, prior_mean: float) -> HandlingStats:
    """Blend recent handling times with the service's configured mean (shrinks noise when data is thin)."""
    n = len(recent_minutes)
    if n == 0:
        return HandlingStats(prior_mean, prior_mean * PRIOR_CV, 0)
    mean = (sum(recent_minutes) + PRIOR_WEIGHT * prior_mean) / (n + PRIOR_WEIGHT)
    prior_var = (prior_mean * PRIOR_CV) ** 2
    sample_var = statistics.pvariance(recent_minutes) if n >= 2 else prior_var
    var = (n * sample_var + PRIOR_WEIGHT * prior_var) / (n + PRIOR_WEIGHT)
    return HandlingStats(mean, math.sqrt(var), n)


@dataclass(frozen=True)
class WindowLoad:
    """One open window as the estimator sees it: its services (id -> tier) and whether it is busy."""

    services: Mapping[int, int]
    busy: bool


def service_capacity(service_id: int, windows: Iterable[WindowLoad], waiting: Mapping[int, int]) -> float:
    """Effective number of windows working on a service.

    A window shares its time among its services in proportion to their demand (waiting + 1),
    discounted by tier, so a window that serves a service only as a fallback counts for less.
    """
    capacity = 0.0
    for window in windows:
        if service_id not in window.services:
            continue
        weights = {sid: (waiting.get(sid, 0) + 1) / tier for sid, tier in window.services.items()}
        capacity += weights[service_id] / sum(weights.values())
    return capacity


def estimate_wait(*, ahead: int, capacity: float, idle_windows: int, stats: HandlingStats) -> Estimate | None:
    """Minutes until this ticket is called, with the 10th and 90th percentiles.

    `ahead` tickets must be called first; `idle_windows` can take some of them at once. Each further
    call comes after about mean/capacity minutes; the sum of those gaps is modelled as a gamma
    variable (Wilson-Hilferty quantiles), which keeps the range skewed to the right like real waits.
    """
    if capacity <= 0:
        return None
    gaps = max(0.0, ahead + 1 - idle_windows)
    if gaps == 0:
        return Estimate(0.0, 0.0, max(1.0, stats.mean / 4))
    mean = gaps * stats.mean / capacity
    sd = math.sqrt(gaps) * max(stats.sd, 0.1 * stats.mean) / capacity
    return Estimate(mean, _gamma_quantile(mean, sd, -Z80), _gamma_quantile(mean, sd, Z80))


def _gamma_quantile(mean: float, sd: float, z: float) -> float:
    shape = (mean / sd) ** 2
    scale = sd * sd / mean
    term = 1 - 1 / (9 * shape) + z * math.sqrt(1 / (9 * shape))
    return max(0.0, shape * scale * max(term, 0.0) ** 3)
