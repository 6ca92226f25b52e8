"""The monthly report on screen: the hall's indicators with change and limits, the anomalies, the 考核 charts and
tables, then every department, window and staff figure. Drawn once from the stored figures (nothing live)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nicegui import ui

from app.services.report_indicators import BY_CODE, change_shown, shown
from components import report_texts  # noqa: F401 - registers the texts
from components.report_charts import case_time_figure, satisfaction_figure, scores_figure
from components.testids import tid
from components.texts import in_english, t

SCOPE_TITLES = {'department': 'report.departments', 'window': 'report.windows', 'staff': 'report.staff'}


def label(code: str) -> str:
    indicator = BY_CODE[code]
    return indicator.label_en if in_english() else indicator.label


def _limits(code: str, figure: Mapping[str, Any]) -> str:
    limits = figure.get('limits')
    return '—' if not limits else f'{shown(code, limits["low"])} – {shown(code, limits["high"])}'


def figures_table(row: Mapping[str, Any], name: str) -> None:
    """One row's figures: indicator, value, change, limits; an anomaly in red."""
    with tid(ui.grid(columns='minmax(0,2fr) minmax(0,1fr) minmax(0,1fr) minmax(0,1.4fr)'), name).classes(
        'w-full gap-x-2 gap-y-1 items-center'
    ):
        for key in ('report.indicator', 'report.value', 'report.change', 'report.limits'):
            ui.label(t(key)).classes('text-xs text-grey-7 font-bold')
        for code, figure in row['figures'].items():
            colour = 'text-negative font-bold' if figure.get('anomaly') else ''
            ui.label(label(code)).classes('text-sm')
            ui.label(shown(code, figure['value'])).classes(f'text-sm {colour}')
            ui.label(change_shown(code, figure.get('change'))).classes('text-sm')
            ui.label(_limits(code, figure)).classes('text-xs text-grey-7')


def _anomalies(anomalies: Sequence[Mapping[str, Any]]) -> None:
    ui.label(t('report.anomalies')).classes('text-base font-bold')
    with tid(ui.column(), 'report-anomalies').classes('gap-1'):
        if not anomalies:
            ui.label(t('report.no_anomalies')).classes('text-sm text-grey-7')
        for item in anomalies:
            code = item['indicator']
            text = t(
                'report.anomaly_line',
                scope=t(f'report.scope.{item["scope"]}'),
                name=item['name'],
                indicator=label(code),
                value=shown(code, item['value']),
                low=shown(code, item['low']),
                high=shown(code, item['high']),
            )
            ui.label(text).classes('text-sm text-negative')


def _score_table(title: str, table: Sequence[Mapping[str, Any]], name: str) -> None:
    with tid(ui.column(), name).classes('min-w-[16rem] flex-1 gap-1'):
        ui.label(title).classes('text-sm font-bold')
        with ui.grid(columns='minmax(6rem,3fr) 1fr').classes('w-full gap-x-2 gap-y-1'):
            ui.label(t('report.name')).classes('text-xs text-grey-7 font-bold')
            ui.label(t('report.score')).classes('text-xs text-grey-7 font-bold')
            for row in table:
                ui.label(row['name']).classes('text-sm')
                ui.label('—' if row['score'] is None else f'{row["score"]:.1f}').classes('text-sm font-bold')


def _chart(figure: dict[str, Any], name: str) -> None:
    tid(ui.plotly(figure), name).classes('w-full md:w-[32%] min-w-[16rem] h-72 grow')


def _assessment(assessment: Mapping[str, Any], windows: Sequence[Mapping[str, Any]]) -> None:
    ui.label(t('report.assessment')).classes('text-base font-bold')
    with ui.row().classes('w-full gap-2 items-stretch'):
        _chart(scores_figure(assessment['windows'], t('report.window_scores')), 'report-chart-scores')
        _chart(satisfaction_figure(windows), 'report-chart-satisfaction')
        _chart(case_time_figure(assessment['case_time']), 'report-chart-case-time')
    overdue = [row['name'] for row in assessment['case_time'] if row['overdue']]
    text = t('report.overdue', names='、'.join(overdue)) if overdue else t('report.no_overdue')
    tid(ui.label(text), 'report-overdue').classes(
        'text-sm ' + ('text-negative font-bold' if overdue else 'text-grey-7')
    )
    with ui.row().classes('w-full gap-6 items-start'):
        _score_table(t('report.window_scores'), assessment['windows'], 'report-window-scores')
        _score_table(t('report.department_scores'), assessment['departments'], 'report-department-scores')


def report_view(figures: Mapping[str, Any]) -> None:
    """Render a stored report's figures into the current container."""
    with ui.card().classes('w-full p-3 gap-2'):
        ui.label(t('report.hall')).classes('text-base font-bold')
        figures_table(figures['scopes']['hall'][0], 'report-hall')
        _anomalies(figures['anomalies'])
    with ui.card().classes('w-full p-3 gap-2'):
        _assessment(figures['assessment'], figures['scopes']['window'])
    for scope, title in SCOPE_TITLES.items():
        with ui.expansion(t(title)).classes('w-full bg-white').props(f'data-testid=report-{scope}'):
            rows = figures['scopes'][scope]
            if not rows:
                ui.label(t('report.empty')).classes('text-sm text-grey-7')
            for row in rows:
                ui.label(row['name']).classes('text-sm font-bold mt-2')
                figures_table(row, f'report-{scope}-{row["key"]}')
