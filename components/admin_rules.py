"""/admin's hall rules: each rule with what it does, its bounds and its default; save; the change history.

It draws and forwards only: HallRulesService checks every value and decides who may save. The fields are
checked against the same bounds as the admin types (`Bound.check`), so a mistake is marked at its field
before anything is sent; a save made meanwhile by another admin is refused and the form reloads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

from nicegui import ui

from app.services.errors import Conflict, DomainError
from app.services.hall_rules import BOUNDS, RULE_NAMES, Bound, HallRulesService, RulesView
from app.services.principal import Principal
from components import admin_rules_texts as _texts  # noqa: F401 - registers the texts
from components.testids import tid
from components.texts import error_text, t

Caller = Callable[[], Awaitable[Principal | None]]


def shown(name: str, value: Any) -> str:
    """A rule's value in words (a choice by its label, a whole number without '.0')."""
    if name == 'evaluation_scale':
        return t(f'admin.rule.choice.{value}')
    if name == 'rectification_working_days':
        return t('admin.rule.choice.days', n=value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def bounds_text(bound: Bound) -> str:
    """What may be typed (a choice needs no words: the list offers only what is allowed)."""
    if bound.choices:
        return ''
    low, high = shown(bound.name, bound.low), shown(bound.name, bound.high)
    return t('admin.rules.above' if bound.above else 'admin.rules.range', low=low, high=high)


class RulesPanel:
    def __init__(self, rules: HallRulesService, caller: Caller, *, tz: ZoneInfo) -> None:
        self.rules = rules
        self.caller = caller
        self.tz = tz
        self.version = 0
        self.inputs: dict[str, ui.number | ui.select] = {}
        self.errors: dict[str, ui.label] = {}
        self.bounds: dict[str, ui.label] = {}
        with tid(ui.card(), 'admin-rules').classes('w-full p-4 gap-3'):
            ui.label(t('admin.rules')).classes('text-lg font-bold')
            ui.label(t('admin.rules.hint')).classes('text-sm text-grey-7')
            self.source = tid(ui.label(), 'admin-rules-source').classes('text-sm')
            with (
                ui.element('div')
                .classes('w-full grid gap-3')
                .style('grid-template-columns: repeat(auto-fill, minmax(22rem, 1fr))')
            ):
                for name in RULE_NAMES:
                    self._field(BOUNDS[name])
            with ui.row().classes('w-full justify-end gap-2'):
                reset = tid(ui.button(t('admin.rules.reset'), on_click=self.refresh), 'admin-rules-reset')
                reset.props('flat')
                save = tid(ui.button(t('admin.rules.save'), on_click=self.save), 'admin-rules-save')
                save.props('unelevated icon=save')
        with tid(ui.card(), 'admin-rules-history').classes('w-full p-4 gap-2'):
            ui.label(t('admin.rules.history')).classes('text-lg font-bold')
            self.history = ui.column().classes('w-full gap-2')

    def _field(self, bound: Bound) -> None:
        name = bound.name
        with tid(ui.column(), f'admin-rule-{name}').classes('gap-1 bg-grey-1 rounded p-3'):
            ui.label(t(f'admin.rule.{name}')).classes('font-bold')
            ui.label(t(f'admin.rule.{name}.hint')).classes('text-sm text-grey-8')
            if bound.choices:
                options = {choice: shown(name, choice) for choice in bound.choices}
                field: ui.number | ui.select = ui.select(options).props('outlined dense')
            else:
                step = 1 if bound.kind is int else 0.1 if name == 'booking_share' else 0.5
                field = ui.number(step=step).props('outlined dense')
            self.inputs[name] = tid(field, f'admin-rule-{name}-input').classes('w-full')
            field.props['aria-label'] = t(f'admin.rule.{name}')  # the field's name is the rule's title above it
            field.on_value_change(lambda _, n=name: self._check(n))
            self.bounds[name] = tid(ui.label(bounds_text(bound)), f'admin-rule-{name}-bounds')
            self.bounds[name].classes('text-xs text-grey-8')
            self.errors[name] = tid(ui.label(), f'admin-rule-{name}-error').classes('text-sm text-negative')
            self.errors[name].set_visibility(False)

    def _check(self, name: str) -> bool:
        """Mark the field when its value is outside the rule's bounds (the service checks again on save)."""
        try:
            BOUNDS[name].check(self.inputs[name].value)
        except DomainError as error:
            self._mark(name, error_text(error))
            return False
        self._mark(name, '')
        return True

    def _mark(self, name: str, text: str) -> None:
        self.errors[name].set_text(text)
        self.errors[name].set_visibility(bool(text))

    def _time(self, moment: dt.datetime) -> str:
        aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
        return aware.astimezone(self.tz).strftime('%Y-%m-%d %H:%M')

    async def refresh(self) -> None:
        caller = await self.caller()
        if caller is None:
            return
        try:
            view = await self.rules.view(caller)
            history = await self.rules.history(caller)
        except DomainError as error:
            ui.notify(error_text(error), type='negative')
            return
        self._show(view)
        self.history.clear()
        with self.history:
            if not history:
                ui.label(t('admin.rules.history.none')).classes('text-grey-7')
            for change in history:
                with tid(ui.column(), f'admin-rules-version-{change.version}').classes('gap-0 border-b pb-2 w-full'):
                    at = self._time(change.at)
                    row = t('admin.rules.history.row', version=change.version, at=at, actor=change.actor)
                    ui.label(row).classes('text-sm font-bold')
                    for name, (old, new) in change.changes.items():
                        text = t(
                            'admin.rules.history.change',
                            rule=t(f'admin.rule.{name}'),
                            old=shown(name, old),
                            new=shown(name, new),
                        )
                        ui.label(text).classes('text-sm')

    def _show(self, view: RulesView) -> None:
        self.version = view.version
        current, defaults = view.rules.as_data(), view.defaults.as_data()
        for name in RULE_NAMES:
            self.inputs[name].value = current[name]
            default = t('admin.rules.default', value=shown(name, defaults[name]))
            self.bounds[name].set_text(' · '.join(filter(None, (bounds_text(BOUNDS[name]), default))))
            self._mark(name, '')
        source = t('admin.rules.from_version', version=view.version) if view.version else t('admin.rules.from_defaults')
        self.source.set_text(source)

    async def save(self) -> None:
        if not all([self._check(name) for name in RULE_NAMES]):
            ui.notify(t('admin.rules.fix'), type='warning')
            return
        caller = await self.caller()
        if caller is None:
            return
        values = {name: self.inputs[name].value for name in RULE_NAMES}
        try:
            view = await self.rules.change(caller, values, base_version=self.version)
        except Conflict as error:
            ui.notify(error_text(error), type='warning')
            await self.refresh()
            return
        except DomainError as error:
            rule = str(error.params.get('rule', ''))
            if rule in self.errors:
                self._mark(rule, error_text(error))
            ui.notify(error_text(error), type='negative')
            return
        if view.version == self.version:
            ui.notify(t('admin.rules.unchanged'))
        else:
            ui.notify(t('admin.rules.saved', version=view.version), type='positive')
        await self.refresh()
