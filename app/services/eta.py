"""Wait estimates: position, expected minutes and an 80% range (the method is in docs/eta.md).

Pure functions over plain numbers, shared by the API (inputs read from the database) and the
twin (inputs kept in memory), so both always agree.
"""

from __future__ import annotations

import heapq
import itertools
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PRIOR_WEIGHT = 5.0
PRIOR_CV = 0.6
Z80 = 1.2815515655446004
GAP_WEIGHT = 0.5  # calibrated on simulated days (bench/eta_accuracy.py, docs/eta.md)
CASE_SHARE = 0.3


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


# ---- look-ahead: play the calling rules forward -------------------------------------------------


@dataclass(frozen=True)
class Desk:
    """An open window for the look-ahead: its services (id -> tier) and minutes until it is free."""

    services: Mapping[int, int]
    free_in: float = 0.0


@dataclass(frozen=True)
class Queued:
    """A waiting ticket: its priority rank (0 green, 1 appointment, 2 normal) and minutes waited so far."""

    ticket_id: int
    rank: int
    waited: float


@dataclass(frozen=True)
class ProjectedCall:
    """When the look-ahead calls a ticket of the service, and how many calls its windows made by then."""

    minutes: float
    calls: int


def residual_minutes(samples: Sequence[float], elapsed: float, mean: float) -> float:
    """Expected minutes left of a case that has run `elapsed` minutes: the mean excess of the recent
    handling times that lasted longer (a long case tends to go on); the mean minus elapsed without data."""
    longer = [x - elapsed for x in samples if x > elapsed]
    if len(longer) >= 3:
        return sum(longer) / len(longer)
    return max(mean - elapsed, 0.25 * mean)


def look_ahead(
    desks: Sequence[Desk],
    queues: Mapping[int, Sequence[Queued]],
    means: Mapping[int, float],
    *,
    cap: float,
    arrivals: Mapping[int, float] | None = None,
    horizon: float = 180.0,
    max_steps: int = 3000,
) -> dict[int, list[ProjectedCall]]:
    """Per service, the minutes until each waiting ticket is called, in calling order, then one more
    for a ticket taken now (the last entry); shorter lists when the horizon ends first.

    Plays the engine's rules forward over the whole hall with mean handling times: a free window
    calls an overdue ticket (waited >= cap) first, the oldest; otherwise the best (tier, rank,
    oldest) ticket among its services. New citizens keep arriving at the recent rates (`arrivals`,
    per minute) and take windows that prefer them. The ticket taken now is a probe per service that
    occupies no window, so probes never delay each other. `horizon` (minutes) and `max_steps` bound
    the work when a queue is hours long; callers fall back to the capacity formula beyond them.
    """
    board = _Board(queues)
    probes = {sid: Queued(-1 - n, 3, 0.0) for n, sid in enumerate(sorted({s for d in desks for s in d.services}))}
    for sid, probe in probes.items():
        board.add(sid, probe)
    events = [(d.free_in, _FREE, i) for i, d in enumerate(desks)]
    rates = {sid: rate for sid, rate in (arrivals or {}).items() if rate > 0}
    events += [(1 / rate, _ARRIVES, sid) for sid, rate in rates.items()]
    heapq.heapify(events)
    idle: set[int] = set()
    new_ids = itertools.count(-1 - len(probes), -1)
    made: dict[int, int] = defaultdict(int)  # calls made at windows serving each service
    result: dict[int, list[ProjectedCall]] = defaultdict(list)
    open_probes = len(probes)
    for _ in range(max_steps):
        if not events or not open_probes:
            break
        t, kind, index = heapq.heappop(events)
        if t > horizon:
            break
        if kind == _ARRIVES:  # a citizen arrives; idle windows that serve the service wake up
            board.add(index, Queued(next(new_ids), 2, -t))
            heapq.heappush(events, (t + 1 / rates[index], _ARRIVES, index))
            for i in [i for i in idle if index in desks[i].services]:
                idle.discard(i)
                heapq.heappush(events, (t, _FREE, i))
            continue
        picked = board.pick(desks[index].services, t, cap)
        if picked is None:
            idle.add(index)
            continue
        sid, ticket = picked
        for served in desks[index].services:
            made[served] += 1
        if ticket.ticket_id >= 0 or ticket is probes.get(sid):
            result[sid].append(ProjectedCall(t, made[sid]))
        if ticket is probes.get(sid):
            open_probes -= 1
            heapq.heappush(events, (t, _FREE, index))  # a probe is a measurement, not a citizen
        else:
            heapq.heappush(events, (t + means.get(sid, 10.0), _FREE, index))
    return dict(result)


