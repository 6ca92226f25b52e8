"""The composition root: the one place that wires NiceGUI, the API, services, twin and devices."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from nicegui import app, ui

import pages
from app import gc_policy, jobs, runtime
from app.api import citizen, kiosk_pairing, web_session
from app.api import lane as api_lane
from app.api.docs import install_docs
from app.api.errors import install_error_handlers
from app.api.limits import BodySizeLimit
from app.api.ops import router as ops_router
from app.api.routes import router
from app.bus_redis import RedisBus
from app.db import sqlite_decision
from app.events import (
    CaseStepChanged,
    HallConfigChanged,
    HandoffApplied,
    ProxyChanged,
    TicketEventBase,
    TicketHandedOff,
)
from app.handoff_inbox import HandoffInbox
from app.migrate import upgrade_async
from app.preflight import preflight
from app.runtime import Startup
from app.security.headers import SecurityHeaders
from app.security.keys import Purpose
from app.security.masking import install_log_masking
from app.services.alerts import AlertService
from app.services.assistant import AssistantService
from app.services.audit import AuditLog
from app.services.call_board import board_scope
from app.services.city_overview import CityOverviewService
from app.services.eta_refresh import EtaRefresher
from app.services.forecast_today import TodayForecast
from app.services.storage_watch import MB, StorageWatch, database_folder
from app.settings import get_settings
from app.version import version
from components.map_patch import MapPatcher
from devices.lifecycle import Devices
from devices.protocol import MAX_MESSAGE_BYTES
from devices.sim import hall_traffic
from pages import hardening
from pages.guard import Guard
from pages.parts import Parts
from pages.session_watch import SessionWatch
from pages.startup_gate import StartupGate
from seed.schema import read_vocabulary
from twin import live
from twin.board_feed import CALL_EVENTS, BoardFeed
from twin.case_feed import CaseFeed
from twin.citizen_live import CitizenLive
from twin.city import CityBoard
from twin.device_feed import DeviceFeed
from twin.grant_watch import GrantWatch
from twin.hall_watch import HallWatches
from twin.journey_feed import JourneyFeed
from twin.live import LiveHall
from twin.staff_feed import StaffFeed
from twin.ticket_feed import TicketFeed

log = logging.getLogger('halltwin')


Stop = Callable[[], Awaitable[object]]


class Root:
    """One app's parts from start-up to shutdown (a test process configures many apps, each with its own root).

    Routes get the start-up handles at configure time (`pages` the Parts, the API the Runtime); start-up builds
    each part with what it uses, pushes its stop on `stops`, then opens the handles. Shutdown closes them first
    and runs the stops in reverse order.
    """

    def __init__(self) -> None:
        self.devices = Devices()  # its hub is mounted at configure time, its drivers start with the rest
        self.started: Startup[Parts] = Startup()
        self.runtime: Startup[runtime.Runtime] = Startup()
        self.stops: list[Stop] = []

    async def startup(self) -> None:
        settings = get_settings()
        try:
            await upgrade_async(settings.db_url)
            rt = await runtime.build_runtime(settings)
        except runtime.HallMissing as error:  # preflight stops a served app earlier; this is NiceGUI's test harness
            log.error('%s', error)
            app.shutdown()
            return
        self.stops += [rt.db.dispose, rt.limits.close, rt.bus.stop, rt.rules.stop]
        if rt.rankings is not None:
            rt.rankings.attach()
            self.stops.append(rt.rankings.detach)
        rt.db.start_checkpoints()
        if rt.db.is_sqlite:
            log.info('%s', sqlite_decision())
        hall = await live.start(rt.queue, rt.bus)
        self.stops.append(hall.stop)
        refresher = EtaRefresher(hall.twin.live)  # the look-ahead recomputed off the request path, coalesced
        refresher.start()
        self.stops.append(refresher.stop)
        _resync_when_bus_is_back(rt, hall)
        if rt.guide is not None:  # the assistant's index, once per process; rebuilt by rt.follow_config
            rt.assistant = AssistantService(rt.deps, guide=rt.guide, vocabulary=read_vocabulary(settings.hall_seed))
            rt.assistant.start()
            self.stops.append(rt.assistant.stop)
        self.stops.append(_follow_config(rt))
        alerts = AlertService(rt.deps, live=rt.queue.live)
        await alerts.start()
        self.stops.append(alerts.stop)
        storage = StorageWatch(
            rt.db,
            alerts,
            path=database_folder(settings.db_url, settings.var_dir),
            min_free_bytes=settings.disk_min_free_mb * MB,
            period=settings.disk_check_seconds,
        )
        await storage.start()
        self.stops.append(storage.stop)
        device_feed = DeviceFeed()
        device_feed.attach(rt.bus)
        self.stops.append(_async(lambda: device_feed.detach(rt.bus)))
        boards, stop_boards = _boards(rt, hall)
        self.stops.append(stop_boards)
        journey_feed = JourneyFeed()
        journey_feed.attach(rt.bus)
        self.stops.append(_async(lambda: journey_feed.detach(rt.bus)))
        ticket_feed, stop_tickets = _followed_tickets(rt)
        self.stops.append(stop_tickets)
        citizen_live = CitizenLive(
            rt.journey.home.today,
            rt.accounts.ended,
            ticket_feed,
            tz=settings.tz,
            english=settings.lang == 'en',
            period=settings.session_check_seconds,
        )
        await citizen_live.start(rt.bus)
        self.stops.append(lambda: citizen_live.stop(rt.bus))
        grant_watch, stop_grants = _watched_grants(rt)
        self.stops.append(stop_grants)
        case_feed, stop_cases = _followed_cases(rt)
        self.stops.append(stop_cases)
        staff_feed = StaffFeed()
        staff_feed.attach(rt.bus)
        self.stops.append(_async(lambda: staff_feed.detach(rt.bus)))
        sessions = SessionWatch(rt.auth, rt.bus, period=settings.session_check_seconds)
        await sessions.start()
        self.stops.append(sessions.stop)
        kiosk_devices = await self.devices.start(rt.deps, rt.bus, ops=rt.ops, evaluations=rt.journey.evaluations)
        self.stops.append(self.devices.stop)
        inbox = HandoffInbox(rt.handoffs)
        await inbox.start()
        self.stops.append(inbox.stop)
        city = CityBoard(CityOverviewService(rt.deps))
        await city.start()
        self.stops.append(city.stop)
        city_halls = HallWatches(
            rt.deps, own=hall.twin, redis_url=settings.redis_url, bus_key=settings.key(Purpose.BUS)
        )
        self.stops.append(city_halls.stop)
        best_times = rt.guide.best_times if rt.guide else None
        self.stops.append((await jobs.start(rt.journey, rt.queue, rt.hall.code, best_times)).stop)
        if settings.hall_simulation == 'on' and rt.forecast is not None:
            simulator = await hall_traffic.start_demo(rt.queue, rt.forecast, settings)
            self.stops.append(simulator.stop)
        self.started.open(
            Parts(
                runtime=rt,
                alerts=alerts,
                kiosk_devices=kiosk_devices,
                twin=hall.twin,
                hall_feed=hall.feed,
                device_feed=device_feed,
                boards=boards,
                journey_feed=journey_feed,
                ticket_feed=ticket_feed,
                citizen_live=citizen_live,
                case_feed=case_feed,
                grant_watch=grant_watch,
                staff_feed=staff_feed,
                patcher=MapPatcher(hall.feed),
                today_forecast=TodayForecast(rt.forecast) if rt.forecast is not None else None,
                guard=Guard(rt.auth, AuditLog(rt.deps), settings, sessions),
                city=city,
                city_halls=city_halls,
            )
        )
        self.runtime.open(rt)
        if not os.environ.get('NICEGUI_USER_SIMULATION'):  # a test process starts many apps: freeze only a real one
            gc.freeze()  # the start-up heap is long-lived: keep it out of full collections (device hub p99)
        log.info('HallTwin %s started for %s on %s', version(), rt.hall.name, settings.db_url.split('://')[0])
        if rt.stand_ins:
            log.warning('demo stand-ins on (pages show 演示模式): %s', ', '.join(sorted(rt.stand_ins)))

    async def shutdown(self) -> None:
        """Stop everything in reverse order, each step on its own: one failing step must not leave the rest running."""
        self.runtime.close()  # first: no request may reach parts that are stopping
        self.started.close()
        while self.stops:
            try:
                await self.stops.pop()()
            except Exception:
                log.exception('shutdown step failed')


def _resync_when_bus_is_back(rt: runtime.Runtime, hall: LiveHall) -> None:
    """After a Redis outage, re-read the live queues from the database: events another process held while Redis
    was away could have died with that process, and the database has every ticket."""
    if not isinstance(rt.bus, RedisBus):
        return
    running: set[asyncio.Task[None]] = set()

    async def resync() -> None:
        try:
            await rt.queue.resync_live()
            log.info('live queues re-read from the database after the bus came back')
        except Exception:
            log.exception('resync after the bus came back failed')

    def schedule() -> None:
        task = asyncio.get_running_loop().create_task(resync(), name='bus.resync')
        running.add(task)
        task.add_done_callback(running.discard)

    rt.bus.when_back(schedule)


def _followed_tickets(rt: runtime.Runtime) -> tuple[TicketFeed, Stop]:
    """The followed tickets' shared status texts for /track's live part, fed by ticket events from the bus."""
    tickets = TicketFeed(rt.queue, handoffs=rt.handoffs)
    moved = rt.bus.subscribe(tickets.on_ticket, TicketEventBase, name='followed-tickets')
    sent = rt.bus.subscribe(tickets.on_handoff, TicketHandedOff, HandoffApplied, name='followed-handoffs')

    def stop() -> None:
        rt.bus.unsubscribe(moved)
        rt.bus.unsubscribe(sent)
        tickets.stop()

    return tickets, _async(stop)


def _watched_grants(rt: runtime.Runtime) -> tuple[GrantWatch, Stop]:
    """The grants relatives' light pages listen under, told by the bus when one ends (in any process)."""
    grants = GrantWatch(rt.journey.proxy.clock)
    ended = rt.bus.subscribe(grants.on_proxy, ProxyChanged, name='watched-grants')

    def stop() -> None:
        rt.bus.unsubscribe(ended)
        grants.stop()

    return grants, _async(stop)


