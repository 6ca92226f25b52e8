"""The composition root: the one place that wires NiceGUI, the API, services, twin and devices."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from collections.abc import Awaitable, Callable

from nicegui import app, ui

import pages
from app import gc_policy, jobs, runtime
from app.api import kiosk_pairing, web_session
from app.api.docs import install_docs
from app.api.errors import install_error_handlers
from app.api.limits import BodySizeLimit
from app.api.ops import router as ops_router
from app.api.routes import router
from app.bus_redis import RedisBus
from app.db import sqlite_decision
from app.migrate import upgrade_async
from app.security.headers import SecurityHeaders
from app.security.keys import Purpose
from app.security.masking import install_log_masking
from app.services import hall_sim
from app.services.alerts import AlertService
from app.services.storage_watch import MB, StorageWatch, database_folder
from app.settings import get_settings
from devices.lifecycle import Devices
from devices.protocol import MAX_MESSAGE_BYTES
from pages import hardening, session_watch
from twin import device_feed, journey_feed, live

log = logging.getLogger('halltwin')


Stop = Callable[[], Awaitable[object]]


class Root:
    """One app's parts from start-up to shutdown (a test process configures many apps, each with its own root).

    Each part is started with what it uses and its stop is pushed on `stops`: shutdown runs them in reverse order.
    """

    def __init__(self) -> None:
        self.devices = Devices()  # its hub is mounted at configure time, its drivers start with the rest
        self.stops: list[Stop] = []

    async def startup(self) -> None:
        settings = get_settings()
        runtime.install(None)  # no request may reach a runtime left over from an earlier start
        try:
            await upgrade_async(settings.db_url)
            rt = await runtime.build_runtime(settings)
        except runtime.HallMissing as error:
            log.error('%s', error)
            app.shutdown()
            return
        self.stops += [rt.db.dispose, rt.limits.close, rt.bus.stop]
        runtime.install(rt)
        rt.db.start_checkpoints()
        if rt.db.is_sqlite:
            log.info('%s', sqlite_decision())
        await live.start(rt.queue, rt.bus)
        self.stops.append(lambda: live.stop(rt.bus))
        _resync_when_bus_is_back(rt)
        rt.alerts = AlertService(rt.db, rt.bus, hall_id=rt.hall.id or 0, live=rt.queue.live, tz=settings.tz)
        await rt.alerts.start()
        self.stops.append(rt.alerts.stop)
        rt.storage = StorageWatch(
            rt.db,
            rt.alerts,
            path=database_folder(settings.db_url, settings.var_dir),
            min_free_bytes=settings.disk_min_free_mb * MB,
            period=settings.disk_check_seconds,
        )
        await rt.storage.start()
        self.stops.append(rt.storage.stop)
        device_feed.start(rt.bus)
        self.stops.append(_async(lambda: device_feed.stop(rt.bus)))
        journey_feed.start(rt.bus)
        self.stops.append(_async(lambda: journey_feed.stop(rt.bus)))
        await session_watch.start(rt.auth, rt.bus, period=settings.session_check_seconds)
        self.stops.append(session_watch.stop)
        await self.devices.start(rt)
        self.stops.append(self.devices.stop)
        self.stops.append((await jobs.start(rt)).stop)
        if settings.hall_simulation == 'on' and rt.forecast is not None:
            rt.simulator = await hall_sim.start_demo(rt.queue, rt.forecast, settings)
            self.stops.append(rt.simulator.stop)
        runtime.mark_ready()
        if not os.environ.get('NICEGUI_USER_SIMULATION'):  # a test process starts many apps: freeze only a real one
            gc.freeze()  # the start-up heap is long-lived: keep it out of full collections (device hub p99)
        log.info('HallTwin started for %s on %s', rt.hall.name, settings.db_url.split('://')[0])

    async def shutdown(self) -> None:
        """Stop everything in reverse order, each step on its own: one failing step must not leave the rest running."""
        runtime.install(None)  # first: no request may reach a runtime that is stopping
        while self.stops:
            try:
                await self.stops.pop()()
            except Exception:
                log.exception('shutdown step failed')


def _resync_when_bus_is_back(rt: runtime.Runtime) -> None:
    """After a Redis outage, re-read the live queues from the database: events another process held while Redis
    was away could have died with that process, and the database has every ticket."""
    if not isinstance(rt.bus, RedisBus):
        return
    running: set[asyncio.Task[None]] = set()

    async def resync() -> None:
        try:
            await rt.queue.resync_live()
            live.current().live.resync(await rt.queue.load_live())
            log.info('live queues re-read from the database after the bus came back')
        except Exception:
            log.exception('resync after the bus came back failed')

    def schedule() -> None:
        task = asyncio.get_running_loop().create_task(resync(), name='bus.resync')
        running.add(task)
        task.add_done_callback(running.discard)

    rt.bus.when_back(schedule)


def _async(action: Callable[[], object]) -> Stop:
    async def run() -> object:
        return action()

    return run


def configure() -> None:
    """Register middleware, API, pages and lifecycle hooks on NiceGUI's app."""
    settings = get_settings()
    app.add_middleware(hardening.UploadGuard, secret=_session_secret())  # the last added runs first
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, limit_for=hardening.route_body_limit)
    app.add_middleware(SecurityHeaders)
    install_error_handlers(app)
    app.include_router(router)
    install_docs(app, router)
    app.include_router(web_session.router)
    app.include_router(ops_router)
    app.include_router(kiosk_pairing.router)
    root = Root()
    app.state.halltwin = root  # Starlette's per-app state: tests and diagnostics reach the running parts here
    root.devices.mount(app, settings)
    pages.register()
    hardening.install(settings.allowed_origins, _session_secret())
    app.on_startup(root.startup)
    app.on_shutdown(root.shutdown)


def _session_secret() -> str:
    """NiceGUI signs its browser-session cookie with the session key, never with SECRET_KEY itself."""
    return get_settings().key(Purpose.SESSION_SIGNING).hex()


def run() -> None:
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    for name in (None, 'uvicorn.error', 'uvicorn.access'):
        install_log_masking(name)
    settings = get_settings()
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
    )
