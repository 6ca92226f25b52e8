"""The seed's core indicators for one month, per hall, department, window and staff member, from plain rows.

One function computes every figure the monthly report and the 考核 read, so the two never disagree:
- 办理时长: `wait_minutes` (taking the number to the first call, tickets called), `serve_minutes` (call to
  completion, tickets completed), `case_hours` (a case opened this month, from opening to completion);
- 群众满意度 `satisfaction`: satisfied / ratings in force (app/services/satisfaction.py);
- 问题解决率 `solved`: rectifications due this month that were closed by their deadline / those due;
- 材料精简率 `materials`: listed materials the departments already held (零材料) / materials listed;
- 线上办理率 `online`: tickets booked or taken remotely / tickets taken;
- 设备使用率 `device_usage`: device-days with at least one use / device-days in service on the days the hall
  issued tickets (hall only); `mttr_minutes`: mean fault-to-online time (app/services/repair_times.py).
A figure is `{value, k, n}`: a rate's successes and trials, or a mean's sample size (k None). No data is
`value None`, shown as a dash, never as zero.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from statistics import fmean
from typing import Any, TypeVar

Row = TypeVar('Row')


class Kind(StrEnum):
    RATE = 'rate'
    MEAN = 'mean'


@dataclass(frozen=True)
class Indicator:
    code: str
    label: str
    label_en: str
    kind: Kind
    higher_is_better: bool


INDICATORS = (
    Indicator('wait_minutes', '平均等候时长(分钟)', 'Mean wait (min)', Kind.MEAN, False),
    Indicator('serve_minutes', '平均办理时长(分钟)', 'Mean service time (min)', Kind.MEAN, False),
    Indicator('case_hours', '平均办件时长(小时)', 'Mean case time (h)', Kind.MEAN, False),
    Indicator('satisfaction', '群众满意度', 'Satisfaction', Kind.RATE, True),
    Indicator('solved', '问题解决率', 'Rectified in time', Kind.RATE, True),
    Indicator('materials', '材料精简率', 'Materials spared', Kind.RATE, True),
    Indicator('online', '线上办理率', 'Online share', Kind.RATE, True),
    Indicator('device_usage', '设备使用率', 'Device usage', Kind.RATE, True),
    Indicator('mttr_minutes', '设备平均修复时长(分钟)', 'Device MTTR (min)', Kind.MEAN, False),
)
BY_CODE = {indicator.code: indicator for indicator in INDICATORS}


class Scope(StrEnum):
    HALL = 'hall'
    DEPARTMENT = 'department'
    WINDOW = 'window'
    STAFF = 'staff'


SCOPE_INDICATORS: dict[Scope, tuple[str, ...]] = {
    Scope.HALL: tuple(indicator.code for indicator in INDICATORS),
    Scope.DEPARTMENT: ('wait_minutes', 'serve_minutes', 'case_hours', 'satisfaction', 'solved', 'materials', 'online'),
    Scope.WINDOW: ('wait_minutes', 'serve_minutes', 'satisfaction', 'online'),
    Scope.STAFF: ('serve_minutes', 'satisfaction'),
}


@dataclass(frozen=True)
class TicketRow:
    department_id: int | None
    window_id: int | None
    staff_id: int | None  # who completed it
    taken_at: dt.datetime
    first_called_at: dt.datetime | None
    called_at: dt.datetime | None
    completed_at: dt.datetime | None
    online: bool


@dataclass(frozen=True)
class RatingRow:
    department_id: int | None
    window_id: int | None
    staff_id: int | None
    satisfied: bool


@dataclass(frozen=True)
class RectificationRow:
    department_id: int | None
    solved_in_time: bool


@dataclass(frozen=True)
class CaseRow:
    department_id: int | None
    created_at: dt.datetime
    completed_at: dt.datetime | None


@dataclass(frozen=True)
class MaterialRow:
    department_id: int | None
    satisfied: bool  # 零材料: the departments held it


@dataclass(frozen=True)
class DeviceMonth:
    device_days: int = 0
    used_days: int = 0
    repairs: tuple[dt.timedelta, ...] = ()


@dataclass(frozen=True)
class MonthRows:
    """What the month's figures are computed from (app/services/report_data.py loads it)."""

    tickets: Sequence[TicketRow] = ()
    ratings: Sequence[RatingRow] = ()
    rectifications: Sequence[RectificationRow] = ()
    cases: Sequence[CaseRow] = ()
    materials: Sequence[MaterialRow] = ()
    devices: DeviceMonth = field(default_factory=DeviceMonth)
    names: dict[Scope, dict[int, str]] = field(default_factory=dict)


