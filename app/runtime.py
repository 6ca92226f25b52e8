"""The services of one running process, built once at start-up by the composition root."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from app.bus import Bus, InProcessBus
from app.bus_redis import RedisBus, hall_stream
from app.db import Database
from app.events import HallConfigChanged
from app.models.hall import Hall
from app.security.crypto import FieldCipher
from app.security.keys import Purpose
from app.services.assistant import AssistantService
from app.services.audit_browser import AuditBrowser
from app.services.auth import AuthService
from app.services.cases import CaseService
from app.services.citizen_accounts import CitizenAccountService
from app.services.config_versions import ConfigHistory
from app.services.deps import Deps, build_deps
from app.services.device_registry import DeviceRegistryService
from app.services.forecast import ForecastService
from app.services.guide import BestTimes, GuideService
from app.services.hall_config import HallConfigService
from app.services.hall_rules import HallRulesService
from app.services.halls import HallMissing, hall_to_serve
from app.services.journey import Journey, build_journey
from app.services.kiosk_pairing import KioskPairingService
from app.services.limits import Limits
from app.services.monthly_report import MonthlyReportService
from app.services.ops import OpsCounters
from app.services.principal import Principal
from app.services.queue import QueueService
from app.services.rankings import RankingService
from app.services.repair_times import RepairTimes
from app.services.replay import ReplayService
from app.services.staff_admin import StaffAdminService
from app.services.staffing import StaffingService
from app.services.stand_ins import SimulatedTickets, stand_ins_in
from app.services.ticket_handoff import TicketHandoffService
from app.services.workflow_editor import WorkflowEditorService
from app.settings import Settings, StandIn

T = TypeVar('T')

__all__ = ['HallMissing', 'Runtime', 'Startup', 'build_runtime']  # HallMissing: app/main.py catches it here


@dataclass
class Runtime:
    deps: Deps  # what every service shares (app/services/deps.py), built once here
    hall: Hall
    queue: QueueService
    auth: AuthService
    journey: Journey
    pairing: KioskPairingService  # kiosk screens are paired devices (/admin issues codes, /kiosk/pair redeems)
    accounts: CitizenAccountService  # citizens signed in on the phone by a texted code (/me/login, /api/citizen)
    staff_admin: StaffAdminService  # staff accounts (/admin; python -m app.users builds its own)
    rules: HallRulesService  # the hall rules in force, followed from the bus; /admin changes them
    audit_log: AuditBrowser  # /admin's audit tab and GET /api/admin/audit.csv: browse, check, export
    workflows: WorkflowEditorService  # admins edit service workflows (/admin's workflow tab); next cases run them
    hall_config: HallConfigService  # admins edit services, windows and zones live, export and import them (/admin)
    config_history: ConfigHistory  # every saved configuration version, for /admin
    registry: DeviceRegistryService  # /admin registers, rotates and retires devices while the hall runs
    handoffs: TicketHandoffService  # 跨区通办 of tickets: send from here, apply what other halls sent (HandoffInbox)
    forecast: ForecastService | None = None  # peak forecast, staffing advice, replay (issue 5)
    staffing: StaffingService | None = None
    rankings: RankingService | None = None  # 评价结果公开: the month's satisfaction, cached (/ranking, /manager)
    repair_times: RepairTimes | None = None  # device MTTR per kind against the 30-minute target (/manager)
    replay: ReplayService | None = None
    reports: MonthlyReportService | None = None  # 每月监测报告 and 考核, stored per month (/manager, /report)
    guide: GuideService | None = None  # the public service guide (/guide, /api/services), best times cached per hour
    assistant: AssistantService | None = None  # 智能导服 (/guide, the kiosk, /api/assistant): the root builds it
    ops: OpsCounters = field(default_factory=OpsCounters)  # plumbing counters (bus, device hub) for managers
    stand_ins: frozenset[StandIn] = frozenset()  # what this hall pretends (every page shows 演示模式 while any is on)

    @property
    def settings(self) -> Settings:
        return self.deps.settings

    @property
    def db(self) -> Database:
        return self.deps.db

    @property
    def bus(self) -> Bus:
        if self.deps.bus is None:
            raise RuntimeError('a running app publishes: its Deps were built without a bus')
        return self.deps.bus

    @property
    def cipher(self) -> FieldCipher:
        return self.deps.cipher

    @property
    def limits(self) -> Limits:
        return self.deps.limits

    async def follow_config(self, event: HallConfigChanged) -> None:
        """A saved configuration change (any process): the hall's name and prompts as pages and the forecast
        show them, the guide's best times (computed from windows and services) at their next read, and the
        assistant's index over the catalogue at once."""
        if event.hall_id != self.deps.hall_id:
            return
        async with self.db.read_session() as s:
            hall = await s.get(Hall, self.deps.hall_id)
        if hall is not None:
            self.hall = hall
            if self.forecast is not None:
                self.forecast.prompts = hall.prompts
        if self.guide is not None and self.guide.best_times is not None:
            self.guide.best_times.forget()
        if self.assistant is not None:
            await self.assistant.rebuild()

    @property
    def cases(self) -> CaseService:
        """Cases (办件): the window desk opens them, /review decides their nodes."""
        return self.journey.cases