_FREE, _ARRIVES = 0, 1


class _Board:
    """The waiting tickets of the look-ahead, per service, in calling order and by age (lazy deletion)."""

    def __init__(self, queues: Mapping[int, Sequence[Queued]]) -> None:
        self.order: dict[int, list[tuple[int, float, int, Queued]]] = {}
        self.age: dict[int, list[tuple[float, int, Queued]]] = {}
        self.taken: set[int] = set()
        self._count: dict[int, int] = {}
        for sid, tickets in queues.items():
            self.order[sid] = [(q.rank, -q.waited, q.ticket_id, q) for q in tickets]
            self.age[sid] = [(-q.waited, q.ticket_id, q) for q in tickets]
            heapq.heapify(self.order[sid])
            heapq.heapify(self.age[sid])
            self._count[sid] = len(tickets)

    def count(self, sid: int) -> int:
        return self._count.get(sid, 0)

    def add(self, sid: int, q: Queued) -> None:
        heapq.heappush(self.order.setdefault(sid, []), (q.rank, -q.waited, q.ticket_id, q))
        heapq.heappush(self.age.setdefault(sid, []), (-q.waited, q.ticket_id, q))
        self._count[sid] = self._count.get(sid, 0) + 1

    def _head(self, heap: list[Any]) -> Queued | None:
        while heap and heap[0][-1].ticket_id in self.taken:
            heapq.heappop(heap)
        return heap[0][-1] if heap else None

    def pick(self, services: Mapping[int, int], t: float, cap: float) -> tuple[int, Queued] | None:
        """What a window serving `services` calls at time t, removed from the board."""
        best: tuple[Any, ...] | None = None
        for sid, tier in services.items():
            oldest = self._head(self.age.get(sid, []))
            if oldest is None:
                continue
            if oldest.waited + t >= cap:
                key: tuple[Any, ...] = (0, -oldest.waited, oldest.ticket_id, sid, oldest)
            else:
                head = self._head(self.order[sid])
                assert head is not None
                key = (1, tier, head.rank, -head.waited, head.ticket_id, sid, head)
            if best is None or key[:-2] < best[:-2]:
                best = key
        if best is None:
            return None
        ticket: Queued = best[-1]
        self.taken.add(ticket.ticket_id)
        self._count[best[-2]] -= 1
        return best[-2], ticket


def call_estimate(call: ProjectedCall, *, stats: HandlingStats, windows: int, jumps: float = 0.0) -> Estimate:
    """Expected wait and 80% range around a look-ahead call time.

    `jumps` is the share of the service's window time that green-channel citizens arriving later
    take (they are called first): the wait stretches by 1 / (1 - jumps). The spread is a gamma
    variable whose variance has two parts: the `calls` calls that come first vary in length (many
    windows calling in turn behave like a random stream, so one gap varies like its mean as windows
    are added), and when the window you get frees up is uncertain by a share of one case.
    """
    if call.minutes <= 0:
        return Estimate(0.0, 0.0, max(1.0, stats.mean / 4))
    minutes = call.minutes / (1 - min(max(jumps, 0.0), 0.5))
    cv_handling = max(stats.sd, 0.1 * stats.mean) / stats.mean
    c = max(windows, 1)
    cv_gap_squared = cv_handling**2 / c + (1 - 1 / c)
    variance = GAP_WEIGHT * cv_gap_squared * minutes**2 / max(call.calls, 1) + (CASE_SHARE * stats.mean) ** 2
    sd = math.sqrt(variance)
    return Estimate(minutes, _gamma_quantile(minutes, sd, -Z80), _gamma_quantile(minutes, sd, Z80))
