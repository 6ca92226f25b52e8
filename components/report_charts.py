"""The monthly report's plotly figures, as dictionaries built from the stored figures (no live data)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from components import report_texts  # noqa: F401 - registers the texts
from components.texts import t

CONFIG = {'displayModeBar': False, 'responsive': True}
COLOURS = ['#1f5fa8', '#e65100', '#2e7d32', '#6a1b9a', '#c62828', '#00838f', '#8d6e63', '#546e7a']
OVERDUE = '#c62828'


def _layout(title: str, empty: bool, **extra: Any) -> dict[str, Any]:
    """The report's chart frame; an empty chart says so instead of showing bare axes."""
    layout: dict[str, Any] = {
        'title': {'text': title, 'font': {'size': 14}, 'x': 0.02},
        'margin': {'l': 40, 'r': 10, 't': 36, 'b': 60},
        'font': {'family': 'Noto Sans CJK SC, sans-serif', 'size': 11},
        'paper_bgcolor': 'rgba(0,0,0,0)',
        'plot_bgcolor': '#fafbfc',
        'autosize': True,
        **extra,
    }
    if empty:
        layout['annotations'] = [
            {'text': t('report.empty'), 'showarrow': False, 'xref': 'paper', 'yref': 'paper', 'x': 0.5, 'y': 0.5}
        ]
        layout['xaxis'], layout['yaxis'] = {'visible': False}, {'visible': False}
    return layout


def _bars(title: str, names: Sequence[str], values: Sequence[float], *, colour: str, maximum: float) -> dict[str, Any]:
    return {
        'data': [{'type': 'bar', 'x': list(names), 'y': list(values), 'marker': {'color': colour}}],
        'layout': _layout(title, not names, yaxis={'range': [0, maximum]}, showlegend=False),
        'config': CONFIG,
    }


def scores_figure(table: Sequence[Mapping[str, Any]], title: str) -> dict[str, Any]:
    scored = [row for row in table if row['score'] is not None]
    return _bars(title, [r['name'] for r in scored], [r['score'] for r in scored], colour=COLOURS[0], maximum=100)


def satisfaction_figure(windows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    rated = [row for row in windows if row['figures']['satisfaction']['value'] is not None]
    values = [round(row['figures']['satisfaction']['value'] * 100, 1) for row in rated]
    return _bars(t('report.satisfaction_chart'), [r['name'] for r in rated], values, colour=COLOURS[2], maximum=100)


def case_time_figure(case_time: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    shared = [row for row in case_time if row['share']]
    return {
        'data': [
            {
                'type': 'pie',
                'labels': [row['name'] for row in shared],
                'values': [row['hours'] for row in shared],
                'hole': 0.45,
                'marker': {
                    'colors': [OVERDUE if row['overdue'] else COLOURS[i % len(COLOURS)] for i, row in enumerate(shared)]
                },
                'textinfo': 'percent',
            }
        ],
        'layout': _layout(t('report.case_time'), not shared, showlegend=True, legend={'orientation': 'h', 'y': -0.05}),
        'config': CONFIG,
    }
