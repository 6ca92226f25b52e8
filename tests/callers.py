"""Callers for service-level tests: who the test acts as, and the limits services count against."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from app.clock import utcnow
from app.db import Database
from app.models.people import Role
from app.services.limits import DatabaseCounters, Limits
from app.services.principal import Kind, Principal

DESK = Principal(Kind.STAFF, 'staff', Role.MANAGER)  # may take any kind of ticket and serve every window


def as_staff(name: str) -> Principal:
    """A person named `name` who may serve every window (the tests' `actor=` of before)."""
    return Principal(Kind.STAFF, name, Role.MANAGER)


def limits_for(db: Database, clock: Callable[[], dt.datetime] = utcnow) -> Limits:
    """Real abuse limits, counted in the test's database (as the app does without Redis)."""
    return Limits(DatabaseCounters(db, clock=clock), key=b'test-limit-subjects', clock=clock)
