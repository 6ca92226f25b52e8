"""The monthly monitoring report (每月监测报告): one stored set of figures per hall and month."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import SQLModel

from app.models.fields import internal, public


class MonthlyReport(SQLModel, table=True):
    """A month's figures as generated (app/services/monthly_report.py); unique per hall and month, so a job run
    twice, or by two workers at once, keeps one report."""

    __tablename__ = 'monthly_report'
    __table_args__ = (UniqueConstraint('hall_id', 'month'),)
    id: int | None = public(default=None, primary_key=True)
    hall_id: int = public(foreign_key='hall.id', index=True)
    month: dt.date = public()  # the month's first day, in the hall's calendar
    figures: dict[str, Any] = internal(default_factory=dict, sa_type=JSON)  # staff appear by display name
    generated_at: dt.datetime = public()
    generated_by: str = internal(default='', max_length=64)