def _followed_cases(rt: runtime.Runtime) -> tuple[CaseFeed, Stop]:
    """The cases relatives' light pages follow, read again when a step happens or a material is confirmed (in any
    process)."""
    settings = rt.settings
    cases = CaseFeed(rt.journey.cases, tz=settings.tz, english=settings.lang == 'en')
    moved = rt.bus.subscribe(cases.on_event, CaseStepChanged, ProxyChanged, name='followed-cases')

    async def stop() -> None:
        rt.bus.unsubscribe(moved)
        await cases.stop()

    return cases, stop


def _boards(rt: runtime.Runtime, hall: LiveHall) -> tuple[BoardFeed, Stop]:
    """The call boards' shared texts (one feed however many boards are open): calls from the bus (recalls too),
    counts from the twin, scopes re-read when the hall's configuration changes; returns the feed and its stop."""
    boards = BoardFeed(hall.twin, lambda zone: board_scope(rt.db, rt.hall.id or 0, zone))
    calls = rt.bus.subscribe(boards.on_call, *CALL_EVENTS, name='call-boards')
    config = rt.bus.subscribe(boards.reconfigure, HallConfigChanged, name='call-boards-config')
    hall.twin.updated.subscribe(boards.on_update, unsubscribe_on_delete=False)

    def stop() -> None:
        rt.bus.unsubscribe(calls)
        rt.bus.unsubscribe(config)
        hall.twin.updated.unsubscribe(boards.on_update)
        boards.stop()

    return boards, _async(stop)


