"""A window's own opening hours as people read them (zh-CN, English): the guide, the desk and the admin list."""

from __future__ import annotations

from collections.abc import Sequence

from app.services.window_hours import OpeningPeriod
from components.texts import register, t

register(
    {
        'hours.day.1': ('周一', 'Mon'),
        'hours.day.2': ('周二', 'Tue'),
        'hours.day.3': ('周三', 'Wed'),
        'hours.day.4': ('周四', 'Thu'),
        'hours.day.5': ('周五', 'Fri'),
        'hours.day.6': ('周六', 'Sat'),
        'hours.day.7': ('周日', 'Sun'),
        'hours.every_day': ('每个工作日', 'every working day'),
        'hours.day_run': ('{first}至{last}', '{first}–{last}'),
        'hours.day_list_sep': ('、', ', '),
        'hours.period': ('{days} {start}-{end}', '{days} {start}–{end}'),
        'hours.sep': ('；', '; '),
        'hours.hall': ('与大厅办公时间一致', 'the hall’s hours'),
        'hours.closed_now': ('非办公时段', 'outside its hours'),
        'hours.label': ('办公时段：{hours}', 'Hours: {hours}'),
    }
)


def days_text(days: Sequence[int]) -> str:
    """[1, 2, 3, 4, 5] -> '周一至周五'; [1, 3] -> '周一、周三'; [] -> every working day."""
    if not days:
        return t('hours.every_day')
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts = [
        t('hours.day_run', first=t(f'hours.day.{run[0]}'), last=t(f'hours.day.{run[-1]}'))
        if len(run) > 2
        else t('hours.day_list_sep').join(t(f'hours.day.{day}') for day in run)
        for run in runs
    ]
    return t('hours.day_list_sep').join(parts)


def hours_text(periods: Sequence[OpeningPeriod]) -> str:
    """A window's periods in one line; the hall's hours when it has none of its own."""
    if not periods:
        return t('hours.hall')
    return t('hours.sep').join(
        t('hours.period', days=days_text(period.days), start=period.start, end=period.end) for period in periods
    )
