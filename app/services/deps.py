"""What every service shares, in one object built once per process by the composition root.

A service is built as `XService(deps, <only its own collaborators>)`: the database, the bus, the settings,
the field cipher, the abuse limits, the hall and the clock come from here, so wiring a service never lists
them again and a test swaps one (a fake clock, a test bus) in one place.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from app.bus import Bus
from app.clock import utcnow
from app.db import Database
from app.security.crypto import FieldCipher
from app.security.keys import Purpose
from app.services.hall_rules import RulesHolder
from app.services.limits import Limits, build_limits
from app.settings import Settings


@dataclass(frozen=True)
class Deps:
    """`bus` None: a tool with no pages or processes to tell (its services write, and may not emit).

    `rules`: the hall rules in force (app/services/hall_rules.py), the environment's until a saved version is
    loaded; services read it when they decide, so a change reaches them without rebuilding anything."""

    db: Database
    bus: Bus | None
    settings: Settings
    cipher: FieldCipher
    limits: Limits
    hall_id: int
    clock: Callable[[], dt.datetime] = utcnow
    rules: RulesHolder = field(default_factory=RulesHolder)

    def __post_init__(self) -> None:
        self.rules.start_from(self.settings)


def build_deps(settings: Settings, db: Database, bus: Bus | None, *, hall_id: int) -> Deps:
    """The process's one Deps: fields sealed with the key of SECRET_KEY, limits counted in Redis when
    REDIS_URL is set (the database otherwise)."""
    return Deps(
        db=db,
        bus=bus,
        settings=settings,
        cipher=FieldCipher({'k1': settings.secret}, 'k1'),
        limits=build_limits(db, redis_url=settings.redis_url, key=settings.key(Purpose.LIMITS)),
        hall_id=hall_id,
    )
