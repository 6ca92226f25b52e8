"""Satisfaction (满意度) per window, department and staff member, from the ratings in force.

A rating is in force unless a re-rating replaced it (after a rectification) or an upheld appeal
voided it. The rate (satisfied / ratings) compares across the four- and five-level scales; the
scores do not, so they are not averaged here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, case, func
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from app.db import Database
from app.models.cases import Evaluation, Rectification
from app.models.hall import Department, Window
from app.models.people import StaffUser

UPHELD = 'upheld'


@dataclass(frozen=True)
class SatisfactionRow:
    """Ratings in force for one window, department or staff member (key None: nobody recorded)."""

    key: int | None
    name: str
    ratings: int
    satisfied: int

    @property
    def dissatisfied(self) -> int:
        return self.ratings - self.satisfied

    @property
    def rate(self) -> float | None:
        return self.satisfied / self.ratings if self.ratings else None


def in_force(hall_id: int, since: dt.datetime | None = None, until: dt.datetime | None = None) -> Select[Any]:
    """The hall's ratings in force, created in [since, until)."""
    newer = aliased(Evaluation)
    statement = (
        select(Evaluation)
        .outerjoin(newer, col(newer.replaces_id) == Evaluation.id)
        .outerjoin(
            Rectification,
            and_(col(Rectification.evaluation_id) == Evaluation.id, Rectification.appeal_decision == UPHELD),
        )
        .where(Evaluation.hall_id == hall_id, col(newer.id).is_(None), col(Rectification.id).is_(None))
    )
    if since is not None:
        statement = statement.where(col(Evaluation.created_at) >= since)
    if until is not None:
        statement = statement.where(col(Evaluation.created_at) < until)
    return statement


async def _grouped(
    db: Database, hall_id: int, key: str, since: dt.datetime | None, until: dt.datetime | None
) -> list[tuple[Any, int, int]]:
    effective = in_force(hall_id, since, until).subquery()
    column = effective.c[key]
    statement = (
        select(column, func.count(), func.sum(case((effective.c.satisfied, 1), else_=0)))
        .group_by(column)
        .order_by(column)
    )
    async with db.read_session() as s:
        return [(ident, int(count), int(good or 0)) for ident, count, good in (await s.execute(statement)).all()]


async def _names(db: Database, model: type[Any], label: Callable[[Any], str]) -> dict[int, str]:
    async with db.read_session() as s:
        return {row.id: label(row) for row in (await s.execute(select(model))).scalars()}


async def _rows(
    db: Database, hall_id: int, key: str, names: dict[int, str], since: dt.datetime | None, until: dt.datetime | None
) -> list[SatisfactionRow]:
    return [
        SatisfactionRow(ident, names.get(ident, '') if ident is not None else '', count, good)
        for ident, count, good in await _grouped(db, hall_id, key, since, until)
    ]


async def by_window(
    db: Database, hall_id: int, *, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> list[SatisfactionRow]:
    names = await _names(db, Window, lambda w: f'{w.number}号窗口')
    return await _rows(db, hall_id, 'window_id', names, since, until)


async def by_department(
    db: Database, hall_id: int, *, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> list[SatisfactionRow]:
    return await _rows(db, hall_id, 'department_id', await _names(db, Department, lambda d: d.name), since, until)


async def by_staff(
    db: Database, hall_id: int, *, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> list[SatisfactionRow]:
    names = await _names(db, StaffUser, lambda u: u.display_name)
    return await _rows(db, hall_id, 'staff_user_id', names, since, until)


async def overall(
    db: Database, hall_id: int, *, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> SatisfactionRow:
    rows = await _grouped(db, hall_id, 'hall_id', since, until)
    return SatisfactionRow(hall_id, '', sum(row[1] for row in rows), sum(row[2] for row in rows))
