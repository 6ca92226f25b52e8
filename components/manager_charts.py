"""Today's charts (plotly): arrivals per hour against the forecast, the spread of waits, queue length per service.

The series are computed once per refresh by the feed and shared; each page only turns them into
figure dictionaries (a few hundred points) when they change, about once a minute at most.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from nicegui import ui

from app.services.day_series import WAIT_BIN_MINUTES, DaySeries
from app.services.forecast_today import TodayForecast
from components import manager_texts  # noqa: F401 - registers the texts
from components.testids import tid
from components.texts import t
from twin.feed import HallFeed

OPENING_HOURS = range(8, 18)
COLOURS = ['#1f5fa8', '#e65100', '#2e7d32', '#6a1b9a', '#c62828', '#00838f', '#8d6e63', '#546e7a']
CONFIG = {'displayModeBar': False, 'responsive': True}


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        'title': {'text': title, 'font': {'size': 14}, 'x': 0.02},
        'margin': {'l': 40, 'r': 10, 't': 36, 'b': 36},
        'font': {'family': 'Noto Sans CJK SC, sans-serif', 'size': 11},
        'legend': {'orientation': 'h', 'y': -0.22, 'font': {'size': 10}},
        'paper_bgcolor': 'rgba(0,0,0,0)',
        'plot_bgcolor': '#fafbfc',
        'autosize': True,
    }
    layout.update(extra)
    return layout


def _empty(layout: dict[str, Any], empty: bool) -> dict[str, Any]:
    """An empty chart says so instead of showing bare axes."""
    if empty:
        layout['annotations'] = [
            {
                'text': t('chart.empty'),
                'showarrow': False,
                'xref': 'paper',
                'yref': 'paper',
                'x': 0.5,
                'y': 0.5,
                'font': {'size': 13, 'color': '#6b7785'},
            }
        ]
        layout['xaxis'] = {'visible': False}
        layout['yaxis'] = {'visible': False}
    return layout


def arrivals_figure(series: DaySeries | None, forecast: dict[int, float] | None) -> dict[str, Any]:
    actual = series.arrivals_by_hour if series else {}
    hours = sorted(set(OPENING_HOURS) | set(actual) | set(forecast or {}))
    labels = [f'{h}:00' for h in hours]
    data: list[dict[str, Any]] = [
        {
            'type': 'bar',
            'name': t('chart.actual'),
            'x': labels,
            'y': [actual.get(h, 0) for h in hours],
            'marker': {'color': COLOURS[0]},
        }
    ]
    if forecast:
        data.append(
            {
                'type': 'scatter',
                'mode': 'lines+markers',
                'name': t('chart.forecast'),
                'x': labels,
                'y': [round(forecast.get(h, 0.0), 1) for h in hours],
                'line': {'color': COLOURS[1], 'dash': 'dot', 'width': 2},
            }
        )
    layout = _layout(t('chart.arrivals'), yaxis={'title': {'text': t('chart.tickets')}, 'rangemode': 'tozero'})
    return {'data': data, 'layout': _empty(layout, not actual and not forecast), 'config': CONFIG}


def waits_figure(series: DaySeries | None) -> dict[str, Any]:
    bins = series.wait_bins if series else {}
    edges = list(range(0, max(bins, default=0) + WAIT_BIN_MINUTES, WAIT_BIN_MINUTES)) if bins else []
    data = [
        {
            'type': 'bar',
            'name': t('chart.tickets'),
            'x': [f'{e}-{e + WAIT_BIN_MINUTES}' for e in edges],
            'y': [bins.get(e, 0) for e in edges],
            'marker': {'color': [COLOURS[4] if e >= 30 else COLOURS[0] for e in edges]},
        }
    ]
    layout = _layout(
        t('chart.waits'),
        xaxis={'title': {'text': t('chart.wait_axis')}},
        yaxis={'title': {'text': t('chart.tickets')}, 'rangemode': 'tozero'},
        showlegend=False,
    )
    return {'data': data, 'layout': _empty(layout, not bins), 'config': CONFIG}


def queues_figure(series: DaySeries | None, tz: ZoneInfo) -> dict[str, Any]:
    lines = series.queue_lines if series else {}
    data = [
        {
            'type': 'scatter',
            'mode': 'lines',
            'name': name,
            'x': [step.at.astimezone(tz).strftime('%Y-%m-%d %H:%M:%S') for step in steps],
            'y': [step.length for step in steps],
            'line': {'shape': 'hv', 'width': 2, 'color': COLOURS[i % len(COLOURS)]},
        }
        for i, (name, steps) in enumerate(lines.items())
    ]
    layout = _layout(
        t('chart.queues'),
        xaxis={'type': 'date', 'tickformat': '%H:%M'},
        yaxis={'rangemode': 'tozero'},
    )
    return {'data': data, 'layout': _empty(layout, not lines), 'config': CONFIG}


def manager_charts(feed: HallFeed, *, today: TodayForecast | None, tz: ZoneInfo) -> None:
    """Three charts side by side; they follow the feed's series until this page goes away. The forecast line
    joins the arrivals once read: the day's first read fits the model (seconds), and the page does not wait."""
    forecast: dict[int, float] | None = None
    with ui.grid(columns='repeat(auto-fit, minmax(22rem, 1fr))').classes('w-full gap-3'):
        arrivals = tid(ui.plotly(arrivals_figure(feed.series, forecast)), 'chart-arrivals').classes('w-full h-64')
        waits = tid(ui.plotly(waits_figure(feed.series)), 'chart-waits').classes('w-full h-64')
        queues = tid(ui.plotly(queues_figure(feed.series, tz)), 'chart-queues').classes('w-full h-64')

    def on_series(series: DaySeries) -> None:
        arrivals.update_figure(arrivals_figure(series, forecast))
        waits.update_figure(waits_figure(series))
        queues.update_figure(queues_figure(series, tz))

    async def read_forecast() -> None:
        nonlocal forecast
        if today is None:
            return
        forecast = await today.hourly()
        if not arrivals.is_deleted:
            arrivals.update_figure(arrivals_figure(feed.series, forecast))

    feed.series_changed.subscribe(on_series)
    ui.timer(0, read_forecast, once=True)
