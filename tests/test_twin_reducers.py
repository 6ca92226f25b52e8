"""The twin's reducer, event by event: each real change names exactly the objects it changed; repeats name none.

Ticket and window events come from the real queue service (captured from the bus, then applied by
hand, so each assertion sees one event); device and alert events are built the way their publishers
build them.
"""

from __future__ import annotations

import datetime as dt

import pytest

from app.bus import InProcessBus
from app.db import Database
from app.events import (
    AlertAcknowledged,
    AlertPayload,
    AlertRaised,
    AlertResolved,
    CardRead,
    ComfortPrompt,
    DeviceHealth,
    DeviceSuggestion,
    FaceMatched,
    HelpRequested,
    PrinterStatus,
    QrScanned,
    SeatChanged,
    SlaAtRisk,
    TicketCalled,
    TicketCompleted,
    TicketIssued,
    TicketNoShow,
    TicketParked,
    TicketResumed,
    TicketTransferred,
    WindowChanged,
)
from app.models import TicketCreate, WindowState
from app.services.queue import QueueService
from tests.callers import DESK, as_staff
from tests.conftest import FakeClock
from tests.factories import SmallHall
from tests.twinkit import Devices, Recorder, add_devices
from twin import live
from twin.hall import HallTwin
from twin.model import ALERT, DEVICE, QUEUE, SEAT, WINDOW, ZONE

NOW = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
async def devices(db: Database, hall: SmallHall) -> Devices:
    return await add_devices(db, hall.hall_id, hall.window_1)


@pytest.fixture
async def twin(queue: QueueService, devices: Devices) -> HallTwin:
    return await live.build(queue)


def ids(twin: HallTwin, hall: SmallHall) -> tuple[int, int, int]:
    a = next(q.service_id for q in twin.queues.values() if q.code == hall.service_a)
    b = next(q.service_id for q in twin.queues.values() if q.code == hall.service_b)
    zone = next(iter(twin.zones))
    return a, b, zone


async def test_built_from_the_database(twin: HallTwin, hall: SmallHall, devices: Devices) -> None:
    assert {w.number for w in twin.windows.values()} == {1, 2, 3, 4}
    assert twin.windows[hall.window_1].staff == '张三'
    assert twin.windows[hall.window_1].x == 50
    assert len(twin.zones) == 1 and len(twin.devices) == 5
    assert set(twin.seats) == {devices.seat.device_id}
    assert all(d.state == 'offline' for d in twin.devices.values())
    a, _, zone = ids(twin, hall)
    assert twin.queues[a].zone_id == zone and twin.queues[a].threshold == 15


async def test_ticket_events(
    twin: HallTwin, queue: QueueService, hall: SmallHall, bus: InProcessBus, clock: FakeClock
) -> None:
    recorder = Recorder(bus)
    a, b, zone = ids(twin, hall)
    w1 = hall.window_1

    async def step(action: object, kind: type) -> frozenset:
        await action  # type: ignore[misc]
        await bus.drain()
        events = recorder.take()
        assert [type(e) for e in events] == [kind]
        return twin.apply(events[0])

    assert await step(queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK), TicketIssued) == {
        (QUEUE, a),
        (ZONE, zone),
    }
    assert twin.queues[a].waiting == 1 and twin.zones[zone].waiting == 1
    keys = await step(queue.call_next(w1, caller=DESK), TicketCalled)
    assert (WINDOW, w1) in keys and (QUEUE, a) in keys
    assert twin.windows[w1].current_number == 'A001' and twin.windows[w1].current_service_id == a
    clock.advance(0.5)  # a recall waits RECALL_INTERVAL_SECONDS after the call
    assert (
        await step(queue.recall(w1, caller=DESK), TicketCalled) == frozenset()
    )  # same ticket at the same window: nothing new
    clock.advance(4.5)
    assert await step(queue.complete(w1, caller=DESK), TicketCompleted) >= {(WINDOW, w1)}
    assert twin.windows[w1].current_number == ''

    await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    await queue.call_next(w1, caller=DESK)
    await bus.drain()
    for event in recorder.take():
        twin.apply(event)
    for _ in range(2):
        clock.advance(0.5)
        await queue.recall(w1, caller=DESK)
    await bus.drain()
    recorder.take()
    clock.advance(0.5)
    assert (WINDOW, w1) in await step(queue.no_show(w1, caller=DESK), TicketNoShow)
    assert twin.windows[w1].current_number == ''

    await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    await queue.call_next(w1, caller=DESK)
    await bus.drain()
    for event in recorder.take():
        twin.apply(event)
    assert (WINDOW, w1) in await step(queue.park(w1, reason='补材料', caller=DESK), TicketParked)
    assert (WINDOW, w1) in await step(queue.resume(w1, 'A003', caller=DESK), TicketResumed)
    assert twin.windows[w1].current_number == 'A003'
    keys = await step(queue.transfer(w1, to_service_code=hall.service_b, caller=DESK), TicketTransferred)
    assert {(WINDOW, w1), (QUEUE, b)} <= keys
    assert twin.windows[w1].current_number == '' and twin.queues[b].waiting == 1


