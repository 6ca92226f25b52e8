"""The queues as they stand now, in memory: waiting tickets, window loads, handling times, arrivals.

Built once per process from the database, then kept current by applying the queue's own events (a
reducer), so a wait estimate costs no query. It is the one place that says what a ticket or window
event does to the hall: the queue service, alerts and the twin share one instance (the twin follows
it), and replay folds stored events through it. A fresh build from the database and a state fed by
events give the same answers (tested).

An event costs the same however many people wait: counts, the oldest ticket and each service's tickets sorted
per priority class (runs: a bisect per event) are kept as events come, and old arrivals are pruned in amortised
constant time. A ticket's place bisects the runs; the look-ahead (every queue played forward, docs/eta.md) reads
them only as far as the windows reach before its horizon. By default an estimate recomputes it when something
changed (tests, replay, scripts); a served app sets `coalesce` and hands the recompute to one task per
process (app/services/eta_refresh.py), and until it has run, an estimate reads the last look-ahead
shifted by the tickets that left the service's queue since (the k-th there is now the (k - left)-th).
"""

from __future__ import annotations

import bisect
import datetime as dt
import heapq
import itertools
import logging
import math
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from app.bus import Bus, Subscription
from app.clock import as_utc, utcnow
from app.events import (
    AppointmentChanged,
    Event,
    TicketArrived,
    TicketCalled,
    TicketCompleted,
    TicketEventBase,
    TicketHandedOff,
    TicketIssued,
    TicketNoShow,
    TicketParked,
    TicketPrioritised,
    TicketResumed,
    TicketSnapshot,
    TicketTransferred,
    WindowChanged,
)
from app.models.appointment import AppointmentStatus
from app.models.hall import ServiceItem, WindowState
from app.models.ticket import PriorityClass, TicketStatus
from app.services import eta
from app.services.priority import Candidate

log = logging.getLogger(__name__)

RECENT_HANDLING_SAMPLES = 30
SEEN_EVENTS = 4096
ARRIVAL_WINDOW = dt.timedelta(minutes=30)  # recent arrival rates for the look-ahead
REUSE_SECONDS = 10.0  # a look-ahead is reused for this long while nothing changes
UNKNOWN_CASE_MINUTES = 5.0  # the rest of a case whose service is not known
BOOKED_AHEAD = dt.timedelta(hours=1)  # a queue shows the bookings of the slot under way and of the next hour

BookedSlot = tuple[int, dt.datetime, dt.datetime]  # service, slot start, slot end (aware UTC)
QUEUE_EVENTS = (TicketEventBase, WindowChanged, AppointmentChanged)  # the events this state reduces


@dataclass
class WindowSlot:
    services: dict[int, int]
    state: str
    current_ticket_id: int | None = None
    since: dt.datetime | None = None  # when the current ticket was called
    serving: int | None = None  # the current ticket's service
    number: str = ''  # the current ticket's number


@dataclass(frozen=True)
class WaitingNumber:
    """What a waiting ticket is called and when it was taken (its day: numbers restart each day)."""

    number: str
    taken_at: dt.datetime


