"""`/manager`: the hall manager's dashboard: KPIs, the live floor map, alerts, today's charts.

Managers (and admins) only. Everything on it is pushed: the floor map by the process's patcher,
KPI tiles by bindings to the feed's KpiTwin, the alert list and charts by feed events, all
subscribed inside this page so they end with it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import Request
from fastapi.responses import Response
from nicegui import ui
from nicegui.events import ValueChangeEventArguments

from app.api.callers import address_of
from app.models.people import Role
from app.services.errors import DomainError
from components import manager_texts  # noqa: F401 - registers the texts
from components.alert_list import alert_list
from components.floor_detail import DetailPanel
from components.floor_map import floor_map, legend
from components.forecast_chart import forecast_chart
from components.frame import frame
from components.handoff_notice import follow_sent_handoffs
from components.kpi_tiles import kpi_tiles
from components.manager_charts import manager_charts
from components.manager_results import results_panel
from components.replay_panel import replay_panel
from components.report_list import report_list
from components.staffing_panel import staffing_panel
from components.testids import tid
from components.texts import error_text, register, t
from components.visit_desk import visit_desk
from components.visit_queue import visit_queue
from pages.guard import StaffSession
from pages.parts import Parts, Started

log = logging.getLogger(__name__)

PANEL_TITLES = (
    'manager.staffing',
    'manager.results',
    'manager.forecast',
    'manager.replay',
    'manager.reports',
    'manager.visits',
)

register(
    {
        'manager.staffing': ('排班建议', 'Staffing advice'),
        'manager.results': ('评价与设备', 'Ratings and devices'),
        'manager.forecast': ('客流预测', 'Peak forecast'),
        'manager.replay': ('回放', 'Replay'),
        'manager.visits': ('上门服务', 'Home visits'),
        'manager.entrance_code': ('入口签到码', 'Entrance check-in code'),
        'manager.forbidden': ('只有大厅管理人员可以操作', 'Only hall managers may do this'),
        'manager.more_hint': ('选择一项打开（打开时才加载）', 'Pick one to open it (loaded when opened)'),
        'manager.panel_failed': ('该模块暂时无法显示，请稍后再试', 'This panel cannot be shown right now'),
    }
)


async def manager_page(started: Started, request: Request) -> Response | None:
    parts = await started.ready()
    session = await parts.guard.require(request, Role.MANAGER)
    if isinstance(session, Response):
        return session
    rt = parts.runtime
    feed = parts.hall_feed
    tz = rt.settings.tz
    address = address_of(request, rt.settings.trusted_proxies)

    async def acknowledge(alert_id: int) -> None:
        principal = await session.recheck()
        if principal is None:
            return
        if not principal.has_role(Role.MANAGER):
            ui.notify(t('manager.forbidden'), type='negative')
            return
        try:
            await parts.alerts.acknowledge(alert_id, actor=principal.name, role=principal.role, client_address=address)
        except DomainError as error:
            ui.notify(error_text(error), type='warning')

    panel = DetailPanel(feed, rt.db, tz)
    with frame(t('manager.title'), hall_name=rt.hall.name, stand_ins=rt.stand_ins):
        kpi_tiles(feed.kpi)
        with ui.row().classes('w-full gap-3 no-wrap items-start'):
            with tid(ui.card(), 'map-card').classes('grow min-w-0 p-2 gap-1'):
                floor_map(parts.patcher, on_select=panel.show)
                with ui.row().classes('w-full items-center justify-between gap-2'):
                    legend()
                    ui.label(t('manager.map_hint')).classes('text-xs text-grey-8')
                    link = tid(ui.link(t('manager.entrance_code'), '/entrance', new_tab=True), 'entrance-link')
                    link.classes('text-xs')
            with ui.column().classes('w-80 shrink-0 gap-3'):
                with ui.card().classes('w-full p-3 gap-2 max-h-[calc(100vh-190px)] min-h-[20rem]'):
                    alert_list(feed, on_ack=acknowledge, tz=tz)
                with tid(ui.card(), 'visit-queue-card').classes('w-full p-3 gap-2'):
                    visit_queue(feed, tz=tz)
        with ui.card().classes('w-full p-3 gap-2'):
            ui.label(t('manager.charts')).classes('text-lg font-bold')
            manager_charts(feed, today=parts.today_forecast, tz=tz)
        _planning_panels(parts, session)
    follow_sent_handoffs(parts.journey_feed, session.principal.name)  # a manager's API send answered "pending"


def _planning_panels(parts: Parts, session: StaffSession) -> None:
    """Staffing advice, ratings and device repair times, the peak forecast and the replay, one tab each, built only
    when a manager opens the tab (most page views, e.g. a wall display, never do: the live parts above stay light)."""
    rt = parts.runtime
    renderers: dict[str, Callable[[], Awaitable[None]]] = {
        'manager.staffing': lambda: staffing_panel(rt.staffing, session, rt.settings.tz),
        'manager.results': lambda: results_panel(rt.rankings, rt.repair_times, session, rt.settings.tz),
        'manager.forecast': lambda: forecast_chart(rt.forecast, rt.queue.live),
        'manager.replay': lambda: replay_panel(rt.replay, rt.settings.tz),
        'manager.reports': lambda: report_list(rt.reports, session, rt.settings.tz),
        'manager.visits': lambda: visit_desk(rt.journey.visits, session, rt.settings.tz, overview=rt.queue.overview),
    }
    with tid(ui.card(), 'planning').classes('w-full p-3 gap-1'):
        ui.label(t('manager.more')).classes('text-lg font-bold')
        with ui.tabs().classes('w-full').props('align=left') as tabs:
            for title in PANEL_TITLES:
                tid(ui.tab(title, label=t(title)), f'tab-{title.removeprefix("manager.")}')
        hint = ui.label(t('manager.more_hint')).classes('text-sm text-grey-7')
        with ui.tab_panels(tabs).classes('w-full'):
            panels = {title: ui.tab_panel(title) for title in PANEL_TITLES}
    built: set[str] = set()

    async def open_tab(event: ValueChangeEventArguments) -> None:
        title = str(event.value or '')
        hint.set_visibility(False)
        if title not in renderers or title in built:
            return
        built.add(title)
        with panels[title]:
            try:
                await renderers[title]()
            except Exception:
                log.exception('manager panel %s failed', title)
                ui.label(t('manager.panel_failed')).classes('text-negative text-sm')

    tabs.on_value_change(open_tab)
