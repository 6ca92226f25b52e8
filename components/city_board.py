"""The city view's cards: the city's totals, then one card per hall with a link to its floor map.

Cards wrap: one column on a phone, as many as fit on a desk. A page redraws them when the shared board
(twin/city.py) brings new figures; a hall card carries `data-testid="city-hall-<code>"`.
"""

from __future__ import annotations

from nicegui import ui

from app.services.city_overview import CityFigures, HallFigures
from components.kpi_tiles import minutes, percent
from components.testids import tid
from components.texts import in_english, register, t

register(
    {
        'city.title': ('全市大厅', 'Every hall'),
        'city.name': ('全市政务服务', 'City government services'),
        'city.totals': ('全市合计', 'City totals'),
        'city.halls': ('{n}个大厅', '{n} halls'),
        'city.waiting': ('等候人数', 'Waiting now'),
        'city.longest': ('最长等候', 'Longest wait now'),
        'city.windows': ('开放窗口', 'Open windows'),
        'city.windows_of': ('{open}/{total}', '{open} of {total}'),
        'city.alerts': ('未处理预警', 'Open alerts'),
        'city.satisfaction': ('今日好评率', "Today's satisfaction"),
        'city.ratings': ('{n}条评价', '{n} ratings'),
        'city.map': ('查看平面图', 'Floor map'),
        'city.updated': ('更新于 {time}', 'Updated {time}'),
        'city.back': ('返回全市', 'Back to every hall'),
        'city.live': ('只读画面，随该大厅实时更新', 'Read-only, live from that hall'),
    }
)


def hall_name(figures: HallFigures) -> str:
    return figures.name_en if in_english() and figures.name_en else figures.name


def _figure(label: str, value: str, testid: str, *, alarm: bool = False) -> None:
    with ui.column().classes('gap-0 min-w-[7rem]'):
        ui.label(label).classes('text-xs text-grey-9')
        tid(ui.label(value), testid).classes('text-lg font-bold' + (' text-negative' if alarm else ''))


def _figures(prefix: str, waiting: int, longest: float | None, windows: str, alerts: int, share: str) -> None:
    with ui.row().classes('gap-x-6 gap-y-2'):
        _figure(t('city.waiting'), str(waiting), f'{prefix}-waiting')
        _figure(t('city.longest'), minutes(longest), f'{prefix}-longest')
        _figure(t('city.windows'), windows, f'{prefix}-windows')
        _figure(t('city.alerts'), str(alerts), f'{prefix}-alerts', alarm=alerts > 0)
        _figure(t('city.satisfaction'), share, f'{prefix}-satisfaction')


def city_cards(city: CityFigures, *, tz_time: str) -> None:
    """The totals card and one card per hall, drawn into the current container."""
    with tid(ui.card(), 'city-totals').classes('w-full gap-2 bg-blue-1'):
        with ui.row().classes('items-baseline gap-3'):
            ui.label(t('city.totals')).classes('text-lg font-bold')
            ui.label(t('city.halls', n=len(city.halls))).classes('text-sm text-grey-9')
            ui.label(t('city.updated', time=tz_time)).classes('text-xs text-grey-9')
        _figures(
            'city-total',
            city.waiting,
            city.longest_wait_minutes,
            t('city.windows_of', open=city.windows_open, total=city.windows_total),
            city.open_alerts,
            percent(city.satisfied_share),
        )
    with ui.element('div').classes('w-full grid gap-3 grid-cols-1 lg:grid-cols-2'):
        for hall in city.halls:
            _hall_card(hall)


def _hall_card(hall: HallFigures) -> None:
    prefix = f'city-hall-{hall.code}'
    with tid(ui.card(), prefix).classes('w-full gap-2'):
        with ui.row().classes('w-full items-center justify-between'):
            ui.label(hall_name(hall)).classes('text-base font-bold')
            tid(ui.link(t('city.map'), f'/city/{hall.code}'), f'{prefix}-map').classes('text-primary')
        share = percent(hall.satisfied_share)
        if hall.ratings:
            share = (
                f'{share}（{t("city.ratings", n=hall.ratings)}）' if not in_english() else f'{share} ({hall.ratings})'
            )
        _figures(
            prefix,
            hall.waiting,
            hall.longest_wait_minutes,
            t('city.windows_of', open=hall.windows_open, total=hall.windows_total),
            hall.open_alerts,
            share,
        )