@dataclass
class LiveQueue:
    services: dict[int, ServiceItem]
    windows: dict[int, WindowSlot]
    waiting: dict[int, dict[int, Candidate]] = field(default_factory=dict)
    recent: dict[int, deque[float]] = field(default_factory=dict)
    # tickets taken in the last ARRIVAL_WINDOW: ticket id -> (service, taken at, green channel)
    arrivals: dict[int, tuple[int, dt.datetime, bool]] = field(default_factory=dict)
    remote: set[int] = field(default_factory=set)  # remote tickets whose citizen has not arrived yet
    booked: dict[int, BookedSlot] = field(default_factory=dict)  # appointment id -> slot, while BOOKED
    numbers: dict[int, WaitingNumber] = field(default_factory=dict)  # ticket id -> its number, while waiting
    clock: Callable[[], dt.datetime] = utcnow
    cap_minutes: Callable[[], float] = lambda: 20.0  # the fairness cap in force (the hall rules), read at use
    _seen: deque[str] = field(default_factory=lambda: deque(maxlen=SEEN_EVENTS))
    _seen_ids: set[str] = field(default_factory=set)
    coalesce: bool = False  # the look-ahead is recomputed by `refresh` (one task per process), not by readers
    _version: int = 0
    _ahead_cache: tuple[int, dt.datetime, dict[int, list[eta.ProjectedCall]]] | None = None
    _left: Counter[int] = field(default_factory=Counter)  # tickets that left each queue since the look-ahead
    _oldest: dict[int, list[tuple[dt.datetime, int]]] = field(default_factory=dict)  # per service, lazy deletion
    _runs: dict[int, Runs] = field(default_factory=dict)  # per service, built at first use, then kept per event
    _prune_at: int = 64  # arrivals are pruned when there are more than this (doubling: amortised O(1))
    _refreshed: list[Callable[[], object]] = field(default_factory=list)
    _green_cache: dict[int, float] | None = None
    _stats_cache: dict[int, eta.HandlingStats] = field(default_factory=dict)  # until the service's next sample
    _booked_cache: tuple[dt.datetime, dict[int, int]] | None = None  # per service, for one minute of the clock
    _followers: list[Callable[[Event], object]] = field(default_factory=list)
    _subscription: Subscription | None = None

    def follow(self, follower: Callable[[Event], object]) -> None:
        """Call `follower` with each event that changes this state, once, right after it is applied: whoever
        hands the event in first (the service that wrote it, or the bus), followers see the state it left."""
        self._followers.append(follower)

    def unfollow(self, follower: Callable[[Event], object]) -> None:
        self._followers = [f for f in self._followers if f != follower]

    def on_refresh(self, listener: Callable[[], object]) -> None:
        """Call `listener` after each recompute of the look-ahead by `refresh` (every queue's estimate moved)."""
        self._refreshed.append(listener)

    def off_refresh(self, listener: Callable[[], object]) -> None:
        self._refreshed = [f for f in self._refreshed if f != listener]

    def attach(self, bus: Bus) -> None:
        """Feed this state from the bus; a second call (another part sharing the state) changes nothing."""
        if self._subscription is None:
            self._subscription = bus.subscribe(self.apply, name='live-queue')

    def detach(self, bus: Bus) -> None:
        """Stop feeding this state from the bus (a replica replaced by a fresh one)."""
        if self._subscription is not None:
            bus.unsubscribe(self._subscription)
            self._subscription = None

    def apply(self, event: Event) -> bool:
        """Reduce one event; True when something changed (followers are then told). An event already applied
        is skipped."""
        if not self._reduce(event):
            return False
        for follower in self._followers:
            try:
                follower(event)
            except Exception:  # the write behind the event is committed: a failing follower must not undo the answer
                log.exception('live queue follower %r failed on %s %s', follower, event.type_name, event.id)
        return True

    def _reduce(self, event: Event) -> bool:
        if event.id in self._seen_ids:
            return False
        if len(self._seen) == self._seen.maxlen:
            self._seen_ids.discard(self._seen[0])
        self._seen.append(event.id)
        self._seen_ids.add(event.id)
        if isinstance(event, AppointmentChanged):
            return self._apply_appointment(event)  # moves no ticket: the look-ahead stays valid
        self._version += 1
        if isinstance(event, WindowChanged):
            slot = self.windows.get(event.payload.id)
            if slot is None:
                return False
            slot.state = event.payload.state
            slot.services = {sid: slot.services.get(sid, 1) for sid in event.payload.service_ids}
            return True
        if isinstance(event, TicketEventBase):
            self._apply_ticket(event)
            return True
        return False

    def resync(self, fresh: LiveQueue) -> None:
        """Take the queues and windows from a state just read from the database (after a bus outage), keeping the
        events already applied: a late copy of one of them is still skipped, and the rest apply on top."""
        self.services, self.windows, self.waiting = fresh.services, fresh.windows, fresh.waiting
        self.arrivals = {**self.arrivals, **fresh.arrivals}
        self.remote = fresh.remote
        self.booked = fresh.booked
        self.numbers = fresh.numbers
        self._version += 1
        self._ahead_cache = None
        self._booked_cache = None
        self._stats_cache.clear()
        self._oldest.clear()
        self._runs.clear()
        self._left.clear()

    def _apply_ticket(self, event: TicketEventBase) -> None:
        ticket = event.payload
        if isinstance(event, TicketIssued | TicketTransferred):
            self._unqueue(ticket.id)
            self._enqueue_ticket(ticket)
            self._arrived(ticket.id, ticket.service_id, ticket.taken_at, ticket.priority_class == PriorityClass.GREEN)
            self._mark_remote(ticket.id, ticket.awaiting_arrival)
        if isinstance(event, TicketPrioritised) and ticket.id in self.waiting.get(ticket.service_id, {}):
            self._enqueue(
                ticket.service_id, Candidate(ticket.id, PriorityClass(ticket.priority_class), ticket.queued_at, 1)
            )
        if isinstance(event, TicketArrived):
            self.remote.discard(ticket.id)
            if ticket.status == TicketStatus.WAITING:
                self._enqueue_ticket(ticket)
        if isinstance(event, TicketTransferred):
            self._free(event.from_window_id)
        if isinstance(event, TicketHandedOff):
            self._unqueue(ticket.id)
            self.remote.discard(ticket.id)
            self._free(event.from_window_id)
        if isinstance(event, TicketCalled | TicketResumed):
            self._unqueue(ticket.id)
            if ticket.window_id in self.windows:
                slot = self.windows[ticket.window_id]
                slot.current_ticket_id, slot.since, slot.serving = ticket.id, ticket.called_at, ticket.service_id
                slot.number = ticket.number
        if isinstance(event, TicketCompleted | TicketNoShow | TicketParked):
            self._free(ticket.window_id)
        if isinstance(event, TicketParked):
            self._unqueue(ticket.id)  # a remote ticket whose citizen had not arrived when its turn came
            self.remote.discard(ticket.id)
        if isinstance(event, TicketCompleted) and ticket.handling_seconds is not None:
            samples = self.recent.setdefault(ticket.service_id, deque(maxlen=RECENT_HANDLING_SAMPLES))
            samples.appendleft(ticket.handling_seconds / 60)
            self._stats_cache.pop(ticket.service_id, None)

    def _apply_appointment(self, event: AppointmentChanged) -> bool:
        """A booking counts while it is BOOKED; checked in, cancelled or missed, it leaves its queue's count."""
        slot = (event.service_id, as_utc(event.slot_start), as_utc(event.slot_end))
        if event.status == AppointmentStatus.BOOKED:
            if self.booked.get(event.appointment_id) == slot:
                return False
            self.booked[event.appointment_id] = slot
        elif self.booked.pop(event.appointment_id, None) is None:
            return False
        self._booked_cache = None
        return True

    def _enqueue_ticket(self, ticket: TicketSnapshot) -> None:
        """The ticket joins its service's queue, with the number and take time the desks list it by."""
        self.numbers[ticket.id] = WaitingNumber(ticket.number, as_utc(ticket.taken_at))  # SQLite reads are naive
        self._enqueue(
            ticket.service_id, Candidate(ticket.id, PriorityClass(ticket.priority_class), ticket.queued_at, 1)
        )

    def _enqueue(self, service_id: int, candidate: Candidate) -> None:
        """Put the ticket in its service's queue, or in its new place there (arrived, prioritised)."""
        waiting = self.waiting.setdefault(service_id, {})
        runs = self._runs.get(service_id)
        if runs is not None:
            previous = waiting.get(candidate.ticket_id)
            if previous is not None:
                _remove(runs, previous)
            bisect.insort(runs[candidate.priority_class.rank], _entry(candidate))
        waiting[candidate.ticket_id] = candidate
        heap = self._oldest.get(service_id)
        if heap is not None:
            heapq.heappush(heap, (candidate.queued_at, candidate.ticket_id))

    def _unqueue(self, ticket_id: int) -> None:
        self.numbers.pop(ticket_id, None)
        for service_id, waiting in self.waiting.items():
            candidate = waiting.pop(ticket_id, None)
            if candidate is not None:
                self._left[service_id] += 1
                if service_id in self._runs:
                    _remove(self._runs[service_id], candidate)

    def _runs_of(self, service_id: int) -> Runs:
        """The service's waiting tickets per priority rank, each run sorted by (queued at, id): calling order within
        the rank, and age order. Sorted once, then kept by `_enqueue` and `_unqueue` (a bisect each)."""
        runs = self._runs.get(service_id)
        if runs is None:
            runs = self._runs[service_id] = ([], [], [])
            for candidate in self.waiting.get(service_id, {}).values():
                runs[candidate.priority_class.rank].append(_entry(candidate))
            for run in runs:
                run.sort()
        return runs

    def _mark_remote(self, ticket_id: int, awaiting: bool) -> None:
        if awaiting:
            self.remote.add(ticket_id)
        else:
            self.remote.discard(ticket_id)

    def _free(self, window_id: int | None) -> None:
        if window_id in self.windows:
            slot = self.windows[window_id]
            slot.current_ticket_id, slot.since, slot.serving, slot.number = None, None, None, ''

    def _arrived(self, ticket_id: int, service_id: int, taken_at: dt.datetime, green: bool) -> None:
        """Remember recent arrivals (a transfer moves one to its new service), forgetting old ones."""
        if ticket_id in self.arrivals or taken_at >= self.clock() - ARRIVAL_WINDOW:
            self.arrivals[ticket_id] = (service_id, taken_at, green)
        if len(self.arrivals) > self._prune_at:
            horizon = self.clock() - ARRIVAL_WINDOW
            self.arrivals = {k: v for k, v in self.arrivals.items() if v[1] >= horizon}
            self._prune_at = max(64, 2 * len(self.arrivals))

    def waiting_count(self, service_id: int) -> int:
        return len(self.waiting.get(service_id, {}))

    def remote_count(self, service_id: int) -> int:
        """How many of the service's waiting tickets are remote ones whose citizen has not arrived yet."""
        waiting = self.waiting.get(service_id, {})
        if len(self.remote) < len(waiting):
            return sum(1 for ticket_id in self.remote if ticket_id in waiting)
        return sum(1 for ticket_id in waiting if ticket_id in self.remote)

    def booked_count(self, service_id: int) -> int:
        """Citizens booked for the service (not yet checked in) whose slot is under way or starts within
        BOOKED_AHEAD: who is about to join its queue."""
        return self._booked_counts().get(service_id, 0)

    def _booked_counts(self) -> dict[int, int]:
        """Counted once per minute of the clock (slots start and end on whole minutes) or booking change."""
        minute = self.clock().replace(second=0, microsecond=0)
        cached = self._booked_cache
        if cached is not None and cached[0] == minute:
            return cached[1]
        horizon = minute + BOOKED_AHEAD
        counts = dict(Counter(sid for sid, start, end in self.booked.values() if end > minute and start < horizon))
        self._booked_cache = (minute, counts)
        return counts

    def oldest(self, service_id: int) -> dt.datetime | None:
        """When the service's longest-waiting ticket was queued: the head of a heap whose stale entries (tickets
        gone, or queued again later) are dropped as they surface."""
        waiting = self.waiting.get(service_id, {})
        heap = self._oldest.get(service_id)
        if heap is None:
            heap = self._oldest[service_id] = [(c.queued_at, c.ticket_id) for c in waiting.values()]
            heapq.heapify(heap)
        while heap:
            queued_at, ticket_id = heap[0]
            candidate = waiting.get(ticket_id)
            if candidate is not None and candidate.queued_at == queued_at:
                return queued_at
            heapq.heappop(heap)
        return None

    def ahead_of(self, candidate: Candidate, service_id: int, *, now: dt.datetime, cap: dt.timedelta) -> int:
        """How many waiting tickets of the service would be called before this one (`priority.order_key`, every
        ticket at tier 1: a place in a service's queue belongs to no window), counted by bisecting the service's
        runs: the same cost with 1,000 waiting as with 10.

        Past the fairness cap, order is by age alone; before it, by rank, then age. So the tickets ahead are the
        overdue ones older than this one if it is overdue; otherwise every overdue one, those of a better rank, and
        the older ones of its own rank."""
        runs = self._runs_of(service_id)
        mine = _entry(candidate)
        if now - candidate.queued_at >= cap:
            return sum(bisect.bisect_left(run, mine) for run in runs)
        overdue_until = (_micros(now - cap), math.inf)  # queued at or before: waited at least the cap
        overdue = [bisect.bisect_right(run, overdue_until) for run in runs]
        rank = candidate.priority_class.rank
        better = sum(len(runs[r]) - overdue[r] for r in range(rank))
        return sum(overdue) + better + bisect.bisect_left(runs[rank], mine) - overdue[rank]

    def front(self, service_id: int, count: int, *, now: dt.datetime, cap: dt.timedelta) -> list[int]:
        """The ids of the service's first `count` waiting tickets in calling order (as `ahead_of` counts), read off
        the runs: the overdue heads of every rank merged by age, then the rest rank by rank. No sort per call."""
        runs = self._runs_of(service_id)
        overdue_until = (_micros(now - cap), math.inf)
        overdue = [bisect.bisect_right(run, overdue_until) for run in runs]
        heads = heapq.merge(*(run[: min(cut, count)] for run, cut in zip(runs, overdue, strict=True)))
        rest = (entry for run, cut in zip(runs, overdue, strict=True) for entry in run[cut : cut + count])
        return [ticket_id for _, ticket_id in itertools.islice(itertools.chain(heads, rest), count)]

    def estimate(self, service_id: int, ahead: int) -> eta.Estimate | None:
        """Expected wait of the ticket with `ahead` tickets of its service before it (docs/eta.md)."""
        service = self.services.get(service_id)
        if service is None:
            return None
        stats = self._stats(service_id)
        calls = self._look_ahead(service_id)
        index = ahead + self._left[service_id] if self.coalesce else ahead
        open_slots = [w for w in self.windows.values() if w.state == WindowState.OPEN]
        serving = sum(1 for w in open_slots if service_id in w.services)
        if index < len(calls):
            green = self._green_rates()
            jumps = green.get(service_id, 0.0) * stats.mean / max(serving, 1)
            return eta.call_estimate(calls[index], stats=stats, windows=serving, jumps=jumps)
        loads = [eta.WindowLoad(w.services, w.current_ticket_id is not None) for w in open_slots]
        counts = {sid: len(items) for sid, items in self.waiting.items()}
        capacity = eta.service_capacity(service_id, loads, counts)
        idle = sum(1 for w in open_slots if service_id in w.services and w.current_ticket_id is None)
        return eta.estimate_wait(ahead=ahead, capacity=capacity, idle_windows=idle, stats=stats)

    def _stats(self, service_id: int) -> eta.HandlingStats:
        stats = self._stats_cache.get(service_id)
        if stats is None:
            service = self.services[service_id]
            samples = list(self.recent.get(service_id, ()))
            stats = self._stats_cache[service_id] = eta.handling_stats(samples, prior_mean=service.avg_handling_minutes)
        return stats

    @property
    def stale(self) -> bool:
        """Something changed since the look-ahead, or it is older than REUSE_SECONDS."""
        cached = self._ahead_cache
        return cached is None or cached[0] != self._version or not self._recent(cached[1])

    def refresh(self) -> bool:
        """Recompute the look-ahead if it is stale (the coalescing task calls this); True when it did, and then the
        `on_refresh` listeners are told."""
        if not self.stale:
            return False
        self._compute_look_ahead(self.clock())
        for listener in self._refreshed:
            try:
                listener()
            except Exception:
                log.exception('live queue refresh listener %r failed', listener)
        return True

    def _recent(self, moment: dt.datetime) -> bool:
        return abs((self.clock() - moment).total_seconds()) < REUSE_SECONDS

    def _green_rates(self) -> dict[int, float]:
        """Green-channel arrivals per minute: as of the look-ahead when coalescing (counted once per recompute)."""
        if self.coalesce and self._green_cache is not None:
            return self._green_cache
        return self._rates(self.clock())[1]

    def _look_ahead(self, service_id: int) -> list[eta.ProjectedCall]:
        """Call times of the service's queue; one look-ahead serves every queue while nothing changes
        (and for a few seconds: the clock moves, the picture hardly does). When coalescing, a look-ahead that
        is recent by the clock serves even after events: the task recomputes it."""
        now = self.clock()
        cached = self._ahead_cache
        if cached and (cached[0] == self._version or self.coalesce) and self._recent(cached[1]):
            return cached[2].get(service_id, [])
        return self._compute_look_ahead(now).get(service_id, [])

    def _compute_look_ahead(self, now: dt.datetime) -> dict[int, list[eta.ProjectedCall]]:
        desks = [
            eta.Desk(slot.services, self._free_in(slot, now))
            for slot in self.windows.values()
            if slot.state == WindowState.OPEN and slot.services
        ]
        runs = {sid: self._runs_of(sid) for sid in self.waiting}
        means = {sid: self._stats(sid).mean for sid in self.services}
        rates, green = self._rates(now)
        calls = eta.look_ahead_runs(
            desks, runs, means, now=_micros(now), per_minute=MICROS_PER_MINUTE, cap=self.cap_minutes(), arrivals=rates
        )
        self._ahead_cache = (self._version, now, calls)
        self._green_cache = green
        self._left.clear()
        return calls

    def _free_in(self, slot: WindowSlot, now: dt.datetime) -> float:
        """Minutes until the window is free: the expected rest of the case at it."""
        if slot.current_ticket_id is None:
            return 0.0
        if slot.serving not in self.services:
            return UNKNOWN_CASE_MINUTES
        mean = self._stats(slot.serving).mean
        if slot.since is None:
            return mean / 2
        elapsed = max((now - slot.since).total_seconds() / 60, 0.0)
        return eta.residual_minutes(list(self.recent.get(slot.serving, ())), elapsed, mean)

    def _rates(self, now: dt.datetime) -> tuple[dict[int, float], dict[int, float]]:
        """Arrivals per minute per service over the last ARRIVAL_WINDOW: all, and green-channel ones."""
        rates: dict[int, float] = {}
        green: dict[int, float] = {}
        per_arrival = 1 / (ARRIVAL_WINDOW.total_seconds() / 60)
        for service_id, taken_at, is_green in self.arrivals.values():
            if now - ARRIVAL_WINDOW <= taken_at <= now:
                rates[service_id] = rates.get(service_id, 0.0) + per_arrival
                if is_green:
                    green[service_id] = green.get(service_id, 0.0) + per_arrival
        return rates, green


Runs = tuple[list[tuple[int, int]], list[tuple[int, int]], list[tuple[int, int]]]  # per rank: (queued at, id)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MICROS_PER_MINUTE = 60_000_000


def _micros(moment: dt.datetime) -> int:
    """Whole microseconds since the epoch: exact, so a run orders and cuts at the cap as datetimes do."""
    return (moment - EPOCH) // dt.timedelta(microseconds=1)


def _entry(candidate: Candidate) -> tuple[int, int]:
    return _micros(candidate.queued_at), candidate.ticket_id


def _remove(runs: Runs, candidate: Candidate) -> None:
    run = runs[candidate.priority_class.rank]
    entry = _entry(candidate)
    at = bisect.bisect_left(run, entry)
    if at < len(run) and run[at] == entry:
        del run[at]
