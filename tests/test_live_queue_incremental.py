"""The live queue keeps its figures per event and hands the hall-wide look-ahead to one coalescing task.

Checked against the full replay (a state that recomputes everything whenever it is read, as before): the
counts and the oldest ticket agree after every event, and every estimate agrees once the coalesced recompute
has run. A burst of events costs at most a few recomputes a second.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time

import pytest

from app.events import (
    DeviceHealth,
    DevicePayload,
    Event,
    TicketArrived,
    TicketCalled,
    TicketCompleted,
    TicketIssued,
    TicketPrioritised,
    TicketSnapshot,
    TicketTransferred,
    WindowChanged,
    WindowPayload,
)
from app.models import ServiceItem
from app.services.eta_refresh import EtaRefresher, pause_after
from app.services.live_queue import LiveQueue, WindowSlot
from app.services.priority import order_key
from tests.twinkit import seed_twin
from twin.feed import HallFeed
from twin.model import QUEUE, WINDOW, Key

START = dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC)
SERVICES = {1: 6.0, 2: 10.0, 3: 15.0}  # id -> configured mean handling minutes
WINDOWS = {  # id -> services (id -> tier)
    1: {1: 1, 2: 2},
    2: {1: 1, 3: 3},
    3: {2: 1, 1: 2},
    4: {3: 1, 2: 2},
    5: {2: 1},
}


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now


def hall(clock: Clock) -> LiveQueue:
    services = {
        sid: ServiceItem(
            id=sid,
            code=f'S{sid}',
            name=f'S{sid}',
            ticket_prefix='ABC'[sid - 1],
            department_id=1,
            avg_handling_minutes=mean,
        )
        for sid, mean in SERVICES.items()
    }
    windows = {wid: WindowSlot(dict(served), 'open') for wid, served in WINDOWS.items()}
    return LiveQueue(services, windows, clock=clock)


class Hall:
    """A random but lawful stream of queue events: numbers taken, called, completed, transferred, windows paused."""

    def __init__(self, rng: random.Random, clock: Clock) -> None:
        self.rng = rng
        self.clock = clock
        self.next_id = 1
        self.waiting: dict[int, TicketSnapshot] = {}
        self.serving: dict[int, TicketSnapshot] = {}  # window -> ticket
        self.remote: set[int] = set()
        self.states = dict.fromkeys(WINDOWS, 'open')

    def ticket(self, ticket_id: int, service_id: int, **fields: object) -> TicketSnapshot:
        base = self.waiting.get(ticket_id)
        values: dict[str, object] = (
            base.model_dump()
            if base
            else {
                'id': ticket_id,
                'number': f'{"ABC"[service_id - 1]}{ticket_id:03d}',
                'service_id': service_id,
                'service_code': f'S{service_id}',
                'status': 'waiting',
                'priority_class': self.rng.choice(['normal'] * 8 + ['green', 'appointment']),
                'queued_at': self.clock(),
                'taken_at': self.clock(),
            }
        )
        values.update(fields)
        return TicketSnapshot.model_validate(values)

    def next_event(self) -> Event:
        self.clock.now += dt.timedelta(seconds=self.rng.choice([0, 0, 5, 30, 90]))
        roll = self.rng.random()
        idle = [w for w in WINDOWS if w not in self.serving and self.states[w] == 'open']
        if roll < 0.45 or not self.waiting:
            sid = self.rng.choice(list(SERVICES))
            remote = self.rng.random() < 0.1
            snapshot = self.ticket(self.next_id, sid, awaiting_arrival=remote)
            self.next_id += 1
            self.waiting[snapshot.id] = snapshot
            if remote:
                self.remote.add(snapshot.id)
            return TicketIssued(hall_id=1, payload=snapshot)
        if roll < 0.5 and self.remote:
            ticket_id = self.rng.choice(sorted(self.remote))
            self.remote.discard(ticket_id)
            old = self.waiting[ticket_id]
            return TicketArrived(hall_id=1, payload=self.ticket(ticket_id, old.service_id, awaiting_arrival=False))
        if roll < 0.6:
            ticket_id = self.rng.choice(sorted(self.waiting))
            old = self.waiting[ticket_id]
            to = self.rng.choice([s for s in SERVICES if s != old.service_id])
            moved = old.model_copy(update={'service_id': to, 'service_code': f'S{to}', 'queued_at': self.clock()})
            self.waiting[ticket_id] = moved
            return TicketTransferred(hall_id=1, payload=moved, from_service_id=old.service_id)
        if roll < 0.8 and idle:
            window = self.rng.choice(idle)
            choices = [t for t in self.waiting.values() if t.service_id in WINDOWS[window]]
            if choices:
                picked = self.rng.choice(choices)
                del self.waiting[picked.id]
                self.remote.discard(picked.id)
                called = picked.model_copy(update={'status': 'serving', 'window_id': window, 'called_at': self.clock()})
                self.serving[window] = called
                return TicketCalled(hall_id=1, payload=called)
        if roll < 0.95 and self.serving:
            window = self.rng.choice(sorted(self.serving))
            done = self.serving.pop(window)
            seconds = (self.clock() - (done.called_at or self.clock())).total_seconds() + self.rng.uniform(60, 900)
            finished = done.model_copy(update={'status': 'completed', 'handling_seconds': seconds})
            return TicketCompleted(hall_id=1, payload=finished)
        window = self.rng.choice(list(WINDOWS))
        self.states[window] = 'paused' if self.states[window] == 'open' else 'open'
        payload = WindowPayload(id=window, number=window, state=self.states[window], service_ids=list(WINDOWS[window]))
        return WindowChanged(hall_id=1, payload=payload)


def estimates(state: LiveQueue) -> dict[tuple[int, int], tuple[float, float, float] | None]:
    """Every service's estimate for every place in its queue, and for a ticket taken now."""
    found = {}
    for sid in SERVICES:
        for ahead in range(state.waiting_count(sid) + 1):
            e = state.estimate(sid, ahead)
            found[(sid, ahead)] = (round(e.minutes, 9), round(e.low, 9), round(e.high, 9)) if e else None
    return found


