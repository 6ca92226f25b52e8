"""The managers' tab of monthly reports: the kept reports as links to /report/{month}, and "generate last month's
report now". Built when the manager opens the tab; the service checks the manager before listing or writing."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from nicegui import ui

from app.services.errors import DomainError
from app.services.monthly_report import MonthlyReportService
from components import report_texts  # noqa: F401 - registers the texts
from components.staffing_panel import ActionSession
from components.testids import tid
from components.texts import error_text, t


async def report_list(reports: MonthlyReportService | None, session: ActionSession, tz: ZoneInfo) -> None:
    """Render the list and the button into the current container (the manager page puts it in a tab)."""
    principal = await session.recheck()
    if principal is None or reports is None:
        ui.label(t('manager.panel_failed')).classes('text-grey-7')
        return

    @ui.refreshable
    async def kept() -> None:
        caller = await session.recheck()
        if caller is None:
            return
        months = await reports.stored_months(caller)
        if not months:
            ui.label(t('report.none_kept')).classes('text-sm text-grey-7')
        with tid(ui.column(), 'report-links').classes('gap-1'):
            for stored in months:
                with ui.row().classes('items-baseline gap-3'):
                    ui.link(stored.label, f'/report/{stored.label}').classes('text-base')
                    at = stored.generated_at.astimezone(tz).strftime('%Y-%m-%d %H:%M')
                    ui.label(t('report.generated', at=at, by=stored.generated_by)).classes('text-xs text-grey-7')

    async def generate() -> None:
        caller = await session.recheck()
        if caller is None:
            return
        button.disable()
        try:
            month = await reports.generate_last_month(caller)
        except DomainError as error:
            ui.notify(error_text(error), type='negative')
            return
        finally:
            button.enable()
        ui.notify(t('report.generated_now', month=month.strftime('%Y-%m')), type='positive')
        kept.refresh()

    with ui.row().classes('w-full items-center gap-3'):
        ui.label(t('report.kept')).classes('text-base font-bold')
        button = tid(ui.button(t('report.generate'), on_click=generate), 'report-generate').props(
            'outline icon=summarize'
        )
    await kept()
