"""Peak forecast: today's arrivals per hour against the forecast, the coming week, and 错峰 suggestions.

Computed when the panel opens and on its refresh button (the forecast changes once a day; the actual
arrivals are also on the manager's live charts), for the whole hall or one service.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from nicegui import ui

from app.services.forecast import DayPoint, ForecastService, HourPoint, Suggestion
from app.services.live_queue import LiveQueue
from app.settings import get_settings
from components.testids import tid
from components.texts import register, t

register(
    {
        'forecast.title': ('客流预测', 'Peak forecast'),
        'forecast.all': ('全部事项', 'All services'),
        'forecast.refresh': ('刷新', 'Refresh'),
        'forecast.today': ('今日分时段：预测与实际', 'Today by hour: forecast and actual'),
        'forecast.next': ('{day} 分时段预测（今日不开放）', 'Forecast by hour for {day} (closed today)'),
        'forecast.week': ('未来7天预测取号量', 'Tickets forecast for the next 7 days'),
        'forecast.forecast': ('预测', 'forecast'),
        'forecast.actual': ('实际', 'actual'),
        'forecast.booked': ('已预约', 'booked'),
        'forecast.closed': ('休', 'closed'),
        'forecast.suggestions': ('错峰建议', 'Off-peak suggestions'),
        'forecast.for_manager': ('给管理人员', 'for managers'),
        'forecast.for_citizens': ('给办事群众（可发布到叫号屏、自助机）', 'for citizens (displays, kiosks)'),
        'forecast.no_suggestions': (
            '暂无错峰建议：预测的高峰不需要增开窗口',
            'No suggestions: no forecast peak needs more windows',
        ),
        'forecast.unavailable': ('客流预测暂不可用', 'The forecast is not available'),
        'forecast.fitted': ('依据 {days} 个工作日的历史数据', 'From {days} working days of history'),
    }
)

WEEKDAYS_ZH = '一二三四五六日'
CONFIG = {'displayModeBar': False, 'responsive': True}
LAYOUT: dict[str, Any] = {
    'margin': {'l': 40, 'r': 10, 't': 36, 'b': 36},
    'font': {'family': 'Noto Sans CJK SC, sans-serif', 'size': 11},
    'legend': {'orientation': 'h', 'y': -0.2, 'font': {'size': 10}},
    'paper_bgcolor': 'rgba(0,0,0,0)',
    'plot_bgcolor': '#fafbfc',
    'autosize': True,
}


def hourly_figure(points: list[HourPoint], title: str) -> dict[str, Any]:
    """Bars for the actual arrivals (hours so far) and the appointments booked per hour, a line for the forecast."""
    hours = [f'{p.hour}:00' for p in points]
    seen = [p for p in points if p.actual is not None]
    return {
        'data': [
            {
                'type': 'bar',
                'name': t('forecast.actual'),
                'x': [f'{p.hour}:00' for p in seen],
                'y': [p.actual for p in seen],
                'marker': {'color': '#1f5fa8'},
            },
            {
                'type': 'bar',
                'name': t('forecast.booked'),
                'x': hours,
                'y': [p.booked for p in points],
                'marker': {'color': '#7cb342'},
            },
            {
                'type': 'scatter',
                'mode': 'lines+markers',
                'name': t('forecast.forecast'),
                'x': hours,
                'y': [p.forecast for p in points],
                'line': {'color': '#e65100', 'width': 2, 'shape': 'spline'},
            },
        ],
        'layout': {**LAYOUT, 'title': {'text': title, 'font': {'size': 14}, 'x': 0.02}, 'xaxis': {'type': 'category'}},
        'config': CONFIG,
    }


def week_figure(days: list[DayPoint]) -> dict[str, Any]:
    labels = [_day_label(d.day) for d in days]
    return {
        'data': [
            {
                'type': 'bar',
                'name': t('forecast.forecast'),
                'x': labels,
                'y': [d.forecast for d in days],
                'text': [str(round(d.forecast)) if d.working else t('forecast.closed') for d in days],
                'textposition': 'outside',
                'cliponaxis': False,
                'marker': {'color': ['#e65100' if d.working else '#b0bec5' for d in days]},
            }
        ],
        'layout': {
            **LAYOUT,
            'title': {'text': t('forecast.week'), 'font': {'size': 14}, 'x': 0.02},
            'showlegend': False,
            'xaxis': {'type': 'category'},
        },
        'config': CONFIG,
    }


def _day_label(day: dt.date) -> str:
    if get_settings().lang == 'en':
        return day.strftime('%a %m-%d')
    return f'{day.month}/{day.day} 周{WEEKDAYS_ZH[day.weekday()]}'


def _suggestion_list(suggestions: list[Suggestion]) -> None:
    english = get_settings().lang == 'en'
    for audience, key, icon in (
        ('manager', 'forecast.for_manager', 'groups'),
        ('citizen', 'forecast.for_citizens', 'campaign'),
    ):
        items = [s for s in suggestions if s.audience == audience]
        if not items:
            continue
        ui.label(t(key)).classes('text-xs text-grey-7 font-bold mt-1')
        for item in items:
            with tid(ui.row(), f'suggestion-{audience}-{item.service_code}').classes(
                'w-full items-start gap-2 no-wrap'
            ):
                ui.icon(icon, size='xs').classes('text-primary mt-1')
                ui.label(item.en if english else item.zh).classes('text-sm')


async def forecast_chart(service: ForecastService | None, live: LiveQueue | None) -> None:
    """Render the forecast panel into the current container (the manager page puts it in a tab)."""
    if service is None:
        ui.label(t('forecast.unavailable')).classes('text-grey-7')
        return
    choices = {0: t('forecast.all')} | {
        sid: f'{item.ticket_prefix} {item.name}'
        for sid, item in sorted((live.services if live else {}).items(), key=lambda i: i[1].ticket_prefix)
    }
    with ui.row().classes('w-full items-center gap-3'):
        picker = tid(ui.select(choices, value=0), 'forecast-service').classes('w-64').props('dense outlined')
        refresh = tid(ui.button(t('forecast.refresh'), icon='refresh'), 'forecast-refresh').props('flat dense')
        fitted = ui.label().classes('text-xs text-grey-8')
    with ui.row().classes('w-full gap-3 no-wrap items-start'):
        today_chart = tid(ui.plotly(hourly_figure([], '')), 'forecast-today').classes('w-1/2 h-64')
        week_chart = tid(ui.plotly(week_figure([])), 'forecast-week').classes('w-1/2 h-64')
    ui.label(t('forecast.suggestions')).classes('text-base font-bold')
    box = tid(ui.column(), 'forecast-suggestions').classes('w-full gap-1')

    async def draw() -> None:
        model = await service.model()
        fitted.set_text(t('forecast.fitted', days=model.days))
        service_id = picker.value or None
        today = service.today
        days = await service.coming_days()
        title = t('forecast.today')
        day = today
        if not days[0].working:
            day = next((d.day for d in days if d.working), today)
            title = t('forecast.next', day=_day_label(day))
        points = await service.hourly(day, service_id=service_id)
        today_chart.update_figure(hourly_figure(points, title))
        week_chart.update_figure(week_figure(days))
        suggestions = await service.suggestions(live)
        box.clear()
        with box:
            if not suggestions:
                ui.label(t('forecast.no_suggestions')).classes('text-sm text-grey-7')
            _suggestion_list(suggestions)

    picker.on_value_change(draw)

    async def refreshed() -> None:
        service.forget()
        await draw()

    refresh.on_click(refreshed)
    await draw()
