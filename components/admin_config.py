"""/admin's hall setup: services, windows and zones with edit dialogs, the change history, export and import.

It draws and forwards only: HallConfigService checks the caller (admins) and the whole hall before it
writes, and its refusal is shown as text in the dialog, which stays open. The admin's principal comes
fresh from `caller()` before every action.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any
from zoneinfo import ZoneInfo

from nicegui import events, ui

from app.events import Event
from app.services.config_versions import ConfigHistory
from app.services.errors import DomainError
from app.services.hall_config import MAX_ZIP_BYTES, HallConfigService
from app.services.hall_spec import Seed, ServiceSpec, WindowSpec, ZoneSpec
from app.services.principal import Principal
from app.services.window_hours import OpeningPeriod
from components import admin_config_texts as _texts  # noqa: F401 - registers the texts
from components.file_field import file_field
from components.hours_texts import hours_text
from components.testids import tid
from components.texts import error_text, in_english, t

Caller = Callable[[], Awaitable[Principal | None]]
Save = Callable[[Principal], Awaitable[object]]
TIERS = range(1, 10)


class ConfigPanel:
    def __init__(self, config: HallConfigService, history: ConfigHistory, caller: Caller, *, tz: ZoneInfo) -> None:
        self.config = config
        self.history = history
        self.caller = caller
        self.tz = tz
        self.hall: Seed | None = None
        with tid(ui.column(), 'admin-config').classes('w-full gap-4'):
            ui.label(t('config.hint')).classes('text-sm text-grey-7')
            self.problem = tid(ui.label(), 'config-problem').classes('text-negative')
            with ui.card().classes('w-full p-4 gap-2'):
                ui.label(t('config.transfer')).classes('text-lg font-bold')
                ui.label(t('config.transfer.hint')).classes('text-sm text-grey-7')
                with ui.row().classes('w-full items-center gap-4'):
                    export = tid(ui.button(t('config.export'), on_click=self.export), 'config-export')
                    export.props('unelevated icon=download')
                    upload = ui.upload(on_upload=self.imported, auto_upload=True, max_file_size=MAX_ZIP_BYTES)
                    file_field(upload, label=t('config.import'), accept='.zip,application/zip')
                    tid(upload, 'config-import').props('flat bordered').classes('w-80 max-w-full')
                self.transfer_error = tid(ui.label(), 'config-import-error').classes('text-negative text-sm')
            self.services = self._section('config.services', 'config-services', lambda: self.edit_service(None))
            self.windows = self._section('config.windows', 'config-windows', lambda: self.edit_window(None))
            self.zones = self._section('config.zones', 'config-zones', lambda: self.edit_zone(None))
            with ui.card().classes('w-full p-4 gap-2'):
                ui.label(t('config.history')).classes('text-lg font-bold')
                self.versions = tid(ui.column(), 'config-history').classes('w-full gap-1 text-sm')

    def _section(self, title: str, testid: str, add: Callable[[], None]) -> ui.column:
        with ui.card().classes('w-full p-4 gap-2'):
            with ui.row().classes('w-full items-center justify-between'):
                ui.label(t(title)).classes('text-lg font-bold')
                tid(ui.button(t('config.add'), on_click=add), f'{testid}-add').props('outline icon=add')
            return tid(ui.column(), testid).classes('w-full gap-2')

    # ---- drawing ---------------------------------------------------------------------------------

    async def refresh(self) -> None:
        caller = await self.caller()
        if caller is None:
            return
        try:
            self.hall = await self.config.describe(caller)
            versions = await self.history.versions(caller, limit=30)
        except DomainError as error:  # a hall stored against today's rules: say what to fix, offer import
            self.problem.set_text(error_text(error))
            return
        self.problem.set_text('')
        hall = self.hall
        names = self._service_names()
        self.services.clear()
        with self.services:
            for service in hall.services:
                self._row(
                    f'config-service-{service.code}',
                    _named(service.name, service.name_en),
                    [
                        service.description,
                        '  ·  '.join(
                            (
                                t('config.sla', days=service.sla_days),
                                t('config.materials_count', count=len(service.materials)),
                                t('config.questions_count', count=len(service.questions)),
                            )
                        ),
                    ],
                    lambda s=service: self.edit_service(s),
                )
        zones = {zone.code: zone for zone in hall.hall.zones}
        self.windows.clear()
        with self.windows:
            for window in hall.windows:
                serves = '、'.join(
                    names.get(x.code, x.code) + (t('config.tier', tier=x.priority) if x.priority > 1 else '')
                    for x in window.services
                )
                zone = zones.get(window.zone)
                self._row(
                    f'config-window-{window.number}',
                    window.name,
                    [
                        ' · '.join(
                            (_named(zone.name, zone.name_en) if zone else '', t(f'config.state.{window.state}'))
                        ),
                        t('config.window.serves', services=serves),
                        t('hours.label', hours=hours_text(window.hours)),
                    ],
                    lambda w=window: self.edit_window(w),
                )
        self.zones.clear()
        with self.zones:
            for zone in hall.hall.zones:
                rect = t('config.zone.rect', x=_n(zone.x), y=_n(zone.y), width=_n(zone.width), height=_n(zone.height))
                self._row(
                    f'config-zone-{zone.code}',
                    _named(zone.name, zone.name_en),
                    [rect],
                    lambda z=zone: self.edit_zone(z),
                )
        self.versions.clear()
        with self.versions:
            if not versions:
                ui.label(t('config.history.none')).classes('text-grey-7')
            for version in versions:
                tid(ui.label(), 'config-version').set_text(
                    t(
                        'config.history.row',
                        when=version.created_at.astimezone(self.tz).strftime('%Y-%m-%d %H:%M'),
                        who=version.actor,
                        what=t(f'config.kind.{version.kind}'),
                        subject=self._subject(version.kind, version.subject),
                        version=version.version,
                    )
                )

    async def on_config(self, _event: Event) -> None:
        """Saved here or by another admin, in any process: show the hall as it now is."""
        await self.refresh()

    def _row(self, testid: str, title: str, lines: list[str], edit: Callable[[], None]) -> None:
        with tid(ui.row(), testid).classes('w-full items-center gap-4 border rounded p-3 no-wrap'):
            with ui.column().classes('gap-0 grow min-w-0'):
                tid(ui.label(title), f'{testid}-title').classes('font-bold')
                for line in lines:
                    if line:
                        tid(ui.label(line), f'{testid}-line').classes('text-sm text-grey-7')
            tid(ui.button(t('config.edit'), on_click=edit), f'{testid}-edit').props('flat icon=edit')

    def _service_names(self) -> dict[str, str]:
        return {s.code: _named(s.name, s.name_en) for s in self.hall.services} if self.hall else {}

    def _subject(self, kind: str, subject: str) -> str:
        if kind == 'window' and subject:
            return t('config.window.title', number=subject)
        if kind == 'zone' and self.hall:
            zone = next((z for z in self.hall.hall.zones if z.code == subject), None)
            return _named(zone.name, zone.name_en) if zone else ''
        if kind in ('service', 'workflow'):
            return self._service_names().get(subject, '')
        return ''

    # ---- dialogs -------------------------------------------------------------------------------------

    def edit_service(self, service: ServiceSpec | None) -> None:
        hall = self.hall
        if hall is None:
            return
        departments = {d.code: _named(d.name, d.name_en) for d in hall.departments}
        windows = {w.number: w.name for w in hall.windows}
        with _dialog('config-service-dialog') as dialog:
            code = self._input('config.field.code', service.code if service else '', 'config-service-code')
            code.set_enabled(service is None)
            name = self._input('config.field.name', service.name if service else '', 'config-service-name')
            name_en = self._input('config.field.name_en', service.name_en if service else '', 'config-service-name-en')
            description = tid(
                ui.textarea(t('config.field.description'), value=service.description if service else ''),
                'config-service-description',
            )
            description.classes('w-full')
            department = tid(
                ui.select(
                    departments, label=t('config.field.department'), value=service.department if service else None
                ),
                'config-service-department',
            ).classes('w-full')
            with ui.row().classes('w-full gap-3 no-wrap'):
                prefix = self._input(
                    'config.field.prefix', service.ticket_prefix if service else '', 'config-service-prefix'
                )
                sla = self._number('config.field.sla', service.sla_days if service else 5, 'config-service-sla')
                minutes = self._number(
                    'config.field.minutes', service.avg_handling_minutes if service else 10, 'config-service-minutes'
                )
                threshold = self._number(
                    'config.field.threshold',
                    service.queue_alert_threshold if service else 15,
                    'config-service-threshold',
                )
            materials = tid(
                ui.textarea(
                    t('config.field.materials'),
                    value='\n'.join(f'{m.name} / {m.name_en}' for m in service.materials) if service else '',
                ),
                'config-service-materials',
            ).classes('w-full')
            questions: list[tuple[ui.input, ui.input]] = []
            for n, question in enumerate(service.questions if service else [], start=1):
                questions.append(
                    (
                        self._input_text(t('config.field.question', n=n), question.text, f'config-service-q{n}'),
                        self._input_text(
                            t('config.field.question_en', n=n), question.text_en, f'config-service-q{n}-en'
                        ),
                    )
                )
            first = None
            if service is None:
                first = tid(ui.select(windows, label=t('config.field.first_window')), 'config-service-window').classes(
                    'w-full'
                )

            async def save(caller: Principal) -> object:
                old = {m.name: m for m in service.materials} if service else {}
                data: dict[str, Any] = {
                    'code': (code.value or '').strip(),
                    'name': name.value,
                    'name_en': name_en.value,
                    'description': description.value,
                    'department': department.value or '',
                    'ticket_prefix': (prefix.value or '').strip(),
                    'sla_days': _int(sla.value),
                    'avg_handling_minutes': minutes.value or 0,
                    'queue_alert_threshold': _int(threshold.value),
                    'materials': [
                        _material(line, old) for line in (materials.value or '').splitlines() if line.strip()
                    ],
                    'questions': [
                        {**q.model_dump(), 'text': zh.value, 'text_en': en.value}
                        for q, (zh, en) in zip(service.questions if service else [], questions, strict=True)
                    ],
                }
                served = {int(first.value): 1} if first is not None and first.value is not None else None
                return await self.config.save_service(caller, data, new=service is None, served_by=served)

            self._buttons(dialog, save)

    def edit_window(self, window: WindowSpec | None) -> None:
        hall = self.hall
        if hall is None:
            return
        zones = {z.code: _named(z.name, z.name_en) for z in hall.hall.zones}
        tiers = {x.code: x.priority for x in window.services} if window else {}
        with _dialog('config-window-dialog') as dialog:
            with ui.row().classes('w-full gap-3 no-wrap'):
                number = self._number('config.field.number', window.number if window else None, 'config-window-number')
                number.set_enabled(window is None)
                name = self._input('config.field.name', window.name if window else '', 'config-window-name')
            zone = tid(
                ui.select(zones, label=t('config.field.zone'), value=window.zone if window else None),
                'config-window-zone',
            )
            zone.classes('w-full')
            with ui.row().classes('w-full gap-3 no-wrap'):
                x = self._number('config.field.x', window.x if window else None, 'config-window-x')
                y = self._number('config.field.y', window.y if window else None, 'config-window-y')
            ui.label(t('config.field.tiers')).classes('text-sm text-grey-7')
            choices = {0: t('config.tier.none'), **{tier: str(tier) for tier in TIERS}}
            picks: dict[str, ui.select] = {}
            with ui.grid(columns=2).classes('w-full gap-x-4 gap-y-1'):
                for service in hall.services:
                    pick = ui.select(
                        choices, label=_named(service.name, service.name_en), value=tiers.get(service.code, 0)
                    )
                    picks[service.code] = tid(pick, f'config-window-tier-{service.code}').props('dense')

            hours = _HoursRows(window.hours if window else [])

            async def save(caller: Principal) -> object:
                data = {
                    'number': _int(number.value),
                    'name': name.value,
                    'zone': zone.value or '',
                    'x': x.value if x.value is not None else -1,
                    'y': y.value if y.value is not None else -1,
                    'state': window.state if window else 'closed',
                    'services': [{'code': code, 'priority': pick.value} for code, pick in picks.items() if pick.value],
                    'hours': hours.values(),
                }
                return await self.config.save_window(caller, data, new=window is None)

            self._buttons(dialog, save)

    def edit_zone(self, zone: ZoneSpec | None) -> None:
        with _dialog('config-zone-dialog') as dialog:
            code = self._input('config.field.code', zone.code if zone else '', 'config-zone-code')
            code.set_enabled(zone is None)
            name = self._input('config.field.name', zone.name if zone else '', 'config-zone-name')
            name_en = self._input('config.field.name_en', zone.name_en if zone else '', 'config-zone-name-en')
            with ui.row().classes('w-full gap-3 no-wrap'):
                x = self._number('config.field.x', zone.x if zone else None, 'config-zone-x')
                y = self._number('config.field.y', zone.y if zone else None, 'config-zone-y')
                width = self._number('config.field.width', zone.width if zone else None, 'config-zone-width')
                height = self._number('config.field.height', zone.height if zone else None, 'config-zone-height')

            async def save(caller: Principal) -> object:
                data = {
                    'code': (code.value or '').strip(),
                    'name': name.value,
                    'name_en': name_en.value,
                    'x': x.value if x.value is not None else -1,
                    'y': y.value if y.value is not None else -1,
                    'width': width.value or 0,
                    'height': height.value or 0,
                }
                return await self.config.save_zone(caller, data, new=zone is None)

            self._buttons(dialog, save)

    # ---- dialog parts ----------------------------------------------------------------------------------

    def _buttons(self, dialog: ui.dialog, save: Save) -> None:
        """The refusal shows as text above the buttons; the dialog stays open with what was typed."""
        error = tid(ui.label(), 'config-error').classes('text-negative text-sm')
        save_row = ui.row().classes('w-full justify-end gap-2')

        async def saved() -> None:
            caller = await self.caller()
            if caller is None:
                return
            try:
                await save(caller)
            except DomainError as failure:
                error.set_text(error_text(failure))
                return
            dialog.close()
            ui.notify(t('config.saved'), type='positive')
            await self.refresh()

        with save_row:
            tid(ui.button(t('config.cancel'), on_click=dialog.close), 'config-cancel').props('flat')
            tid(ui.button(t('config.save'), on_click=saved), 'config-save').props('unelevated')

    @staticmethod
    def _input(key: str, value: str, testid: str) -> ui.input:
        return tid(ui.input(t(key), value=value), testid).classes('w-full')

    @staticmethod
    def _input_text(label: str, value: str, testid: str) -> ui.input:
        return tid(ui.input(label, value=value), testid).classes('w-full')

    @staticmethod
    def _number(key: str, value: float | None, testid: str) -> ui.number:
        return tid(ui.number(t(key), value=value), testid).classes('w-full')

    # ---- export and import -------------------------------------------------------------------------

    async def export(self) -> None:
        caller = await self.caller()
        if caller is None:
            return
        try:
            content = await self.config.export_zip(caller)
        except DomainError as error:
            ui.notify(error_text(error), type='negative')
            return
        stamp = dt.datetime.now(self.tz).strftime('%Y%m%d-%H%M')
        ui.download(content, f'hall-config-{stamp}.zip', 'application/zip')

    async def imported(self, event: events.UploadEventArguments) -> None:
        caller = await self.caller()
        if caller is None:
            return
        self.transfer_error.set_text('')
        try:
            hall = await self.config.import_zip(caller, await event.file.read())
        except DomainError as error:
            self.transfer_error.set_text(error_text(error))
            return
        ui.notify(
            t('config.imported', services=len(hall.services), windows=len(hall.windows), zones=len(hall.hall.zones)),
            type='positive',
        )
        await self.refresh()


def _named(zh: str, en: str) -> str:
    return en if in_english() and en else zh


def _n(value: float) -> str:
    return f'{value:g}'


def _int(value: float | None) -> int:
    return int(value) if value is not None else 0


def _material(line: str, old: dict[str, Any]) -> dict[str, Any]:
    """'中文 / English' as a material; one that keeps its Chinese name keeps its condition and data source."""
    zh, _, en = line.partition(' / ')
    kept = old.get(zh.strip())
    base = kept.model_dump(exclude_none=True) if kept is not None else {}
    return {**base, 'name': zh.strip(), 'name_en': en.strip() or zh.strip()}


class _HoursRows:
    """The window dialog's opening periods: a start, an end and weekdays per row; none keeps the hall's hours."""

    def __init__(self, periods: list[OpeningPeriod]) -> None:
        self.rows: list[tuple[ui.input, ui.input, ui.select]] = []
        ui.label(t('config.field.hours')).classes('text-sm text-grey-7')
        self.box = ui.column().classes('w-full gap-1')
        for period in periods:
            self.add(period)
        add = tid(ui.button(t('config.hours.add'), on_click=lambda: self.add(None)), 'config-window-hours-add')
        add.props('flat dense icon=add')

    def add(self, period: OpeningPeriod | None) -> None:
        n = len(self.rows)
        with self.box, ui.row().classes('w-full gap-2 no-wrap items-center') as row:
            start = tid(
                ui.input(t('config.field.hours_start'), value=period.start if period else '09:00'),
                f'config-window-hours-start-{n}',
            )
            end = tid(
                ui.input(t('config.field.hours_end'), value=period.end if period else '12:00'),
                f'config-window-hours-end-{n}',
            )
            for field in (start, end):
                field.props('dense mask="##:##"').classes('w-24')
            days = tid(
                ui.select(
                    {day: t(f'hours.day.{day}') for day in range(1, 8)},
                    multiple=True,
                    value=list(period.days) if period else [],
                    label=t('config.field.hours_days'),
                ),
                f'config-window-hours-days-{n}',
            )
            days.props('dense use-chips').classes('grow')
            entry = (start, end, days)
            remove = tid(ui.button(on_click=lambda: self.remove(entry, row)), f'config-window-hours-remove-{n}')
            remove.props(f'flat round dense icon=delete aria-label="{t("config.hours.remove")}"')
        self.rows.append(entry)

    def remove(self, entry: tuple[ui.input, ui.input, ui.select], row: ui.row) -> None:
        self.rows.remove(entry)
        row.delete()

    def values(self) -> list[dict[str, object]]:
        """What the form sends; the service checks each period (format, inside the hall's hours, no overlap)."""
        return [
            {'start': (start.value or '').strip(), 'end': (end.value or '').strip(), 'days': list(days.value or [])}
            for start, end, days in self.rows
        ]


@contextmanager
def _dialog(testid: str) -> Iterator[ui.dialog]:
    """A form dialog, opened once its fields are drawn and deleted when it closes."""
    with ui.dialog() as dialog, tid(ui.card(), testid).classes('p-6 gap-3 w-[44rem] max-w-full'):
        yield dialog
    dialog.on('hide', dialog.delete)
    dialog.open()