async def build_runtime(settings: Settings, *, bus: Bus | None = None) -> Runtime:
    db = Database(settings.db_url, audit_key=settings.key(Purpose.AUDIT))  # every session can chain audit rows
    try:
        async with db.session() as s:
            hall = await hall_to_serve(s, settings.hall_code)
    except HallMissing:
        await db.dispose()
        raise
    assert hall.id is not None
    if bus is None:
        key = settings.key(Purpose.BUS)
        bus = (
            RedisBus(settings.redis_url, key=key, stream=hall_stream(hall.code))
            if settings.redis_url
            else InProcessBus()
        )
    await bus.start()
    deps = build_deps(settings, db, bus, hall_id=hall.id)
    if settings.hall_simulation == 'off':  # before the live queue is read: no window stays busy with invented people
        await SimulatedTickets(deps).clear(Principal.system('startup'))
    async with db.read_session() as s:
        stand_ins = await stand_ins_in(s, settings)
    rules = HallRulesService(deps)
    await rules.start()  # the saved rules before any service decides by them
    queue = QueueService(deps)
    await queue.start_live()
    forecast = ForecastService(deps, prompts=hall.prompts)
    journey = build_journey(deps)
    ops = OpsCounters()
    if isinstance(bus, RedisBus):
        ops.add('bus', bus.stats)
    return Runtime(
        deps,
        hall,
        queue,
        AuthService(deps),
        journey,
        KioskPairingService(deps),
        CitizenAccountService(deps, journey.notifications),
        StaffAdminService(deps),
        rules,
        AuditBrowser(deps),
        WorkflowEditorService(deps),
        HallConfigService(deps),
        ConfigHistory(deps),
        DeviceRegistryService(deps),
        TicketHandoffService(deps, queue=queue),
        forecast=forecast,
        staffing=StaffingService(deps, queue, forecast),
        rankings=RankingService(deps),
        repair_times=RepairTimes(deps),
        replay=ReplayService(deps),
        reports=MonthlyReportService(deps),
        guide=GuideService(deps, live=lambda: queue.live, best_times=BestTimes(deps, forecast)),
        ops=ops,
        stand_ins=stand_ins,
    )


class Startup(Generic[T]):
    """What the composition root hands to routes at configure time: start-up opens it with the built parts.

    NiceGUI runs async start-up handlers in the background, so a request that comes early waits in `ready`.
    """

    def __init__(self) -> None:
        self._parts: T | None = None
        self._opened = asyncio.Event()

    def open(self, parts: T) -> None:
        self._parts = parts
        self._opened.set()

    @property
    def is_open(self) -> bool:
        return self._parts is not None

    def close(self) -> None:
        """No request may reach parts that are stopping (or left over from an earlier start)."""
        self._parts = None
        self._opened = asyncio.Event()

    async def ready(self, timeout: float = 60) -> T:
        async with asyncio.timeout(timeout):
            await self._opened.wait()
        if self._parts is None:
            raise RuntimeError('HallTwin is not started')
        return self._parts
