"""/admin's audit log: filter (actor, action, days), a page of rows, the chain check in plain words, CSV export.

It draws and forwards only: AuditBrowser decides who may read, masks what is shown and audits each export.
Rows come masked; actions, roles and outcomes are shown by name, details as "key: value" (never raw JSON).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from app.services.audit_browser import AuditBrowser, AuditFilter, AuditPage, AuditRow, ChainCheck
from app.services.errors import DomainError
from app.services.principal import Principal
from components import admin_audit_texts as _texts  # noqa: F401 - registers the texts
from components.readable import table_scroll
from components.testids import tid
from components.texts import TEXTS, error_text, t

Caller = Callable[[], Awaitable[Principal | None]]
COLUMNS = ('id', 'at', 'actor', 'role', 'action', 'target', 'outcome', 'detail', 'address')


def named(family: str, code: str) -> str:
    """A code's name when the console has one ('ticket_called' -> 叫号), else the code as the log has it."""
    key = f'admin.audit.{family}.{code}'
    return t(key) if key in TEXTS else code


def detail_text(detail: dict[str, Any]) -> str:
    """'rows: 3；filter.actor: adm01': nested keys joined by dots, lists by 、, empty parts left out."""

    def parts(prefix: str, value: Any) -> list[str]:
        if isinstance(value, dict):
            return [part for key, item in value.items() for part in parts(f'{prefix}.{key}' if prefix else key, item)]
        if isinstance(value, list):
            return [f'{prefix}: {"、".join(str(item) for item in value)}'] if value else []
        return [] if value is None or value == '' else [f'{prefix}: {value}']

    return '；'.join(parts('', detail))


def check_text(check: ChainCheck) -> str:
    """The chain check's answer as sentences an admin reads without knowing how the chain works."""
    if check.problem:
        lines = [t(f'admin.audit.broken.{check.problem}', row=check.bad_row_id)]
    else:
        lines = [t('admin.audit.ok', rows=check.rows)]
        anchors = 'admin.audit.ok.anchors' if check.anchors_held else 'admin.audit.ok.no_anchors'
        lines.append(t(anchors, held=check.anchors_held))
    if check.anchors_rejected:
        lines.append(t('admin.audit.anchors.rejected', n=check.anchors_rejected))
    if check.anchors_unreadable:
        lines.append(t('admin.audit.anchors.unreadable', n=check.anchors_unreadable))
    return ' '.join(lines)


