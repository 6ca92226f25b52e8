"""The satisfaction ranking and MTTR tables, drawn the same on the public /ranking page and on /manager.

Rows carry names only (窗口号, 部门名, a staff member's display name on the managers' page): never ids.
"""

from __future__ import annotations

import datetime as dt

from nicegui import ui

from app.services.rankings import MonthRanking
from app.services.repair_times import MTTR_TARGET, KindRepairs
from app.services.satisfaction import SatisfactionRow
from components import results_texts as _texts  # noqa: F401 - registers the texts
from components.testids import tid
from components.texts import TEXTS, t


def month_label(month: dt.date) -> str:
    return t('results.month_label', year=month.year, month=month.month)


def percent(rate: float | None) -> str:
    return '—' if rate is None else f'{rate * 100:.1f}%'


def ranking_table(title: str, rows: list[SatisfactionRow], name: str) -> None:
    """One ranking (best satisfied share first): rank, name, ratings, satisfied, share."""
    with tid(ui.column(), f'ranking-{name}').classes('w-full gap-1'):
        ui.label(title).classes('text-base font-bold')
        if not rows:
            ui.label(t('results.none')).classes('text-sm text-grey-7')
            return
        with ui.grid(columns='2.5rem minmax(6rem,3fr) 1fr 1fr 1.2fr').classes('w-full gap-x-2 gap-y-1 items-center'):
            for key in ('results.rank', 'results.name', 'results.ratings', 'results.satisfied', 'results.rate'):
                ui.label(t(key)).classes('text-xs text-grey-7 font-bold')
            for rank, row in enumerate(rows, start=1):
                ui.label(str(rank)).classes('text-sm')
                ui.label(row.name).classes('text-sm ellipsis')
                ui.label(str(row.ratings)).classes('text-sm')
                ui.label(str(row.satisfied)).classes('text-sm')
                ui.label(percent(row.rate)).classes('text-sm font-bold')


def ranking_body(ranking: MonthRanking) -> None:
    """The month's overall line and its rankings (staff only when the ranking carries them)."""
    if not ranking.ratings:
        tid(ui.label(t('results.none')), 'ranking-empty').classes('text-sm text-grey-7')
        return
    overall = t(
        'results.overall', month=month_label(ranking.month), ratings=ranking.ratings, rate=percent(ranking.rate)
    )
    tid(ui.label(overall), 'ranking-overall')
    with ui.row().classes('w-full gap-6 items-start'):
        with ui.column().classes('min-w-[18rem] flex-1'):
            ranking_table(t('results.windows'), ranking.windows, 'windows')
        with ui.column().classes('min-w-[18rem] flex-1'):
            ranking_table(t('results.departments'), ranking.departments, 'departments')
        if ranking.staff:
            with ui.column().classes('min-w-[18rem] flex-1'):
                ranking_table(t('results.staff'), ranking.staff, 'staff')


def _minutes(value: dt.timedelta | None) -> str:
    return '—' if value is None else t('mttr.minutes', n=round(value.total_seconds() / 60, 1))


def _kind(kind: str) -> str:
    key = f'device.kind.{kind}'
    return t(key) if key in TEXTS else t('mttr.other')


def mttr_table(title: str, rows: list[KindRepairs], name: str) -> None:
    """MTTR per device kind, each mean marked against the 30-minute target."""
    with tid(ui.column(), f'mttr-{name}').classes('min-w-[20rem] flex-1 gap-1'):
        ui.label(title).classes('text-sm font-bold')
        if not rows:
            ui.label(t('mttr.none')).classes('text-sm text-grey-7')
            return
        with ui.grid(columns='minmax(6rem,2fr) 1fr 1.3fr 1.3fr 1fr 1.2fr').classes('w-full gap-x-2 gap-y-1'):
            for key in ('mttr.kind', 'mttr.repairs', 'mttr.mean', 'mttr.longest', 'mttr.open'):
                ui.label(t(key)).classes('text-xs text-grey-7 font-bold')
            ui.label('')
            for row in rows:
                ui.label(_kind(row.kind)).classes('text-sm')
                ui.label(str(row.repairs)).classes('text-sm')
                ui.label(_minutes(row.mean)).classes('text-sm')
                ui.label(_minutes(row.longest)).classes('text-sm')
                ui.label(str(row.open_faults)).classes('text-sm')
                if row.within_target is None:
                    ui.label('')
                elif row.within_target:
                    ui.label(t('mttr.met')).classes('text-sm text-positive')
                else:
                    ui.label(t('mttr.missed')).classes('text-sm text-negative font-bold')


def mttr_target_minutes() -> int:
    return int(MTTR_TARGET.total_seconds() // 60)