def _follow_config(rt: runtime.Runtime) -> Stop:
    """Hall-wide parts the runtime holds follow HallConfigChanged from any process; returns the unsubscribe."""
    subscription = rt.bus.subscribe(rt.follow_config, HallConfigChanged, name='runtime-config')
    return _async(lambda: rt.bus.unsubscribe(subscription))


def _async(action: Callable[[], object]) -> Stop:
    async def run() -> object:
        return action()

    return run


def configure() -> None:
    """Register middleware, API, pages and lifecycle hooks on NiceGUI's app."""
    settings = get_settings()
    root = Root()
    app.add_middleware(StartupGate, started=root.started)  # innermost: a page's start-up wait is before its timer
    app.add_middleware(hardening.UploadGuard, secret=_session_secret())  # the last added runs first
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, limit_for=hardening.route_body_limit)
    app.add_middleware(SecurityHeaders)
    lane = api_lane.Lane()
    app.add_middleware(api_lane.rejoin, lane=lane)  # the API's requests skip NiceGUI's page layers (app/api/lane.py)
    api_lane.install(app, lane)
    install_error_handlers(app, settings.lang)
    for api in (router, web_session.router, ops_router, kiosk_pairing.router, citizen.web_router):
        _include(api)
    install_docs(app, router)
    name_loading_bar(settings.lang)
    app.state.halltwin = root  # Starlette's per-app state: tests and diagnostics reach the running parts here
    app.state.runtime = root.runtime  # what the API's dependencies await (app/api/deps.py)
    root.devices.mount(app, settings)
    pages.register(root.started)
    hardening.install(settings.allowed_origins, _session_secret())
    app.on_startup(root.startup)
    app.on_shutdown(root.shutdown)


