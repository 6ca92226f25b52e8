"""Callers for service-level tests: who the test acts as, the limits services count against, and the shared
dependencies services are built from."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from app.bus import Bus
from app.clock import utcnow
from app.db import Database
from app.models.people import Role
from app.security.crypto import FieldCipher
from app.services.deps import Deps
from app.services.limits import DatabaseCounters, Limits
from app.services.principal import Kind, Principal
from app.settings import Settings, load_settings

DESK = Principal(Kind.STAFF, 'staff', Role.MANAGER)  # may take any kind of ticket and serve every window


def as_staff(name: str) -> Principal:
    """A person named `name` who may serve every window (the tests' `actor=` of before)."""
    return Principal(Kind.STAFF, name, Role.MANAGER)


def limits_for(db: Database, clock: Callable[[], dt.datetime] = utcnow) -> Limits:
    """Real abuse limits, counted in the test's database (as the app does without Redis)."""
    return Limits(DatabaseCounters(db, clock=clock), key=b'test-limit-subjects', clock=clock)


def deps_for(
    db: Database,
    bus: Bus | None = None,
    *,
    hall_id: int = 0,
    settings: Settings | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
    limits: Limits | None = None,
    cipher: FieldCipher | None = None,
) -> Deps:
    """What the runtime gives every service, for a test: the settings of this run, the cipher of their
    SECRET_KEY and limits counted in the test's database on the test's clock, unless given."""
    settings = settings or load_settings()
    return Deps(
        db=db,
        bus=bus,
        settings=settings,
        cipher=cipher or FieldCipher({'k1': settings.secret}, 'k1'),
        limits=limits or limits_for(db, clock),
        hall_id=hall_id,
        clock=clock,
    )
