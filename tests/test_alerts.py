"""Alert rules: raised once per key, resolved when the condition clears, acknowledged (and audited) by a manager."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.bus import InProcessBus
from app.db import Database
from app.events import (
    AlertAcknowledged,
    AlertPayload,
    AlertRaised,
    AlertResolved,
    CaseStepChanged,
    DeviceHealth,
    DeviceSuggestion,
    HelpRequested,
    SlaAtRisk,
    TicketIssued,
)
from app.models import Alert, AuditEntry, ServiceItem, TicketCreate
from app.services.alerts import ALERT_ACKNOWLEDGED, AlertService, AlertSpec, Kind
from app.services.errors import Conflict, NotFound
from app.services.queue import QueueService
from app.settings import Settings
from tests.callers import DESK
from tests.conftest import FakeClock, audited
from tests.factories import SmallHall
from tests.twinkit import Devices, Recorder, add_devices


@pytest.fixture
async def devices(db: Database, hall: SmallHall) -> Devices:
    return await add_devices(db, hall.hall_id, hall.window_1)


@pytest.fixture
async def alerts(
    db: Database,
    bus: InProcessBus,
    queue: QueueService,
    hall: SmallHall,
    devices: Devices,
    settings: Settings,
    clock: FakeClock,
) -> AsyncIterator[AlertService]:
    async with db.session() as s, s.begin():
        await s.execute(update(ServiceItem).values(queue_alert_threshold=2))
    await queue.start_live()
    service = AlertService(queue.deps, live=queue.live)
    await service.start(sweep=False)
    yield service
    await service.stop()


async def settle(bus: InProcessBus) -> None:
    """Alert handlers publish while handling: drain until everything has been delivered."""
    for _ in range(3):
        await bus.drain()


async def rows(db: Database) -> list[Alert]:
    async with db.read_session() as s:
        return list((await s.execute(select(Alert).order_by(col(Alert.id)))).scalars())


async def test_queue_over_its_threshold_raises_once_and_clears(
    alerts: AlertService, queue: QueueService, hall: SmallHall, bus: InProcessBus, db: Database
) -> None:
    recorder = Recorder(bus)
    for _ in range(4):
        await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    await settle(bus)
    (alert,) = await rows(db)
    assert alert.key == 'queue_long:SVC-A' and alert.kind == Kind.QUEUE_LONG and alert.resolved_at is None
    assert '事项甲' in alert.message and len(recorder.of(AlertRaised)) == 1
    await queue.call_next(hall.window_1, caller=DESK)
    await settle(bus)
    assert (await rows(db))[0].resolved_at is None  # 3 still waiting, over 2
    await queue.complete(hall.window_1, caller=DESK)
    await queue.call_next(hall.window_1, caller=DESK)
    await settle(bus)
    (cleared,) = await rows(db)
    assert cleared.resolved_at is not None and alerts.open == {}
    assert [type(e) for e in recorder.events if type(e).__name__.startswith('Alert')] == [AlertRaised, AlertResolved]


async def test_a_ticket_in_another_queue_leaves_this_queues_alert_as_the_full_check_would(
    alerts: AlertService, queue: QueueService, hall: SmallHall, bus: InProcessBus, db: Database
) -> None:
    for _ in range(3):
        await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    await settle(bus)
    recorder = Recorder(bus)
    await queue.take_ticket(TicketCreate(service_code=hall.service_b), caller=DESK)  # B: 1 waiting, under its line
    await settle(bus)
    assert set(alerts.open) == {'queue_long:SVC-A'} and recorder.events == recorder.of(TicketIssued)
    await alerts.evaluate_queues()  # every queue, as the sweep does: nothing was left undone
    await settle(bus)
    assert set(alerts.open) == {'queue_long:SVC-A'} and [r.key for r in await rows(db)] == ['queue_long:SVC-A']


async def test_a_wait_over_30_minutes_is_found_by_the_sweep(
    alerts: AlertService, queue: QueueService, hall: SmallHall, bus: InProcessBus, db: Database, clock: FakeClock
) -> None:
    await queue.take_ticket(TicketCreate(service_code=hall.service_b), caller=DESK)
    await settle(bus)
    assert await rows(db) == []
    clock.advance(31)
    await alerts.evaluate_queues()  # what the sweep does every 30 s
    (alert,) = await rows(db)
    assert alert.key == 'long_wait:SVC-B' and '30 分钟' in alert.message
    await alerts.evaluate_queues()
    assert len(await rows(db)) == 1
    await queue.call_next(hall.window_2, caller=DESK)
    await settle(bus)
    assert (await rows(db))[0].resolved_at is not None


def health(devices: Devices, state: str, reason: str = '') -> DeviceHealth:
    return DeviceHealth(hall_id=1, device=devices.kiosk, state=state, reason=reason)


async def test_device_offline_and_fault_follow_availability(
    alerts: AlertService, devices: Devices, bus: InProcessBus, db: Database
) -> None:
    await bus.publish(health(devices, 'offline', 'heartbeat_timeout'))
    await bus.publish(health(devices, 'offline', 'heartbeat_timeout'))
    await settle(bus)
    (offline,) = await rows(db)
    assert offline.key == 'device_offline:K01' and '1号自助取号机' in offline.message
    await bus.publish(health(devices, 'fault', 'paper_out'))
    await settle(bus)
    first, fault = await rows(db)
    assert first.resolved_at is not None
    assert fault.key == 'device_fault:K01' and fault.severity == 'critical' and 'paper_out' in fault.message
    await bus.publish(health(devices, 'online', 'recovered'))
    await settle(bus)
    assert all(a.resolved_at is not None for a in await rows(db)) and alerts.open == {}


async def test_help_is_one_alert_closed_by_the_acknowledgement(
    alerts: AlertService, devices: Devices, bus: InProcessBus, db: Database
) -> None:
    recorder = Recorder(bus)
    for _ in range(3):
        await bus.publish(HelpRequested(hall_id=1, device=devices.kiosk, note='老人不会操作'))
    await settle(bus)
    (alert,) = await rows(db)
    assert alert.kind == Kind.HELP and alert.severity == 'critical' and '老人不会操作' in alert.message
    acked = await alerts.acknowledge(alert.id or 0, actor='boss', role='manager', client_address='10.0.0.8')
    assert acked.acknowledged_by == 'boss' and acked.resolved_at is not None
    await settle(bus)
    assert [type(e) for e in recorder.events if type(e).__name__.startswith('Alert')] == [
        AlertRaised,
        AlertAcknowledged,
        AlertResolved,
    ]
    async with db.read_session() as s:
        (entry,) = (await s.execute(select(AuditEntry).where(AuditEntry.action == ALERT_ACKNOWLEDGED))).scalars()
    assert entry.actor == 'boss' and entry.target == f'alert:{alert.id}' and entry.client_address == audited('10.0.0.8')
    await bus.publish(HelpRequested(hall_id=1, device=devices.kiosk))
    await settle(bus)
    assert len(await rows(db)) == 2  # a new press after it was handled is a new alert


async def test_acknowledging_a_condition_keeps_it_open_until_it_clears(
    alerts: AlertService, devices: Devices, bus: InProcessBus, db: Database
) -> None:
    await bus.publish(health(devices, 'offline'))
    await settle(bus)
    (alert,) = await rows(db)
    acked = await alerts.acknowledge(alert.id or 0, actor='boss', role='manager')
    assert acked.acknowledged_at is not None and acked.resolved_at is None
    with pytest.raises(Conflict):
        await alerts.acknowledge(alert.id or 0, actor='boss2', role='manager')
    with pytest.raises(NotFound):
        await alerts.acknowledge(9999, actor='boss', role='manager')
    await bus.publish(health(devices, 'online'))
    await settle(bus)
    (cleared,) = await rows(db)
    assert cleared.resolved_at is not None and cleared.acknowledged_by == 'boss'
    with pytest.raises(Conflict):
        await alerts.acknowledge(alert.id or 0, actor='boss', role='manager')


async def test_usage_and_sla_alerts(alerts: AlertService, devices: Devices, bus: InProcessBus, db: Database) -> None:
    await bus.publish(DeviceSuggestion(hall_id=1, device=devices.printer, usage=0.86, text_zh='建议增设设备'))
    due = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)
    await bus.publish(SlaAtRisk(hall_id=1, case_id=42, node='部门审批', department_id=None, due_at=due))
    await bus.publish(SlaAtRisk(hall_id=1, case_id=42, node='部门审批', department_id=None, due_at=due))
    await settle(bus)
    usage, sla = await rows(db)
    assert usage.key == 'device_usage:K01-PRN' and '86%' in usage.message and usage.severity == 'info'
    assert sla.key == 'sla_at_risk:42:部门审批' and '11-30 16:00' in sla.message and sla.target == 'case:42'


async def test_sla_alerts_escalate_and_clear_with_the_step(
    alerts: AlertService, bus: InProcessBus, db: Database
) -> None:
    due = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)
    common = {'hall_id': 1, 'case_id': 7, 'node': '部门审批', 'department_id': None, 'due_at': due, 'node_id': 70}
    await bus.publish(SlaAtRisk(**common))
    await settle(bus)
    (risk,) = await rows(db)
    assert risk.key == 'sla_at_risk:7:70' and risk.severity == 'warning'
    await alerts.acknowledge(risk.id or 0, actor='boss', role='manager')
    assert 'sla_at_risk:7:70' in alerts.open  # acknowledged, still at risk until the step is done
    await bus.publish(SlaAtRisk(**common, overdue=True))
    await settle(bus)
    risk, overdue = await rows(db)
    assert risk.resolved_at is not None  # superseded by the overdue one
    assert overdue.key == 'sla_overdue:7:70' and overdue.severity == 'critical' and '已超期' in overdue.message
    other_step = {'hall_id': 1, 'case_id': 7, 'service_code': 'X', 'case_status': 'open'}
    await bus.publish(CaseStepChanged(**other_step, node_id=71, status='done'))
    await settle(bus)
    assert (await rows(db))[1].resolved_at is None
    await bus.publish(CaseStepChanged(**other_step, node_id=70, status='approved'))
    await settle(bus)
    assert (await rows(db))[1].resolved_at is not None and alerts.open == {}


async def test_open_alerts_survive_a_restart(
    alerts: AlertService,
    devices: Devices,
    bus: InProcessBus,
    db: Database,
    queue: QueueService,
    hall: SmallHall,
    settings: Settings,
    clock: FakeClock,
) -> None:
    await bus.publish(health(devices, 'offline'))
    await settle(bus)
    await alerts.stop()
    again = AlertService(queue.deps, live=queue.live)
    await again.start(sweep=False)
    try:
        assert set(again.open) == {'device_offline:K01'}
        await bus.publish(health(devices, 'offline'))
        await settle(bus)
        assert len(await rows(db)) == 1
        assert [a.key for a in again.open_alerts()] == ['device_offline:K01']
    finally:
        await again.stop()


async def test_the_database_holds_one_open_alert_per_key(
    alerts: AlertService,
    bus: InProcessBus,
    db: Database,
    hall: SmallHall,
    settings: Settings,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A second process whose check raced past the first one's insert adopts the first one's row."""
    spec = AlertSpec('help:K01', Kind.HELP, 'critical', 'K01', '有群众呼叫人工 / help requested')
    first = await alerts.raise_alert(spec)
    assert first is not None
    other = AlertService(alerts.deps, live=None)
    looked: list[str] = []
    real = other._open_row

    async def stale_once(s: AsyncSession, key: str) -> Alert | None:
        looked.append(key)
        return None if len(looked) == 1 else await real(s, key)

    monkeypatch.setattr(other, '_open_row', stale_once)
    assert await other.raise_alert(spec) is None
    assert other.open['help:K01'].id == first.id and len(looked) == 2
    assert [a.id for a in await rows(db)] == [first.id]
    with pytest.raises(IntegrityError):
        async with db.session() as s, s.begin():
            s.add(Alert(hall_id=hall.hall_id, key='help:K01', kind='help', message='again', raised_at=clock.now))
    await alerts.acknowledge(first.id or 0, actor='boss', role='manager')
    assert await alerts.raise_alert(spec) is not None  # a resolved alert does not block a new one


async def test_alerts_changed_by_another_process_are_followed(
    alerts: AlertService, bus: InProcessBus, hall: SmallHall, clock: FakeClock
) -> None:
    """Another process raised, then resolved, an alert: this one's open list follows its events."""
    theirs = AlertPayload(
        id=9001, key='help:K09', kind=Kind.HELP, severity='critical', message='help', raised_at=clock.now
    )
    await bus.publish(AlertRaised(hall_id=hall.hall_id, alert=theirs))
    await settle(bus)
    assert alerts.open['help:K09'].id == 9001
    assert [a.key for a in alerts.open_alerts()] == ['help:K09']
    done = theirs.model_copy(update={'resolved_at': clock.now})
    await bus.publish(AlertResolved(hall_id=hall.hall_id, alert=done))
    await settle(bus)
    assert 'help:K09' not in alerts.open
