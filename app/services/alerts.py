"""Alerts for the hall manager: raised once per condition, resolved when it clears, acknowledged by a person.

Two sorts of alert. A *condition* (a queue over its threshold, someone waiting over 30 minutes, a
device offline or faulted) stays open while the condition holds and resolves itself when it
clears; acknowledging it only says "someone is on it". A case step at risk of missing its SLA
(or past it) is a condition too: it clears when the step is finished (CaseStepChanged). An
*occurrence* (呼叫人工, a device's usage over 80%) has no event that says it is over, so the
manager's acknowledgement closes it. An open alert is unique per key (kind + target), so a
condition that persists, or a button pressed five times, raises one alert. Every change is
persisted in the Alert table first, then published (AlertRaised / AlertAcknowledged / AlertResolved).

Every process may run the rules (scale-out over the Redis bus): a partial unique index holds one
open alert per key, the loser of a race adopts the winner's row instead, and each process follows
the alerts the others raise, acknowledge and resolve through their events.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import zlib
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app import tasks
from app.bus import Bus, Subscription
from app.clock import to_local
from app.events import (
    AlertAcknowledged,
    AlertPayload,
    AlertRaised,
    AlertResolved,
    CaseStepChanged,
    DeviceHealth,
    DeviceSuggestion,
    Event,
    HelpRequested,
    SlaAtRisk,
    TicketEventBase,
    TicketTransferred,
    WindowChanged,
)
from app.models.device import Device, DeviceState
from app.models.hall import Department
from app.models.operations import Alert
from app.services import audit
from app.services.case_transfer import TRANSFER_KIND
from app.services.deps import Deps
from app.services.errors import Conflict, NotFound, StorageUnavailable
from app.services.live_queue import LiveQueue
from app.services.thresholds import LONG_WAIT, queue_is_hot, waited_too_long
from app.services.uow import Service

log = logging.getLogger(__name__)

ALERT_ACKNOWLEDGED = 'alert_acknowledged'
SWEEP_INTERVAL = 30.0


class Kind(StrEnum):
    LONG_WAIT = 'long_wait'
    QUEUE_LONG = 'queue_long'
    DEVICE_OFFLINE = 'device_offline'
    DEVICE_FAULT = 'device_fault'
    DEVICE_USAGE = 'device_usage'
    SLA_AT_RISK = 'sla_at_risk'
    SLA_OVERDUE = 'sla_overdue'
    HELP = 'help'
    STORAGE = 'storage'  # writes fail (disk full, database unreachable): app/services/storage_watch.py
    DISK_LOW = 'disk_low'  # free space under DISK_MIN_FREE_MB: it will fail soon


CONDITIONS = frozenset(
    {
        Kind.LONG_WAIT,
        Kind.QUEUE_LONG,
        Kind.DEVICE_OFFLINE,
        Kind.DEVICE_FAULT,
        Kind.SLA_AT_RISK,
        Kind.SLA_OVERDUE,
        Kind.STORAGE,
        Kind.DISK_LOW,
    }
)
SLA_KINDS = (Kind.SLA_AT_RISK, Kind.SLA_OVERDUE)
NODE_FINISHED = frozenset({'approved', 'done', 'returned'})
CASE_CLOSED = frozenset({'completed', 'returned'})
QUEUE_KINDS = frozenset({Kind.LONG_WAIT, Kind.QUEUE_LONG})
SEVERITY_ORDER = {'critical': 0, 'warning': 1, 'info': 2}


@dataclass(frozen=True)
class AlertSpec:
    """What to raise: the key makes it unique while open."""

    key: str
    kind: Kind
    severity: str
    target: str
    message: str


def unstored_id(key: str) -> int:
    """The id of an alert that could not be stored (negative, so it never meets a row's id; stable per key)."""
    return -1 - zlib.crc32(key.encode())


def payload(alert: Alert) -> AlertPayload:
    return AlertPayload(
        id=alert.id or 0,
        key=alert.key,
        kind=alert.kind,
        severity=alert.severity,
        target=alert.target,
        message=alert.message,
        raised_at=alert.raised_at,
        acknowledged_at=alert.acknowledged_at,
        acknowledged_by=alert.acknowledged_by,
        resolved_at=alert.resolved_at,
    )


# ---- the rules (pure) ----------------------------------------------------------------------------


def queue_alerts(
    live: LiveQueue, *, now: dt.datetime, wait_limit: dt.timedelta = LONG_WAIT, services: set[int] | None = None
) -> dict[str, AlertSpec]:
    """The queue and wait alerts that should be open now, by key: of these services' queues (all when None)."""
    wanted: dict[str, AlertSpec] = {}
    minutes = int(wait_limit.total_seconds() // 60)
    for service_id, service in live.services.items():
        if services is not None and service_id not in services:
            continue
        name, en = service.name, service.name_en or service.code
        waiting = live.waiting_count(service_id)
        if queue_is_hot(waiting, service.queue_alert_threshold):
            key = f'{Kind.QUEUE_LONG}:{service.code}'
            message = (
                f'「{name}」排队 {waiting} 人，超过预警线 {service.queue_alert_threshold} 人'
                f' / {en}: {waiting} waiting, over the alert line of {service.queue_alert_threshold}'
            )
            wanted[key] = AlertSpec(key, Kind.QUEUE_LONG, 'warning', service.code, message)
        if waited_too_long(live.oldest(service_id), now, wait_limit):
            key = f'{Kind.LONG_WAIT}:{service.code}'
            message = f'「{name}」有群众已等候超过 {minutes} 分钟 / {en}: someone has waited over {minutes} minutes'
            wanted[key] = AlertSpec(key, Kind.LONG_WAIT, 'warning', service.code, message)
    return wanted


def device_alert(event: DeviceHealth, name: str) -> tuple[AlertSpec | None, list[str]]:
    """The alert a change of availability raises, and the keys it resolves."""
    code = event.device.code
    offline, fault = f'{Kind.DEVICE_OFFLINE}:{code}', f'{Kind.DEVICE_FAULT}:{code}'
    label = name or code
    if event.state == DeviceState.OFFLINE:
        message = f'设备「{label}」离线 / device {code} is offline'
        return AlertSpec(offline, Kind.DEVICE_OFFLINE, 'warning', code, message), [fault]
    if event.state == DeviceState.FAULT:
        reason = event.reason or 'fault'
        message = f'设备「{label}」故障：{reason} / device {code} reports a fault: {reason}'
        return AlertSpec(fault, Kind.DEVICE_FAULT, 'critical', code, message), [offline]
    return None, [offline, fault]


def occurrence_alert(
    event: Event, *, names: dict[str, str], departments: dict[int, str], tz: ZoneInfo
) -> AlertSpec | None:
    """Alerts that only a person can close: help requests, high device usage, SLA at risk."""
    if isinstance(event, HelpRequested):
        code = event.device.code
        note = f'（{event.note}）' if event.note else ''
        message = f'「{names.get(code) or code}」有群众呼叫人工{note} / help requested at {code}'
        return AlertSpec(f'{Kind.HELP}:{code}', Kind.HELP, 'critical', code, message[:300])
    if isinstance(event, DeviceSuggestion):
        code = event.device.code
        advice = event.text_zh or '建议增设设备或安排维护'
        message = f'「{names.get(code) or code}」使用率 {event.usage:.0%}：{advice} / {code} usage {event.usage:.0%}'
        return AlertSpec(f'{Kind.DEVICE_USAGE}:{code}', Kind.DEVICE_USAGE, 'info', code, message[:300])
    if isinstance(event, SlaAtRisk):
        return sla_alert(event, departments=departments, tz=tz)
    return None


def sla_key(kind: Kind, case_id: int, node: int | str) -> str:
    return f'{kind}:{case_id}:{node}'[:128]


def sla_alert(event: SlaAtRisk, *, departments: dict[int, str], tz: ZoneInfo) -> AlertSpec:
    """A case step near its deadline (warning) or past it (critical); it clears when the step is finished."""
    department = departments.get(event.department_id or 0, '')
    due = to_local(event.due_at, tz).strftime('%m-%d %H:%M')
    who = f'（{department}）' if department else ''
    kind = Kind.SLA_OVERDUE if event.overdue else Kind.SLA_AT_RISK
    if event.overdue:
        message = (
            f'办件 #{event.case_id}「{event.node}」{who}已超期（期限 {due}）'
            f' / case #{event.case_id} step "{event.node}" is overdue (due {due})'
        )
    else:
        message = (
            f'办件 #{event.case_id}「{event.node}」{who}将于 {due} 超时'
            f' / case #{event.case_id} step "{event.node}" is due {due}'
        )
    key = sla_key(kind, event.case_id, event.node_id or event.node)
    severity = 'critical' if event.overdue else 'warning'
    return AlertSpec(key, kind, severity, f'case:{event.case_id}', message[:300])


def sla_cleared(alert: Alert, event: CaseStepChanged) -> bool:
    """Does this case event end the SLA alert: its step finished, its case closed, or its case left the alert's hall
    (跨区通办: the hall it went to watches its deadlines from then on)?"""
    if alert.target != f'case:{event.case_id}':
        return False
    if event.kind == TRANSFER_KIND and event.hall_id == alert.hall_id:
        return True
    if event.node_id is None:
        return event.case_status in CASE_CLOSED
    return event.status in NODE_FINISHED and alert.key.endswith(f':{event.node_id}')


def _queues_of(event: TicketEventBase) -> set[int]:
    """The queues a ticket event moves: its service's, and the one a transfer took it from."""
    services = {event.payload.service_id}
    if isinstance(event, TicketTransferred):
        services.add(event.from_service_id)
    return services


def ordered(alerts: list[Alert]) -> list[Alert]:
    """Unacknowledged first, then by severity, newest first."""
    return sorted(
        alerts,
        key=lambda a: (
            a.acknowledged_at is not None,
            SEVERITY_ORDER.get(a.severity, 9),
            -a.raised_at.timestamp(),
        ),
    )


# ---- the service ---------------------------------------------------------------------------------


class AlertService(Service):
    """Keeps the Alert table in step with the hall: subscribed to the bus, plus a sweep for waits that only grow."""

    bus: Bus

    def __init__(
        self,
        deps: Deps,
        *,
        live: LiveQueue | None,
        wait_limit: dt.timedelta = LONG_WAIT,
        sweep_interval: float = SWEEP_INTERVAL,
    ) -> None:
        super().__init__(deps)
        self.live = live
        self.tz = self.settings.tz
        self.wait_limit = wait_limit
        self.sweep_interval = sweep_interval
        self.open: dict[str, Alert] = {}
        self._device_names: dict[str, str] = {}
        self._departments: dict[int, str] = {}
        self._lock = asyncio.Lock()
        self._subscription: Subscription | None = None
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self, *, sweep: bool = True) -> None:
        """Load open alerts and names, subscribe, check the queues once, then sweep every `sweep_interval`."""
        async with self.db.read_session() as s:
            rows = await s.execute(select(Alert).where(Alert.hall_id == self.hall_id, col(Alert.resolved_at).is_(None)))
            self.open = {a.key: a for a in rows.scalars()}
            devices = await s.execute(select(Device.code, Device.name).where(Device.hall_id == self.hall_id))
            self._device_names = {code: name for code, name in devices}
            self._departments = {d.id or 0: d.name for d in (await s.execute(select(Department))).scalars()}
        self._subscription = self.bus.subscribe(
            self.handle,
            DeviceHealth,
            DeviceSuggestion,
            HelpRequested,
            SlaAtRisk,
            CaseStepChanged,
            TicketEventBase,
            WindowChanged,
            AlertRaised,
            AlertAcknowledged,
            AlertResolved,
            name='alerts',
        )
        await self.evaluate_queues()
        if sweep:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever(), name='alerts.sweep')

    async def stop(self) -> None:
        if self._subscription is not None:
            self.bus.unsubscribe(self._subscription)
            self._subscription = None
        await tasks.stop(self._sweeper)
        self._sweeper = None

    async def handle(self, event: Event) -> None:
        if isinstance(event, AlertRaised | AlertAcknowledged | AlertResolved):
            self._follow(event)
        elif isinstance(event, TicketEventBase):
            await self.evaluate_queues(_queues_of(event))
        elif isinstance(event, WindowChanged):
            await self.evaluate_queues()
        elif isinstance(event, CaseStepChanged):
            await self._case_moved(event)
        elif isinstance(event, SlaAtRisk) and event.overdue:
            await self.resolve(sla_key(Kind.SLA_AT_RISK, event.case_id, event.node_id or event.node))
            await self.raise_alert(sla_alert(event, departments=self._departments, tz=self.tz))
        elif isinstance(event, DeviceHealth):
            spec, clears = device_alert(event, self._device_names.get(event.device.code, ''))
            for key in clears:
                await self.resolve(key)
            if spec is not None:
                await self.raise_alert(spec)
        else:
            spec = occurrence_alert(event, names=self._device_names, departments=self._departments, tz=self.tz)
            if spec is not None:
                await self.raise_alert(spec)

    def _follow(self, event: AlertRaised | AlertAcknowledged | AlertResolved) -> None:
        """Keep the open list in step with alerts changed anywhere (this process's own changes are already in it)."""
        if event.hall_id != self.hall_id:
            return
        alert = event.alert
        mine = self.open.get(alert.key)
        if alert.resolved_at is not None:
            if mine is not None and mine.id == alert.id:
                del self.open[alert.key]
        elif mine is None or mine.id == alert.id:
            self.open[alert.key] = Alert(hall_id=event.hall_id, **alert.model_dump())

    async def _case_moved(self, event: CaseStepChanged) -> None:
        """A finished step (or a closed case) clears its SLA alerts."""
        for key, alert in list(self.open.items()):
            if alert.kind in SLA_KINDS and sla_cleared(alert, event):
                await self.resolve(key)

    async def evaluate_queues(self, services: set[int] | None = None) -> None:
        """Raise the queue and wait alerts that hold now; resolve those that no longer do. `services`: only these
        queues moved (a ticket event); the others are as they were, and the sweep still looks at every one."""
        if self.live is None:
            return
        wanted = queue_alerts(self.live, now=self.clock(), wait_limit=self.wait_limit, services=services)
        codes = None if services is None else {s.code for sid, s in self.live.services.items() if sid in services}
        for key, alert in list(self.open.items()):
            if alert.kind in QUEUE_KINDS and key not in wanted and (codes is None or alert.target in codes):
                await self.resolve(key)
        for key, spec in wanted.items():
            if key not in self.open:
                await self.raise_alert(spec)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval)
            try:
                await self.evaluate_queues()
            except Exception:
                log.exception('alert sweep failed')

    async def raise_alert(self, spec: AlertSpec) -> Alert | None:
        """Insert and publish an alert unless one with its key is already open (None then)."""
        async with self._lock:
            if spec.key in self.open:
                return None
            try:
                async with self._transaction() as uow:
                    s = uow.session
                    existing = await self._open_row(s, spec.key)
                    if existing is not None:
                        self.open[spec.key] = existing
                        return None
                    alert = self._new(spec)
                    s.add(alert)
                    await s.flush()
                    uow.emit(AlertRaised(hall_id=self.hall_id, alert=payload(alert)))
            except StorageUnavailable:
                return await self._announce(spec)
            except IntegrityError:
                async with self.db.read_session() as s:
                    winner = await self._open_row(s, spec.key)
                if winner is None:
                    raise
                self.open[spec.key] = winner
                log.info('alert %s was raised by another process', spec.key)
                return None
            self.open[spec.key] = alert
            log.info('alert raised: %s', spec.key)
            return alert

    def _new(self, spec: AlertSpec, alert_id: int | None = None) -> Alert:
        """The alert raised now, cut to its columns' sizes (no id: the database gives one)."""
        return Alert(
            id=alert_id,
            hall_id=self.hall_id,
            key=spec.key,
            kind=spec.kind,
            severity=spec.severity,
            target=spec.target[:64],
            message=spec.message[:300],
            raised_at=self.clock(),
        )

    async def _announce(self, spec: AlertSpec) -> Alert:
        """The database cannot store the alert (the very fault it may be about): the manager still sees it now,
        over the bus, and it lives in memory until its condition clears."""
        alert = self._new(spec, unstored_id(spec.key))
        self.open[spec.key] = alert
        await self.bus.publish(AlertRaised(hall_id=self.hall_id, alert=payload(alert)))
        log.warning('alert raised but not stored (storage fault): %s', spec.key)
        return alert

    async def _open_row(self, s: AsyncSession, key: str) -> Alert | None:
        statement = select(Alert).where(
            Alert.hall_id == self.hall_id, Alert.key == key, col(Alert.resolved_at).is_(None)
        )
        return (await s.execute(statement)).scalar_one_or_none()

    async def resolve(self, key: str) -> Alert | None:
        """Close the open alert with this key (None if there is none)."""
        async with self._lock:
            if key not in self.open:
                return None
            unstored = self.open[key]
            if (unstored.id or 0) < 0:
                unstored.resolved_at = self.clock()
                self.open.pop(key)
                await self.bus.publish(AlertResolved(hall_id=self.hall_id, alert=payload(unstored)))
                return unstored
            async with self._transaction() as uow:
                alert = await uow.session.get(Alert, self.open[key].id)
                if alert is None or alert.resolved_at is not None:
                    self.open.pop(key, None)
                    return None
                alert.resolved_at = self.clock()
                uow.emit(AlertResolved(hall_id=self.hall_id, alert=payload(alert)))
            self.open.pop(key, None)
            return alert

    async def acknowledge(self, alert_id: int, *, actor: str, role: str, client_address: str = '') -> Alert:
        """A manager takes the alert on (audited); an occurrence is closed by it, a condition stays until it clears."""
        if alert_id < 0:
            raise Conflict('alert_unstored')
        async with self._lock:
            now = self.clock()
            async with self._transaction() as uow:
                s = uow.session
                alert = await s.get(Alert, alert_id)
                if alert is None or alert.hall_id != self.hall_id:
                    raise NotFound('unknown_alert')
                if alert.resolved_at is not None:
                    raise Conflict('alert_resolved')
                if alert.acknowledged_at is not None:
                    raise Conflict('alert_acknowledged', acknowledged_by=alert.acknowledged_by)
                alert.acknowledged_at, alert.acknowledged_by = now, actor[:64]
                closes = alert.kind not in CONDITIONS
                if closes:
                    alert.resolved_at = now
                await s.flush()
                uow.emit(AlertAcknowledged(hall_id=self.hall_id, alert=payload(alert)))
                if closes:
                    uow.emit(AlertResolved(hall_id=self.hall_id, alert=payload(alert)))
                await audit.record(
                    s,
                    actor=actor,
                    role=role,
                    action=ALERT_ACKNOWLEDGED,
                    target=f'alert:{alert.id}',
                    detail={'kind': alert.kind, 'key': alert.key},
                    client_address=client_address,
                    now=now,
                )
            if closes:
                self.open.pop(alert.key, None)
            else:
                self.open[alert.key] = alert
            return alert

    def open_alerts(self) -> list[Alert]:
        return ordered(list(self.open.values()))
