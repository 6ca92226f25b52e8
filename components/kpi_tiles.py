"""KPI tiles bound to the feed's KpiTwin: each tile's value is pushed when (and only when) its figure changes."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

from nicegui import ui

from components import manager_texts  # noqa: F401 - registers the texts
from components.testids import tid
from components.texts import t
from twin.model import KpiTwin


def minutes(value: float | None) -> str:
    return t('kpi.none') if value is None else t('kpi.minutes', n=f'{value:.0f}' if value >= 10 else f'{value:.1f}')


def percent(value: float | None) -> str:
    return t('kpi.none') if value is None else f'{value:.0%}'


def score(value: float | None) -> str:
    return t('kpi.none') if value is None else t('kpi.score', score=f'{value:.1f}')


def share(value: float | None) -> str:
    return '' if value is None else t('kpi.share', share=percent(value))


def _tile(name: str, label: str, kpi: KpiTwin, field: str, show: Callable[[Any], str], icon: str) -> ui.card:
    """Three elements: the card, its static heading (one html element with the icon), the bound value."""
    with tid(ui.card(), f'kpi-{name}').classes('px-3 py-2 gap-0 min-w-[9.5rem] grow') as card:
        ui.html(
            f'<span class="kpi-head"><i class="q-icon notranslate material-icons text-primary">{icon}</i>'
            f'{escape(label)}</span>',
            sanitize=False,
        )
        value = tid(ui.label(), f'kpi-{name}-value').classes('text-xl font-bold whitespace-nowrap')
        value.bind_text_from(kpi, field, backward=show)
    return card


CSS = (
    '.kpi-head { display: flex; align-items: center; gap: 4px; font-size: 12px; color: #616161; white-space: nowrap; }'
)


def kpi_tiles(kpi: KpiTwin) -> None:
    ui.add_css(CSS)
    tiles = ui.row().classes('w-full gap-2 no-wrap overflow-x-auto').props('tabindex=0 role=region')
    tiles.props['aria-label'] = t('kpi.row')  # it scrolls sideways on a phone: reachable and named
    with tiles:
        _tile('waiting', t('kpi.waiting'), kpi, 'waiting_now', lambda n: t('kpi.people', n=n), 'groups')
        _tile('avg-wait', t('kpi.avg_wait'), kpi, 'avg_wait_minutes', minutes, 'hourglass_bottom')
        _tile('longest-wait', t('kpi.longest_wait'), kpi, 'longest_wait_minutes', minutes, 'hourglass_full')
        _tile('handling', t('kpi.handling'), kpi, 'avg_handling_minutes', minutes, 'timer')
        _tile('windows', t('kpi.windows'), kpi, 'windows_open', lambda n: f'{n} / {kpi.windows_total}', 'storefront')
        _tile(
            'devices',
            t('kpi.devices'),
            kpi,
            'devices_online',
            lambda n: (
                percent(n / kpi.devices_total if kpi.devices_total else None)
                + (f'（{n}/{kpi.devices_total}）' if kpi.devices_total else '')
            ),
            'devices',
        )
        _tile('online', t('kpi.online'), kpi, 'online_share', percent, 'smartphone')
        with _tile('satisfaction', t('kpi.satisfaction'), kpi, 'satisfaction_score', score, 'thumb_up'):
            ui.label().classes('text-xs text-grey-8 -mt-1').bind_text_from(kpi, 'satisfied_share', backward=share)
