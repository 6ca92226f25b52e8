"""The managers' tab of results: this month's satisfaction rankings (with staff) and device MTTR per kind.

Built when the manager opens the tab; the rankings come from the shared monthly cache (app/services/
rankings.py), the MTTR from the stored device health history, today and this month.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from nicegui import ui

from app.services.rankings import RankingService
from app.services.repair_times import RepairTimes
from components.results_tables import month_label, mttr_table, mttr_target_minutes, ranking_body
from components.staffing_panel import ActionSession
from components.testids import tid
from components.texts import t


async def results_panel(
    rankings: RankingService | None, repair_times: RepairTimes | None, session: ActionSession, tz: ZoneInfo
) -> None:
    """Render the rankings and MTTR into the current container (the manager page puts it in a tab)."""
    principal = await session.recheck()
    if principal is None or rankings is None or repair_times is None:
        ui.label(t('manager.panel_failed')).classes('text-grey-7')
        return
    month = rankings.month(None)
    ranking = await rankings.for_manager(principal, month)
    with ui.row().classes('w-full items-center gap-3'):
        ui.label(f'{t("results.title")} · {month_label(month)}').classes('text-base font-bold')
        tid(ui.link(t('results.public_link'), '/ranking', new_tab=True), 'ranking-public-link').classes('text-xs')
    ranking_body(ranking)
    now = rankings.clock().astimezone(tz)
    day = dt.datetime.combine(now.date(), dt.time(), tzinfo=tz)
    first = day.replace(day=1)
    today = await repair_times.by_kind(principal, since=day.astimezone(dt.UTC), until=now.astimezone(dt.UTC))
    this_month = await repair_times.by_kind(principal, since=first.astimezone(dt.UTC), until=now.astimezone(dt.UTC))
    ui.label(t('mttr.title', target=mttr_target_minutes())).classes('text-base font-bold mt-2')
    with ui.row().classes('w-full gap-6 items-start'):
        mttr_table(t('mttr.today'), today, 'today')
        mttr_table(t('mttr.month'), this_month, 'month')
