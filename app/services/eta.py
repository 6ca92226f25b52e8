"""Wait estimates: position, expected minutes and an 80% range (the method is in docs/eta.md).

Pure functions over plain numbers, shared by the API (inputs read from the database) and the
twin (inputs kept in memory), so both always agree.
"""

from __future__ import annotations

import heapq
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

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


class Queued(NamedTuple):
    """A waiting ticket: its priority rank (0 green, 1 appointment, 2 normal) and minutes waited so far (a tuple:
    the live state builds one per waiting ticket at every recompute)."""

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


Run = tuple[float, int]  # a waiting ticket: when it was queued (in the caller's unit of time), its id


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
    occupies no window, so probes never delay each other. `horizon` (minutes) and `max_steps` (calls
    and idle windows' wake-ups) bound the work when a queue is hours long; callers fall back to the
    capacity formula beyond them. Arrivals are not steps: each service's are a stream read only when a
    window looks at the service, so a busy hour's newcomers cost nothing while older tickets go first.
    """
    runs: dict[int, tuple[list[Run], list[Run], list[Run]]] = {}
    for sid, tickets in queues.items():
        runs[sid] = ([], [], [])
        for q in tickets:
            runs[sid][q.rank].append((-q.waited, q.ticket_id))
        for run in runs[sid]:
            run.sort()
    return look_ahead_runs(
        desks, runs, means, now=0.0, per_minute=1.0, cap=cap, arrivals=arrivals, horizon=horizon, max_steps=max_steps
    )


def look_ahead_runs(
    desks: Sequence[Desk],
    runs: Mapping[int, Sequence[Sequence[Run]]],
    means: Mapping[int, float],
    *,
    now: float,
    per_minute: float,
    cap: float,
    arrivals: Mapping[int, float] | None = None,
    horizon: float = 180.0,
    max_steps: int = 3000,
) -> dict[int, list[ProjectedCall]]:
    """`look_ahead` over queues kept sorted by the caller: per service, one run per priority rank (0, 1, 2) of
    (queued at, ticket id) in order, the times in a unit of which `per_minute` make a minute and `now` is the
    present. Only the heads the windows reach are read, so the cost follows the calls made, not the queues."""
    served = sorted({s for d in desks for s in d.services})
    probes = {sid: -1 - n for n, sid in enumerate(served)}
    rates = arrivals or {}
    lines = {
        sid: _Line(runs.get(sid, ((), (), ())), now, per_minute, probes[sid], rates.get(sid, 0.0), n, len(served))
        for n, sid in enumerate(served)
    }
    events = [(d.free_in, _FREE, i) for i, d in enumerate(desks)]
    heapq.heapify(events)
    made: dict[int, int] = defaultdict(int)  # calls made at windows serving each service
    result: dict[int, list[ProjectedCall]] = defaultdict(list)
    open_probes = len(probes)
    for _ in range(max_steps):
        if not events or not open_probes:
            break
        t, kind, index = heapq.heappop(events)
        if t > horizon:
            break
        services = desks[index].services
        picked = _pick(lines, services, t, cap, woken=kind == _WOKEN)
        if picked is None:  # idle until the next newcomer for one of its services
            wake = min((lines[sid].next_arrival() for sid in services), default=math.inf)
            if wake < math.inf:
                heapq.heappush(events, (wake, _WOKEN, index))
            continue
        sid, ticket_id = picked
        for other in services:
            made[other] += 1
        if ticket_id >= 0 or ticket_id == probes[sid]:
            result[sid].append(ProjectedCall(t, made[sid]))
        if ticket_id == probes[sid]:
            open_probes -= 1
            heapq.heappush(events, (t, _FREE, index))  # a probe is a measurement, not a citizen
        else:
            heapq.heappush(events, (t + means.get(sid, 10.0), _FREE, index))
    return dict(result)


# A window that frees up at minute t does not yet see a newcomer arriving at t; one woken by that newcomer does.
_FREE, _WOKEN = 0, 1


Head = tuple[float, int]  # a waiting ticket in the look-ahead: minus the minutes it has waited, its id


class _Line:
    """One service's waiting tickets in the look-ahead: the caller's sorted run per priority rank, read by a pointer
    each (within a rank, calling order is age order), then the stream of newcomers behind the normal ones (rank 2,
    the k-th arriving at k / rate minutes), then the probe (rank 3)."""

    __slots__ = ('arrived', 'at', 'every', 'first_id', 'now', 'per_minute', 'probe', 'runs', 'stride')

    def __init__(
        self, runs: Sequence[Sequence[Run]], now: float, per_minute: float, probe: int, rate: float, n: int, lines: int
    ) -> None:
        self.runs, self.now, self.per_minute = runs, now, per_minute
        self.at = [0, 0, 0]
        self.every = 1 / rate if rate > 0 else math.inf
        self.arrived = 0  # newcomers already called
        self.first_id, self.stride = -1 - lines - n, lines  # newcomers' ids: negative, apart from other lines'
        self.probe: int | None = probe

    def next_arrival(self) -> float:
        return (self.arrived + 1) * self.every

    def heads(self, t: float, *, woken: bool) -> list[tuple[int, Head]]:
        """The first ticket of each rank present at minute t, by rank (a newcomer arriving at t only if `woken`)."""
        found: list[tuple[int, Head]] = []
        for rank, run in enumerate(self.runs):
            if self.at[rank] < len(run):
                queued, ticket_id = run[self.at[rank]]
                found.append((rank, ((queued - self.now) / self.per_minute, ticket_id)))
        if not found or found[-1][0] != 2:
            arrives = self.next_arrival()
            if arrives < t or (woken and arrives == t):
                found.append((2, (arrives, self.first_id - self.arrived * self.stride)))
        if self.probe is not None:
            found.append((3, (-0.0, self.probe)))
        return found

    def take(self, rank: int) -> None:
        if rank == 3:
            self.probe = None
        elif self.at[rank] < len(self.runs[rank]):
            self.at[rank] += 1
        else:
            self.arrived += 1


def _pick(
    lines: Mapping[int, _Line], services: Mapping[int, int], t: float, cap: float, *, woken: bool
) -> tuple[int, int] | None:
    """What a window serving `services` calls at minute t (service, ticket id), taken off its line."""
    best: tuple[Any, ...] | None = None
    chosen: tuple[_Line, int, int, int] | None = None
    for sid, tier in services.items():
        line = lines[sid]
        heads = line.heads(t, woken=woken)
        if not heads:
            continue
        rank, oldest = min(heads, key=lambda h: h[1])
        if t - oldest[0] >= cap:
            key: tuple[Any, ...] = (0, oldest[0], oldest[1])
        else:
            rank, oldest = heads[0]
            key = (1, tier, rank, oldest[0], oldest[1])
        if best is None or key < best:
            best, chosen = key, (line, rank, sid, oldest[1])
    if chosen is None:
        return None
    line, rank, sid, ticket_id = chosen
    line.take(rank)
    return sid, ticket_id


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