async def test_window_events(twin: HallTwin, queue: QueueService, hall: SmallHall, bus: InProcessBus) -> None:
    recorder = Recorder(bus)
    a, _, _ = ids(twin, hall)
    await queue.take_ticket(TicketCreate(service_code=hall.service_b), caller=DESK)
    await bus.drain()
    twin.apply(recorder.take()[0])
    await queue.set_window_state(hall.window_2, WindowState.PAUSED, caller=DESK)
    await bus.drain()
    (paused,) = recorder.take()
    assert isinstance(paused, WindowChanged)
    keys = twin.apply(paused)
    assert (WINDOW, hall.window_2) in keys and twin.windows[hall.window_2].state == 'paused'
    assert twin.apply(paused) == frozenset()  # the same event again (e.g. the Redis bus delivering twice)
    await queue.set_window_services(hall.window_4, {hall.service_a: 1}, caller=as_staff('boss'))
    await bus.drain()
    (moved,) = recorder.take()
    keys = twin.apply(moved)
    assert (WINDOW, hall.window_4) in keys
    assert twin.windows[hall.window_4].services == {a: 1}


def health(devices: Devices, which: str, state: str, reason: str = '') -> DeviceHealth:
    return DeviceHealth(hall_id=1, device=getattr(devices, which), state=state, reason=reason, time=NOW)


async def test_device_health(twin: HallTwin, devices: Devices) -> None:
    kiosk = devices.kiosk.device_id
    assert twin.apply(health(devices, 'kiosk', 'online', 'connected')) == {(DEVICE, kiosk)}
    assert twin.devices[kiosk].state == 'online' and twin.devices[kiosk].state_since == NOW
    assert twin.apply(health(devices, 'kiosk', 'online', 'connected')) == frozenset()
    assert twin.apply(health(devices, 'kiosk', 'fault', 'paper_out')) == {(DEVICE, kiosk)}
    assert twin.devices[kiosk].reason == 'paper_out'
    assert twin.apply(health(devices, 'kiosk', 'offline', 'heartbeat_timeout')) == {(DEVICE, kiosk)}
    stranger = DeviceHealth(hall_id=1, device=devices.kiosk.model_copy(update={'device_id': 999}), state='online')
    assert twin.apply(stranger) == frozenset()


async def test_seat_events(twin: HallTwin, devices: Devices) -> None:
    seat = devices.seat.device_id
    twin.apply(health(devices, 'seat', 'online'))
    sat = SeatChanged(hall_id=1, device=devices.seat, occupied=True, since=NOW, time=NOW)
    assert twin.apply(sat) == {(SEAT, seat)}
    assert twin.seats[seat].occupied and twin.seats[seat].since == NOW
    assert twin.apply(SeatChanged(hall_id=1, device=devices.seat, occupied=True, since=NOW)) == frozenset()
    comfort = ComfortPrompt(hall_id=1, device=devices.seat, occupied_since=NOW, waited_minutes=31)
    assert twin.apply(comfort) == {(SEAT, seat)} and twin.seats[seat].comfort_prompted
    assert twin.apply(SeatChanged(hall_id=1, device=devices.seat, occupied=False)) == {(SEAT, seat)}
    assert not twin.seats[seat].occupied and not twin.seats[seat].comfort_prompted
    twin.apply(SeatChanged(hall_id=1, device=devices.seat, occupied=True, since=NOW))
    keys = twin.apply(health(devices, 'seat', 'offline', 'disconnected'))
    assert keys == {(DEVICE, seat), (SEAT, seat)} and not twin.seats[seat].occupied  # unknown without a connection


