"""Hall rules an admin may change while the hall runs: the fairness cap, recalls, the rating scale, the elder
age and the booking limits.

The environment (app/settings.py) gives each rule's default and its bounds; a saved version (config_version,
kind 'rules') overrides the defaults. Every process keeps the current rules in one `RulesHolder` on its
`Deps`, and services read it at the moment they decide (`Service.rules`), never a copy taken when they were
built: a change applies on the next call, here at once, in other processes when `HallConfigChanged` arrives.
Booking slot length is not here: changing it would move the slots citizens have already booked.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

from annotated_types import Ge, Gt, Le
from sqlmodel import col, select

from app.bus import Subscription
from app.events import Event, HallConfigChanged
from app.models.config_version import ConfigVersion
from app.models.people import Role
from app.services.config_versions import ConfigHistory, save_version
from app.services.errors import Conflict, Invalid
from app.services.principal import Principal
from app.services.uow import Service
from app.settings import RECTIFICATION_WORKING_DAYS, Settings

log = logging.getLogger(__name__)

KIND = 'rules'
SUBJECT = ''


@dataclass(frozen=True)
class HallRules:
    """The editable rules, all at once: one value is read per decision, so a decision never mixes versions."""

    fairness_cap_minutes: float
    recalls_before_no_show: int
    recall_interval_seconds: float
    evaluation_scale: str
    rectification_working_days: int
    elderly_age: int
    booking_max_live: int
    booking_days_ahead: int
    booking_share: float
    no_show_limit: int
    no_show_window_days: int
    booking_block_days: int

    @classmethod
    def from_settings(cls, settings: Settings) -> HallRules:
        """The environment's values: the rules of a hall whose admin has not changed any."""
        return cls(**{name: getattr(settings, name) for name in RULE_NAMES})

    def as_data(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def over(self, data: Mapping[str, Any]) -> HallRules:
        """These rules with the stored values that still fit their bounds (a value the environment's bounds
        no longer allow keeps this default, logged, so a narrowed bound never stops the hall)."""
        changes: dict[str, Any] = {}
        for name, value in data.items():
            if name not in BOUNDS:
                continue
            try:
                changes[name] = BOUNDS[name].check(value)
            except Invalid:
                log.warning(
                    'stored hall rule %s=%r is outside its bounds: the default %r applies',
                    name,
                    value,
                    getattr(self, name),
                )
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Bound:
    """What one rule may be: a whole number or a number within [low, high] (low excluded when `above`), or one
    of `choices`. Taken from the Settings field so the console and the environment agree."""

    name: str
    kind: type
    low: float | None = None
    above: bool = False
    high: float | None = None
    choices: tuple[Any, ...] = ()

    def check(self, value: Any) -> Any:
        """The value as the rule stores it, or Invalid with a code that says what is wrong."""
        if self.choices:
            if value not in self.choices or isinstance(value, bool):
                raise Invalid('rule_choice', rule=self.name, choices=' / '.join(str(c) for c in self.choices))
            return self.kind(value)
        number = _number(value, self.name)
        if self.kind is int and not float(number).is_integer():
            raise Invalid('rule_whole', rule=self.name)
        too_low = self.low is not None and (number <= self.low if self.above else number < self.low)
        too_high = self.high is not None and number > self.high
        if (too_low or too_high) and self.above:
            raise Invalid('rule_above', rule=self.name, low=_plain(self.low), high=_plain(self.high))
        if too_low or too_high:
            raise Invalid('rule_range', rule=self.name, low=_plain(self.low), high=_plain(self.high))
        return int(number) if self.kind is int else float(number)


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise Invalid('rule_number', rule=name)
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise Invalid('rule_number', rule=name) from None
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise Invalid('rule_number', rule=name)
    return float(value)


def _plain(value: float | None) -> str:
    if value is None:
        return '∞'
    return str(int(value)) if float(value).is_integer() else str(value)


def _bound(name: str) -> Bound:
    field = Settings.model_fields[name]
    annotation = field.annotation
    if get_origin(annotation) is Literal:
        return Bound(name, str, choices=get_args(annotation))
    if name == 'rectification_working_days':
        return Bound(name, int, choices=RECTIFICATION_WORKING_DAYS)
    bound = Bound(name, int if annotation is int else float)
    for rule in field.metadata:
        if isinstance(rule, Ge):
            bound = dataclasses.replace(bound, low=float(rule.ge))  # type: ignore[arg-type]
        elif isinstance(rule, Gt):
            bound = dataclasses.replace(bound, low=float(rule.gt), above=True)  # type: ignore[arg-type]
        elif isinstance(rule, Le):
            bound = dataclasses.replace(bound, high=float(rule.le))  # type: ignore[arg-type]
    return bound


RULE_NAMES: tuple[str, ...] = tuple(field.name for field in dataclasses.fields(HallRules))
BOUNDS: dict[str, Bound] = {name: _bound(name) for name in RULE_NAMES}


class RulesHolder:
    """The process's current rules: one object shared by every service of a `Deps`, replaced whole on a change."""

    def __init__(self) -> None:
        self._rules: HallRules | None = None
        self.defaults: HallRules | None = None
        self.version = 0  # the stored version in force; 0: the environment's defaults

    def start_from(self, settings: Settings) -> None:
        """Begin with the environment's values (once: a holder shared by copies of a Deps keeps its rules)."""
        if self._rules is None:
            self.defaults = self._rules = HallRules.from_settings(settings)

    @property
    def current(self) -> HallRules:
        if self._rules is None:
            raise RuntimeError('the hall rules were read before their Deps set them')
        return self._rules

    def set(self, rules: HallRules, version: int) -> None:
        """Take `rules` unless a newer version is already in force (events may arrive after a direct set)."""
        if version >= self.version:
            self._rules, self.version = rules, version


@dataclass(frozen=True)
class RulesChange:
    """One saved version as the console's history shows it: who, when, and rule -> (before, after)."""

    version: int
    at: dt.datetime
    actor: str
    changes: dict[str, tuple[Any, Any]]


@dataclass(frozen=True)
class RulesView:
    """What the console shows: the rules in force, the environment's defaults and the version they come from."""

    rules: HallRules
    defaults: HallRules
    version: int


class HallRulesService(Service):
    """Reads the newest saved rules into the holder, follows changes from any process, and lets admins change them."""

    _subscription: Subscription | None = None

    @property
    def holder(self) -> RulesHolder:
        return self.deps.rules

    @property
    def _defaults(self) -> HallRules:
        assert self.holder.defaults is not None  # Deps starts its holder from the settings
        return self.holder.defaults

    async def start(self) -> None:
        """Load the newest version, then follow `HallConfigChanged(kind='rules')` from the bus."""
        await self.load()
        if self.bus is not None:
            self._subscription = self.bus.subscribe(self.on_event, HallConfigChanged, name='hall-rules')

    async def stop(self) -> None:
        if self._subscription is not None and self.bus is not None:
            self.bus.unsubscribe(self._subscription)
            self._subscription = None

    async def load(self) -> HallRules:
        """The newest saved version over the environment's defaults, put in force."""
        async with self.db.read_session() as s:
            row = (await s.execute(self._newest())).scalars().first()
        if row is not None:
            self.holder.set(self._defaults.over(row.data), row.version)
        return self.holder.current

    async def on_event(self, event: Event) -> None:
        if (
            isinstance(event, HallConfigChanged)
            and event.kind == KIND
            and event.hall_id == self.hall_id
            and event.version > self.holder.version
        ):
            await self.load()

    async def view(self, caller: Principal) -> RulesView:
        """The rules as stored now (read again: an event this process missed must not leave the form stale)."""
        caller.require(Role.ADMIN)
        await self.load()
        return RulesView(self.holder.current, self._defaults, self.holder.version)

    async def change(
        self, caller: Principal, changes: Mapping[str, Any], *, base_version: int | None = None
    ) -> RulesView:
        """Check every value against its bounds, then save the whole rule set as the next version (audited,
        announced). `base_version`: the version the admin edited; if someone saved since, Conflict and nothing
        changes. Unchanged values save nothing."""
        caller.require(Role.ADMIN)
        checked: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in BOUNDS:
                raise Invalid('rule_unknown', rule=str(name)[:40])
            checked[name] = BOUNDS[name].check(value)
        async with self._transaction() as uow:
            row = (await uow.session.execute(self._newest().with_for_update())).scalars().first()
            stored = row.version if row is not None else 0
            if base_version is not None and base_version != stored:
                raise Conflict('rules_changed')
            before = self._defaults.over(row.data) if row is not None else self._defaults
            rules = dataclasses.replace(before, **checked)
            if rules == before:
                return RulesView(before, self._defaults, stored)
            saved = await save_version(
                uow, caller, hall_id=self.hall_id, kind=KIND, subject=SUBJECT, data=rules.as_data(), now=self.clock()
            )
        self.holder.set(rules, saved.version)
        return RulesView(rules, self._defaults, saved.version)

    async def history(self, caller: Principal, *, limit: int = 20) -> list[RulesChange]:
        """The newest saved versions, each with what it changed against the one before (the defaults before
        the first)."""
        versions = await ConfigHistory(self.deps).versions(caller, kind=KIND, subject=SUBJECT, limit=limit + 1)
        shown: list[RulesChange] = []
        for index, row in enumerate(versions[:limit]):
            older = versions[index + 1] if index + 1 < len(versions) else None
            before = self._defaults.over(older.data) if older is not None else self._defaults
            after = self._defaults.over(row.data)
            shown.append(RulesChange(row.version, row.created_at, row.actor, _changes(before, after)))
        return shown

    def _newest(self) -> Any:
        return (
            select(ConfigVersion)
            .where(ConfigVersion.hall_id == self.hall_id, ConfigVersion.kind == KIND, ConfigVersion.subject == SUBJECT)
            .order_by(col(ConfigVersion.version).desc())
            .limit(1)
        )


def _changes(before: HallRules, after: HallRules) -> dict[str, tuple[Any, Any]]:
    old, new = before.as_data(), after.as_data()
    return {name: (old[name], new[name]) for name in RULE_NAMES if old[name] != new[name]}