LOADING_BAR_NAMES = {'zh-CN': '正在加载', 'en': 'Loading'}


def name_loading_bar(lang: str) -> None:
    """Quasar's request progress bar is a progressbar without a name; screen readers (and axe) need one."""
    app.config.quasar_config.setdefault('loadingBar', {})['aria-label'] = LOADING_BAR_NAMES.get(lang, 'Loading')


def _include(api: APIRouter) -> None:
    """Add a router's routes without wrapping the app's lifespan in the router's (empty) one: FastAPI nests the
    lifespan once per include, and NiceGUI's test harness configures the same app for every test, so the nesting
    grew with each test until the start-up overflowed the stack."""
    if api.on_startup or api.on_shutdown:
        raise ValueError('an API router with start-up or shut-down handlers: start them from the root instead')
    lifespan = app.router.lifespan_context
    app.include_router(api)
    app.router.lifespan_context = lifespan


def _session_secret() -> str:
    """NiceGUI signs its browser-session cookie with the session key, never with SECRET_KEY itself."""
    return get_settings().key(Purpose.SESSION_SIGNING).hex()


def run() -> None:
    settings = get_settings()
    if not os.environ.get('NICEGUI_USER_SIMULATION'):  # NiceGUI's test harness serves nothing: it binds no port
        preflight(settings)  # a bad setting stops here with one line on stderr (before logging, before "ready")
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    for name in (None, 'uvicorn.error', 'uvicorn.access'):
        install_log_masking(name)
    log.info('HallTwin %s checked its settings (HALL_PROFILE=%s); starting', version(), settings.hall_profile)
    configure()
    collector = gc_policy.install()  # full collections only in batches of closed pages, or every 10 min (why: there)
    app.on_delete(collector.page_left)
    app.timer(gc_policy.TICK_SECONDS, collector.tick)
    ui.run(
        host=settings.host,
        port=settings.port,
        title='HallTwin 政务服务大厅',
        language='zh-CN' if settings.lang == 'zh-CN' else 'en-US',
        storage_secret=_session_secret(),
        show=False,
        reload=False,
        favicon='🏛️',
        proxy_headers=False,  # the peer stays the peer: only TRUSTED_PROXIES may speak for a client (app/security)
        ws_max_size=MAX_MESSAGE_BYTES,  # uvicorn refuses bigger websocket frames (1009) before any handler reads them
        # no permessage-deflate: a compression context per socket compresses the call board's one shared text once
        # per board again (~70 us each here, most of a call's cost at 5,000 boards; bench/public_pages.py)
        ws_per_message_deflate=False,
    )
