"""The composition root: the one place that wires NiceGUI, the API, services, twin and devices."""

from __future__ import annotations

import gc
import logging

from nicegui import app, ui

import pages
from app import jobs, runtime
from app.api import web_session
from app.api.docs import install_docs
from app.api.errors import install_error_handlers
from app.api.limits import BodySizeLimit
from app.api.routes import router
from app.migrate import upgrade_async
from app.security.headers import SecurityHeaders
from app.security.masking import install_log_masking
from app.services import hall_sim
from app.services.alerts import AlertService
from app.settings import get_settings
from devices import lifecycle as devices
from pages import hardening
from twin import device_feed, live

log = logging.getLogger('halltwin')


async def _startup() -> None:
    settings = get_settings()
    try:
        await upgrade_async(settings.db_url)
        rt = await runtime.build_runtime(settings)
    except runtime.HallMissing as error:
        log.error('%s', error)
        app.shutdown()
        return
    runtime.install(rt)
    await live.start(rt.queue, rt.bus)
    rt.alerts = AlertService(rt.db, rt.bus, hall_id=rt.hall.id or 0, live=rt.queue.live, tz=settings.tz)
    await rt.alerts.start()
    device_feed.start(rt.bus)
    await devices.start(rt)
    await jobs.start(rt)
    if settings.hall_simulation == 'on' and rt.forecast is not None:
        rt.simulator = await hall_sim.start_demo(rt.queue, rt.forecast, settings)
    runtime.mark_ready()
    gc.freeze()  # the start-up heap is long-lived: keep it out of full collections (device hub p99)
    log.info('HallTwin started for %s on %s', rt.hall.name, settings.db_url.split('://')[0])


async def _shutdown() -> None:
    try:
        rt = runtime.current()
    except RuntimeError:
        return
    if rt.simulator is not None:
        await rt.simulator.stop()
    await jobs.stop()
    await devices.stop()
    device_feed.stop(rt.bus)
    if rt.alerts is not None:
        await rt.alerts.stop()
    await live.stop(rt.bus)
    await rt.bus.stop()
    await rt.db.dispose()
    runtime.install(None)


def configure() -> None:
    """Register middleware, API, pages and lifecycle hooks on NiceGUI's app."""
    settings = get_settings()
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    install_error_handlers(app)
    app.include_router(router)
    install_docs(app, router)
    app.include_router(web_session.router)
    devices.mount(app)
    pages.register()
    hardening.install(settings.allowed_origins, settings.secret.decode())
    app.on_startup(_startup)
    app.on_shutdown(_shutdown)


def run() -> None:
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    for name in (None, 'uvicorn.error', 'uvicorn.access'):
        install_log_masking(name)
    settings = get_settings()
    configure()
    # Pushed pages keep each message a few seconds (history for reconnects): with the default thresholds those
    # buffers reach the oldest generation and full collections of a heap with hundreds of open pages stall the
    # loop for 0.5-2 s. Fewer, larger young collections let them die young (bench/twin_clients.py: p99 920 -> 280 ms).
    gc.set_threshold(50_000, 20, 10)
    ui.run(
        host=settings.host,
        port=settings.port,
        title='HallTwin 政务服务大厅',
        language='zh-CN' if settings.lang == 'zh-CN' else 'en-US',
        storage_secret=settings.secret.decode(),
        show=False,
        reload=False,
        favicon='🏛️',
    )
