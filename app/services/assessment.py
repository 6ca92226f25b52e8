"""考核: per-window and per-department scores from the monthly report's own figures, and each department's share
of cross-department case time with its overdue steps.

A score is the weighted mean of 0-100 points per indicator, over the indicators that have data for the
row (weights re-normalised, so a window is not marked down for the rectifications only departments own):
rates give their percentage; the mean wait gives 100 up to the 15-minute target and target/wait beyond it.
Case time counts only cases whose steps ran in two or more departments (一件事一次办): a step's time is
from its start to its finish, or to the month's end while it still runs; a step past its due time
(finished late, or still open at the month's end) is overdue, and a department with one is flagged.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.services.forecast import TARGET_WAIT_MINUTES

WEIGHTS: Mapping[str, float] = {'satisfaction': 40, 'wait_minutes': 20, 'online': 10, 'solved': 15, 'materials': 15}


@dataclass(frozen=True)
class NodeRow:
    """One step of a case opened this month that ran in a department."""

    case_id: int
    department_id: int
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    due_at: dt.datetime | None


def points(code: str, value: float) -> float:
    """0-100 for one indicator's value."""
    if code == 'wait_minutes':
        return 100.0 if value <= TARGET_WAIT_MINUTES else 100.0 * TARGET_WAIT_MINUTES / value
    return 100.0 * value


def score(figures: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """`{score, points}` for one row's figures; score None when no weighted indicator has data."""
    earned = {
        code: points(code, figures[code]['value'])
        for code in WEIGHTS
        if code in figures and figures[code]['value'] is not None
    }
    weight = sum(WEIGHTS[code] for code in earned)
    total = sum(WEIGHTS[code] * value for code, value in earned.items()) / weight if weight else None
    return {
        'score': None if total is None else round(total, 1),
        'points': {code: round(value, 1) for code, value in earned.items()},
    }


def score_table(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows `{key, name, score, points}`, best score first (rows without a score last)."""
    table = [{'key': row['key'], 'name': row['name'], **score(row['figures'])} for row in rows]
    return sorted(table, key=lambda row: (row['score'] is None, -(row['score'] or 0.0), row['name']))


def case_time(nodes: Sequence[NodeRow], names: Mapping[int, str], month_end: dt.datetime) -> list[dict[str, Any]]:
    """Each department's hours in cross-department cases, its share of them, and its overdue steps."""
    departments_of: dict[int, set[int]] = defaultdict(set)
    for node in nodes:
        departments_of[node.case_id].add(node.department_id)
    hours: dict[int, float] = defaultdict(float)
    steps: dict[int, int] = defaultdict(int)
    overdue: dict[int, int] = defaultdict(int)
    for node in nodes:
        if len(departments_of[node.case_id]) < 2 or node.started_at is None:
            continue
        end = min(node.finished_at or month_end, month_end)
        hours[node.department_id] += max(0.0, (end - node.started_at).total_seconds() / 3600)
        steps[node.department_id] += 1
        if node.due_at is not None and (node.finished_at or month_end) > node.due_at:
            overdue[node.department_id] += 1
    total = sum(hours.values())
    table = [
        {
            'key': key,
            'name': names.get(key, str(key)),
            'hours': round(hours[key], 2),
            'share': round(hours[key] / total, 4) if total else None,
            'steps': steps[key],
            'overdue_steps': overdue[key],
            'overdue': overdue[key] > 0,
        }
        for key in steps
    ]
    return sorted(table, key=lambda row: (-row['hours'], row['name']))