def test_counts_and_oldest_kept_per_event_equal_a_recount_after_every_event() -> None:
    clock = Clock()
    fed = hall(clock)
    fed.coalesce = True
    stream = Hall(random.Random(20), clock)
    for _ in range(600):
        fed.apply(stream.next_event())
        for sid in SERVICES:
            waiting = fed.waiting.get(sid, {})
            assert fed.waiting_count(sid) == len(waiting)
            assert fed.oldest(sid) == min((c.queued_at for c in waiting.values()), default=None)
            assert fed.remote_count(sid) == sum(1 for tid in waiting if tid in fed.remote)


def test_places_kept_per_event_equal_the_calling_order_counted_ticket_by_ticket() -> None:
    for cap_minutes in (3, 20):  # a short cap puts overdue tickets of every class in the queues
        clock = Clock()
        fed = hall(clock)
        stream = Hall(random.Random(cap_minutes), clock)
        cap = dt.timedelta(minutes=cap_minutes)
        for step in range(500):
            event = stream.next_event()
            if step % 11 == 0 and isinstance(event, TicketIssued):  # some tickets change class while they wait
                fed.apply(event)
                event = TicketPrioritised(
                    hall_id=1, payload=event.payload.model_copy(update={'priority_class': 'green'})
                )
            fed.apply(event)
            now = clock()
            for sid in SERVICES:
                waiting = fed.waiting.get(sid, {}).values()
                for mine in waiting:
                    counted = sum(
                        1
                        for other in waiting
                        if other.ticket_id != mine.ticket_id
                        and order_key(other, now=now, cap=cap) < order_key(mine, now=now, cap=cap)
                    )
                    assert fed.ahead_of(mine, sid, now=now, cap=cap) == counted, f'cap {cap_minutes}, step {step}'


def test_coalesced_estimates_equal_the_full_replay_once_the_recompute_has_run() -> None:
    for seed in range(4):
        clock = Clock()
        fed, replayed = hall(clock), hall(clock)
        fed.coalesce = True  # reads the last look-ahead between recomputes
        stream = Hall(random.Random(seed), clock)
        for step in range(250):
            event = stream.next_event()
            assert fed.apply(event) == replayed.apply(event)
            if step % 7 == 0:  # the coalescing task runs now and then, not after every event
                fed.refresh()
                assert estimates(fed) == estimates(replayed), f'seed {seed}, step {step}'
                assert not fed.stale


def test_between_recomputes_a_waiting_ticket_keeps_the_place_the_last_look_ahead_gave_it() -> None:
    clock = Clock()
    state = hall(clock)
    state.coalesce = True
    stream = Hall(random.Random(3), clock)
    for sid in (1, 1, 1):
        snapshot = stream.ticket(stream.next_id, sid, priority_class='normal')
        stream.next_id += 1
        state.apply(TicketIssued(hall_id=1, payload=snapshot))
        clock.now += dt.timedelta(seconds=1)
    state.refresh()
    second = state.estimate(1, 1)
    head = min(state.waiting[1].values(), key=lambda c: c.queued_at)
    called = stream.ticket(head.ticket_id, 1, status='serving', window_id=5, called_at=clock())
    state.apply(TicketCalled(hall_id=1, payload=called))  # window 5 does not serve S1: only the head leaves
    assert state.stale
    assert state.estimate(1, 0) == second  # the old second is first now, with the time the look-ahead gave it


async def test_a_burst_of_events_is_recomputed_at_most_a_few_times_a_second() -> None:
    clock = Clock()
    state = hall(clock)
    refresher = EtaRefresher(state, per_second=4)
    refresher.start()
    try:
        stream = Hall(random.Random(9), clock)
        started = time.monotonic()
        for _ in range(400):
            state.apply(stream.next_event())
            await asyncio.sleep(0.002)
        took = time.monotonic() - started
        await asyncio.sleep(0.6)  # the last events are taken in by one more recompute
        assert 1 <= refresher.runs <= 4 * took + 2
        assert not state.stale
        replayed = hall(clock)
        replayed.waiting, replayed.windows, replayed.recent = state.waiting, state.windows, state.recent
        replayed.arrivals, replayed.remote = state.arrivals, state.remote
        assert estimates(state) == estimates(replayed)
    finally:
        await refresher.stop()
    assert not state.coalesce


