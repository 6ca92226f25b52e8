"""Time in one place: aware UTC everywhere (SQLModel stores UTC), the hall's zone for its day."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """Aware UTC: SQLite hands stored moments back naive (they are stored in UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def hall_day(moment: datetime, tz: ZoneInfo) -> date:
    """The hall's calendar day of a moment (ticket numbers restart each day)."""
    return moment.astimezone(tz).date()


def to_local(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment.astimezone(tz)