def mean_figure(values: Iterable[float]) -> dict[str, Any]:
    items = list(values)
    return {'value': round(fmean(items), 4) if items else None, 'k': None, 'n': len(items)}


def rate_figure(k: int, n: int) -> dict[str, Any]:
    return {'value': round(k / n, 6) if n else None, 'k': k, 'n': n}


def _minutes(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds() / 60)


def _present(values: Iterable[float | None]) -> list[float]:
    return [value for value in values if value is not None]


def figures(rows: MonthRows, codes: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The named indicators over these rows (already narrowed to one hall, department, window or person)."""
    tickets = rows.tickets
    found: dict[str, dict[str, Any]] = {
        'wait_minutes': mean_figure(_present(_minutes(t.taken_at, t.first_called_at) for t in tickets)),
        'serve_minutes': mean_figure(
            _present(_minutes(t.called_at, t.completed_at) for t in tickets if t.completed_at is not None)
        ),
        'case_hours': mean_figure(m / 60 for m in _present(_minutes(c.created_at, c.completed_at) for c in rows.cases)),
        'satisfaction': rate_figure(sum(r.satisfied for r in rows.ratings), len(rows.ratings)),
        'solved': rate_figure(sum(r.solved_in_time for r in rows.rectifications), len(rows.rectifications)),
        'materials': rate_figure(sum(m.satisfied for m in rows.materials), len(rows.materials)),
        'online': rate_figure(sum(t.online for t in tickets), len(tickets)),
        'device_usage': rate_figure(rows.devices.used_days, rows.devices.device_days),
        'mttr_minutes': mean_figure(repair.total_seconds() / 60 for repair in rows.devices.repairs),
    }
    return {code: found[code] for code in codes}


def _narrowed(rows: MonthRows, scope: Scope, key: int) -> MonthRows:
    def pick(items: Sequence[Row], of: Callable[[Row], int | None]) -> list[Row]:
        return [item for item in items if of(item) == key]

    if scope == Scope.DEPARTMENT:
        return MonthRows(
            pick(rows.tickets, lambda t: t.department_id),
            pick(rows.ratings, lambda r: r.department_id),
            pick(rows.rectifications, lambda r: r.department_id),
            pick(rows.cases, lambda c: c.department_id),
            pick(rows.materials, lambda m: m.department_id),
        )
    if scope == Scope.WINDOW:
        return MonthRows(pick(rows.tickets, lambda t: t.window_id), pick(rows.ratings, lambda r: r.window_id))
    return MonthRows(pick(rows.tickets, lambda t: t.staff_id), pick(rows.ratings, lambda r: r.staff_id))


def _keys(rows: MonthRows, scope: Scope) -> set[int]:
    if scope == Scope.DEPARTMENT:
        found = [t.department_id for t in rows.tickets] + [r.department_id for r in rows.ratings]
        found += [r.department_id for r in rows.rectifications] + [c.department_id for c in rows.cases]
    elif scope == Scope.WINDOW:
        found = [t.window_id for t in rows.tickets] + [r.window_id for r in rows.ratings]
    else:
        found = [t.staff_id for t in rows.tickets] + [r.staff_id for r in rows.ratings]
    return {key for key in found if key is not None}


def scope_rows(rows: MonthRows) -> dict[str, list[dict[str, Any]]]:
    """Every scope's rows: `{scope: [{key, name, figures}]}`, the hall first, the others by name."""
    result: dict[str, list[dict[str, Any]]] = {
        Scope.HALL: [{'key': None, 'name': '', 'figures': figures(rows, SCOPE_INDICATORS[Scope.HALL])}]
    }
    for scope in (Scope.DEPARTMENT, Scope.WINDOW, Scope.STAFF):
        names = rows.names.get(scope, {})
        result[scope] = sorted(
            (
                {
                    'key': key,
                    'name': names.get(key, str(key)),
                    'figures': figures(_narrowed(rows, scope, key), SCOPE_INDICATORS[scope]),
                }
                for key in _keys(rows, scope)
            ),
            key=lambda row: (row['name'], row['key']),
        )
    return result


def shown(code: str, value: float | None) -> str:
    """A figure as read: rates in percent, means with one decimal, no data as a dash."""
    if value is None:
        return '—'
    return f'{value * 100:.1f}%' if BY_CODE[code].kind == Kind.RATE else f'{value:.1f}'


def change_shown(code: str, change: float | None) -> str:
    if change is None:
        return '—'
    return f'{change * 100:+.1f} pp' if BY_CODE[code].kind == Kind.RATE else f'{change:+.1f}'
