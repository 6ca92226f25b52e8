"""The composition root: the one place that wires NiceGUI, the API, services, twin and devices."""

from __future__ import annotations

import logging

from nicegui import app, ui

import pages
from app import runtime
from app.api import web_session
from app.api.docs import install_docs
from app.api.errors import install_error_handlers
from app.api.limits import BodySizeLimit
from app.api.routes import router
from app.migrate import upgrade_async
from app.security.headers import SecurityHeaders
from app.security.masking import install_log_masking
from app.settings import get_settings
from pages import hardening
from twin import live

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
    twin = await live.build(rt.queue)
    twin.attach(rt.bus)
    live.install(twin)
    runtime.mark_ready()
    log.info('HallTwin started for %s on %s', rt.hall.name, settings.db_url.split('://')[0])


async def _shutdown() -> None:
    try:
        rt = runtime.current()
    except RuntimeError:
        return
    live.current().detach(rt.bus)
    await rt.bus.stop()
    await rt.db.dispose()
    live.install(None)
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