def test_the_twin_redraws_the_queue_an_event_touched_and_every_queue_after_the_recompute() -> None:
    coalesced, replayed = seed_twin(), seed_twin()  # the second recomputes every queue on every event, as before
    coalesced.live.coalesce = True
    for twin in (coalesced, replayed):
        twin.live.clock = lambda: START
    updates: list[frozenset[Key]] = []
    coalesced.updated.subscribe(updates.append)
    served = sorted({sid for slot in coalesced.live.windows.values() if slot.state == 'open' for sid in slot.services})
    for n, sid in enumerate(served * 3, start=1):
        snapshot = TicketSnapshot(
            id=n,
            number=f'A{n:03d}',
            service_id=sid,
            service_code='X',
            status='waiting',
            priority_class='normal',
            queued_at=START,
            taken_at=START,
        )
        event = TicketIssued(hall_id=1, payload=snapshot)
        updates.clear()
        coalesced.apply(event)
        replayed.apply(event)
        assert {key for keys in updates for key in keys if key[0] == QUEUE} == {(QUEUE, sid)}
        assert coalesced.queues[sid].waiting == replayed.queues[sid].waiting
    assert coalesced.live.refresh()
    assert {sid: vars(q) for sid, q in coalesced.queues.items()} == {sid: vars(q) for sid, q in replayed.queues.items()}


def test_a_recompute_that_costs_more_than_its_share_spaces_the_next_ones() -> None:
    assert pause_after(0.002, 0.25) == 0.25  # cheap: the usual few a second
    assert pause_after(0.05, 0.25) == pytest.approx(0.45)  # 50 ms, then 450 ms: a tenth of the time


def _event(kind: type[TicketIssued | TicketCalled | TicketCompleted], n: int, sid: int, **fields: object) -> Event:
    values: dict[str, object] = {
        'id': n,
        'number': f'A{n:03d}',
        'service_id': sid,
        'service_code': 'X',
        'status': 'waiting',
        'priority_class': 'normal',
        'queued_at': START,
        'taken_at': START,
    }
    return kind(hall_id=1, payload=TicketSnapshot.model_validate(values | fields))


def test_a_take_redraws_no_window_a_call_only_its_own_and_a_full_redraw_then_finds_nothing_left() -> None:
    twin = seed_twin()
    twin.live.clock = lambda: START
    updates: list[frozenset[Key]] = []
    twin.updated.subscribe(updates.append)
    window, slot = next((wid, slot) for wid, slot in twin.live.windows.items() if slot.state == 'open')
    sid = next(iter(slot.services))
    steps = [
        (_event(TicketIssued, 1, sid), set()),
        (_event(TicketIssued, 2, sid), set()),
        (_event(TicketCalled, 1, sid, status='called', window_id=window, called_at=START), {(WINDOW, window)}),
        (_event(TicketCompleted, 1, sid, status='completed', window_id=window, called_at=START), {(WINDOW, window)}),
    ]
    for event, windows in steps:
        updates.clear()
        twin.apply(event)
        assert {key for keys in updates for key in keys if key[0] == WINDOW} == windows
        assert twin._show_windows() == set() and twin._refresh_queues() == set()  # nothing the event left undrawn


def test_after_the_live_state_is_re_read_the_next_event_shows_every_window_again() -> None:
    twin = seed_twin()
    twin.live.clock = lambda: START
    fresh = seed_twin().live
    window, slot = next((wid, slot) for wid, slot in fresh.windows.items() if slot.state == 'open')
    slot.state = 'paused'  # what the database said after a bus outage
    twin.live.resync(fresh)
    other = next(sid for sid in twin.live.services if sid not in slot.services)
    twin.apply(_event(TicketIssued, 1, other))
    assert twin.windows[window].state == 'paused'


async def test_the_feed_recounts_the_figures_of_each_kind_that_changed() -> None:
    twin = seed_twin()
    twin.live.clock = lambda: START
    feed = HallFeed(twin, clock=lambda: START)
    try:
        window, slot = next((wid, slot) for wid, slot in twin.live.windows.items() if slot.state == 'open')
        open_before, online_before = feed.kpi.windows_open, feed.kpi.devices_online
        twin.apply(_event(TicketIssued, 1, next(iter(slot.services))))
        assert (feed.kpi.waiting_now, feed.kpi.windows_open, feed.kpi.devices_online) == (1, open_before, online_before)
        paused = WindowPayload(id=window, number=window, state='paused', service_ids=list(slot.services))
        twin.apply(WindowChanged(hall_id=1, payload=paused))
        assert (feed.kpi.waiting_now, feed.kpi.windows_open) == (1, open_before - 1)
        device = next(d for d in twin.devices.values() if d.state != 'online')
        payload = DevicePayload(device_id=device.id, code=device.code, kind=device.kind)
        twin.apply(DeviceHealth(hall_id=1, device=payload, state='online'))
        assert feed.kpi.devices_online == online_before + 1
    finally:
        await feed.stop()