class AuditPanel:
    def __init__(self, browser: AuditBrowser, caller: Caller) -> None:
        self.browser = browser
        self.caller = caller
        self.page = 1
        with tid(ui.card(), 'admin-audit').classes('w-full p-4 gap-3'):
            ui.label(t('admin.audit')).classes('text-lg font-bold')
            ui.label(t('admin.audit.hint')).classes('text-sm text-grey-7')
            with ui.row().classes('w-full items-start gap-3'):
                self.actor = tid(ui.input(t('admin.audit.actor')), 'admin-audit-actor').props(
                    'outlined dense clearable'
                )
                self.actor.classes('w-48')
                self.action = tid(
                    ui.select({'': t('admin.audit.any')}, value='', label=t('admin.audit.action')), 'admin-audit-action'
                )
                self.action.props('outlined dense').classes('w-48')
                self.since = tid(ui.input(t('admin.audit.since')), 'admin-audit-since').classes('w-40')
                self.since.props('outlined dense stack-label type=date')
                self.until = tid(ui.input(t('admin.audit.until')), 'admin-audit-until').classes('w-40')
                self.until.props('outlined dense stack-label type=date')
                search = tid(ui.button(t('admin.audit.search'), on_click=self.search), 'admin-audit-search')
                search.props('unelevated icon=search')
                verify = tid(ui.button(t('admin.audit.verify'), on_click=self.verify), 'admin-audit-verify')
                verify.props('outline icon=verified')
                export = tid(ui.button(t('admin.audit.export'), on_click=self.export), 'admin-audit-export')
                export.props('outline icon=download')
            self.problem = tid(ui.label(), 'admin-audit-problem').classes('text-sm text-negative')
            self.problem.set_visibility(False)
            self.check = tid(ui.label(), 'admin-audit-check').classes('text-sm p-2 rounded w-full')
            self.check.set_visibility(False)
            columns = [
                {'name': name, 'label': t(f'admin.audit.col.{name}'), 'field': name, 'align': 'left'}
                for name in COLUMNS
            ]
            with table_scroll(t('admin.audit')):
                self.table = tid(ui.table(columns=columns, rows=[], row_key='id'), 'admin-audit-table')
            self.table.classes('w-full')
            self.table.props('dense flat wrap-cells :pagination="{rowsPerPage: 0}" hide-bottom')
            with ui.row().classes('w-full items-center justify-end gap-2'):
                self.count = tid(ui.label(), 'admin-audit-count').classes('text-sm text-grey-8')
                self.prev = tid(ui.button(t('admin.audit.prev'), on_click=lambda: self.turn(-1)), 'admin-audit-prev')
                self.prev.props('flat dense icon=chevron_left')
                self.next = tid(ui.button(t('admin.audit.next'), on_click=lambda: self.turn(1)), 'admin-audit-next')
                self.next.props('flat dense icon-right=chevron_right')

    # ---- reading -----------------------------------------------------------------------------------

    def _filter(self) -> AuditFilter | None:
        """The filter as typed; a date that is not one is said next to the filters and nothing is read."""
        try:
            since = dt.date.fromisoformat(self.since.value) if self.since.value else None
            until = dt.date.fromisoformat(self.until.value) if self.until.value else None
        except ValueError:
            self._say_problem(t('admin.audit.bad_date'))
            return None
        return AuditFilter(self.actor.value or '', self.action.value or '', since, until)

    def _say_problem(self, text: str) -> None:
        self.problem.set_text(text)
        self.problem.set_visibility(bool(text))

    async def refresh(self) -> None:
        caller = await self.caller()
        if caller is None:
            return
        try:
            actions = await self.browser.actions(caller)
        except DomainError as error:
            ui.notify(error_text(error), type='negative')
            return
        self.action.set_options({'': t('admin.audit.any'), **{code: named('action', code) for code in actions}})
        await self.show()

    async def search(self) -> None:
        self.page = 1
        await self.show()

    async def turn(self, step: int) -> None:
        self.page = max(1, self.page + step)
        await self.show()

    async def show(self) -> None:
        wanted = self._filter()
        caller = await self.caller()
        if wanted is None or caller is None:
            return
        try:
            found = await self.browser.entries(caller, wanted, page=self.page)
        except DomainError as error:
            self._say_problem(error_text(error))
            return
        self._say_problem('')
        self._draw(found)

    def _draw(self, found: AuditPage) -> None:
        self.page = found.page
        self.table.rows = [self._cells(row) for row in found.rows]
        self.table.update()
        if found.total:
            self.count.set_text(t('admin.audit.count', total=found.total, page=found.page, pages=found.pages))
        else:
            self.count.set_text(t('admin.audit.none'))
        self.prev.set_enabled(found.page > 1)
        self.next.set_enabled(found.page < found.pages)

    @staticmethod
    def _cells(row: AuditRow) -> dict[str, Any]:
        return {
            'id': row.id,
            'at': row.at.strftime('%Y-%m-%d %H:%M:%S'),
            'actor': row.actor,
            'role': named('role', row.role),
            'action': named('action', row.action),
            'target': named('target', row.target),
            'outcome': named('outcome', row.outcome),
            'detail': detail_text(row.detail),
            'address': row.client_address,
        }

    # ---- checking and exporting --------------------------------------------------------------------

    async def verify(self) -> None:
        caller = await self.caller()
        if caller is None:
            return
        try:
            check = await self.browser.check(caller)
        except DomainError as error:
            ui.notify(error_text(error), type='negative')
            return
        self.check.set_text(check_text(check))
        self.check.classes(remove='bg-green-1 bg-red-1 text-negative')
        self.check.classes('bg-green-1' if check.ok else 'bg-red-1 text-negative')
        self.check.set_visibility(True)

    async def export(self) -> None:
        wanted = self._filter()
        caller = await self.caller()
        if wanted is None or caller is None:
            return
        try:
            exported = await self.browser.export(caller, wanted)
        except DomainError as error:
            self._say_problem(error_text(error))
            return
        self._say_problem('')
        ui.download.content(exported.content, exported.filename, 'text/csv')
        ui.notify(t('admin.audit.exported', rows=exported.rows), type='positive')
        await self.show()