async def test_usage_help_and_printer_events(twin: HallTwin, devices: Devices) -> None:
    kiosk, printer, reader = devices.kiosk.device_id, devices.printer.device_id, devices.reader.device_id
    assert twin.apply(DeviceSuggestion(hall_id=1, device=devices.kiosk, usage=0.85)) == {(DEVICE, kiosk)}
    assert twin.devices[kiosk].usage == 0.85
    assert twin.apply(HelpRequested(hall_id=1, device=devices.kiosk, time=NOW)) == {(DEVICE, kiosk)}
    assert twin.devices[kiosk].help_since == NOW
    assert twin.apply(HelpRequested(hall_id=1, device=devices.kiosk)) == frozenset()  # pressed again: still one
    assert twin.apply(PrinterStatus(hall_id=1, device=devices.printer, status='paper_out')) == {(DEVICE, printer)}
    assert twin.devices[printer].printer_status == 'paper_out'
    assert twin.apply(PrinterStatus(hall_id=1, device=devices.printer, status='ok')) == {(DEVICE, printer)}
    assert twin.devices[printer].printer_status == ''
    assert twin.apply(PrinterStatus(hall_id=1, device=devices.printer, status='printed', job_id='j1'))
    assert twin.devices[printer].uses == 1
    for event in (
        CardRead(hall_id=1, device=devices.reader, valid=True),
        QrScanned(hall_id=1, device=devices.reader, valid=False, reason='bad_signature'),
        FaceMatched(hall_id=1, device=devices.reader, outcome='no_match'),
    ):
        assert twin.apply(event) == {(DEVICE, reader)}
    assert twin.devices[reader].uses == 3


def alert(alert_id: int, kind: str, target: str, **extra: object) -> AlertPayload:
    return AlertPayload(
        id=alert_id, key=f'{kind}:{target}', kind=kind, severity='warning', target=target, message='m', raised_at=NOW
    ).model_copy(update=extra)


async def test_alert_events(twin: HallTwin, devices: Devices) -> None:
    kiosk = devices.kiosk.device_id
    twin.apply(HelpRequested(hall_id=1, device=devices.kiosk, time=NOW))
    help_alert = alert(7, 'help', 'K01')
    assert twin.apply(AlertRaised(hall_id=1, alert=help_alert)) == {(ALERT, 7)}
    assert twin.apply(AlertRaised(hall_id=1, alert=help_alert)) == frozenset()
    acked = help_alert.model_copy(update={'acknowledged_at': NOW, 'acknowledged_by': 'boss'})
    assert twin.apply(AlertAcknowledged(hall_id=1, alert=acked)) == {(ALERT, 7)}
    assert twin.alerts[7].acknowledged_by == 'boss'
    closed = acked.model_copy(update={'resolved_at': NOW})
    assert twin.apply(AlertResolved(hall_id=1, alert=closed)) == {(ALERT, 7), (DEVICE, kiosk)}
    assert 7 not in twin.alerts and twin.devices[kiosk].help_since is None
    assert twin.apply(AlertResolved(hall_id=1, alert=closed)) == frozenset()


async def test_events_the_twin_does_not_show(twin: HallTwin) -> None:
    risk = SlaAtRisk(hall_id=1, case_id=1, node='审批', department_id=None, due_at=NOW)
    assert twin.apply(risk) == frozenset()  # the alert rules turn it into an alert; the twin shows the alert


async def test_only_real_changes_are_signalled(twin: HallTwin, devices: Devices) -> None:
    seen: list[frozenset] = []
    events: list[object] = []
    twin.updated.subscribe(seen.append)
    twin.changed.subscribe(events.append)
    twin.apply(health(devices, 'kiosk', 'online'))
    twin.apply(health(devices, 'kiosk', 'online'))
    assert len(seen) == 1 and len(events) == 1
