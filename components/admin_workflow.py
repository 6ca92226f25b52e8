"""/admin's workflow editor (可视化流程引擎): a service's stages as rows, its parallel steps side by side.

Steps come from a palette of the standard kinds (受理, 审核, 并联审批, 秒批, 制证, 领取, ...); steps and whole
stages move by drag and drop (HTML5 drag events, as NiceGUI's trello_cards example does) or by their
buttons (keyboard). Every change is checked by WorkflowEditorService at once and the first fault shown in
plain words; saving is the service's too, with the admin's principal fresh from `caller()` each time.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

from nicegui import ui

from app.services.errors import DomainError
from app.services.principal import Principal
from app.services.workflow_editor import SOURCES, TIMED_KINDS, EditableWorkflow, WorkflowEditorService
from components import admin_workflow_texts as _texts  # noqa: F401 - registers the texts
from components.testids import tid
from components.texts import error_text, t

Caller = Callable[[], Awaitable[Principal | None]]
Stages = list[list[dict[str, Any]]]
PALETTE = ('accept', 'review', 'parallel', 'auto', 'conclude', 'certify', 'pickup', 'disburse')
RULE_KINDS = ('review', 'approve')
# Firefox starts a drag only when it carries data; what moves is known on the server (`dragged`)
DRAG_START = "(e) => { e.dataTransfer.setData('text/plain', ''); e.dataTransfer.effectAllowed = 'move'; emit(); }"


def new_nodes(item: str, draft: Stages) -> list[dict[str, Any]]:
    """The nodes a palette item adds: 并联审批 is two approvals side by side, 秒批 an approval with a rule."""
    if item == 'parallel':
        return [
            {'kind': 'approve', 'name': t('workflow.default.approve_n', n=n), 'sla_hours': 4}
            for n in _free_numbers(draft, 2)
        ]
    if item == 'auto':
        rule = {
            'rule': t('workflow.default.rule'),
            'description': t('workflow.default.auto_description'),
            'sources': ['identity'],
        }
        return [{'kind': 'approve', 'name': t('workflow.default.auto'), 'sla_hours': 4, 'auto': rule}]
    node: dict[str, Any] = {'kind': item, 'name': t(f'workflow.default.{item}')}
    if item in TIMED_KINDS:
        node['sla_days' if item in ('pickup', 'disburse') else 'sla_hours'] = 3 if item == 'pickup' else 4
    if item == 'certify':
        node['certificate'] = t('workflow.default.certificate')
    return [node]


def _free_numbers(draft: Stages, count: int) -> list[int]:
    """Numbers for new parallel approvals whose default names are not used yet."""
    taken = {node.get('name') for stage in draft for node in stage}
    found: list[int] = []
    n = 1
    while len(found) < count:
        if t('workflow.default.approve_n', n=n) not in taken:
            found.append(n)
        n += 1
    return found


class WorkflowEditorPanel:
    def __init__(self, editor: WorkflowEditorService, caller: Caller, *, tz: ZoneInfo) -> None:
        self.editor = editor
        self.caller = caller
        self.tz = tz
        self.loaded: EditableWorkflow | None = None
        self.draft: Stages = []
        self.departments: dict[str, str] = {}
        # what is being dragged: ('node', stage, index), ('stage', stage, 0) or ('palette', 0, 0)
        self.dragged: tuple[str, int, int] | None = None
        self.dragged_item = ''  # the palette item being dragged
        with tid(ui.card(), 'admin-workflow').classes('w-full p-4 gap-3'):
            ui.label(t('workflow.title')).classes('text-lg font-bold')
            ui.label(t('workflow.hint')).classes('text-sm text-grey-7')
            self.service = tid(ui.select({}, label=t('workflow.service')), 'workflow-service')
            self.service.classes('w-96 max-w-full')
            ui.label(t('workflow.palette')).classes('text-sm font-bold mt-2')
            with tid(ui.row(), 'workflow-palette').classes('gap-2'):
                for item in PALETTE:
                    self._palette_item(item)
            self.problem = tid(ui.label(), 'workflow-problem').classes('text-sm font-bold')
            self.stages = tid(ui.column(), 'workflow-stages').classes('w-full gap-2')
            with ui.row().classes('gap-2'):
                self.save_button = tid(ui.button(t('workflow.save'), on_click=self.save), 'workflow-save')
                self.save_button.props('unelevated icon=save')
                reload = tid(ui.button(t('workflow.reload'), on_click=self.load), 'workflow-reload')
                reload.props('flat icon=undo')
            ui.label(t('workflow.versions')).classes('font-bold mt-2')
            self.versions = tid(ui.column(), 'workflow-versions').classes('w-full gap-1')

    async def start(self) -> None:
        """Fill the service choice and open the first service."""
        caller = await self.caller()
        if caller is None:
            return
        try:
            services = await self.editor.services(caller)
            self.departments = {d.code: d.name for d in await self.editor.departments(caller)}
        except DomainError as error:
            ui.notify(error_text(error), type='negative')
            return
        self.service.set_options({s.code: f'{s.name}（{s.code}）' for s in services})
        if services:
            self.service.set_value(services[0].code)
            await self.load()  # drawn before the page is sent
        self.service.on_value_change(self.load)

    # ---- loading and drawing -------------------------------------------------------------------------

    async def load(self) -> None:
        caller = await self.caller()
        if caller is None or not self.service.value:
            return
        try:
            self.loaded = await self.editor.workflow(caller, str(self.service.value))
            versions = await self.editor.versions(caller, str(self.service.value))
        except DomainError as error:
            ui.notify(error_text(error), type='negative')
            return
        self.draft = copy.deepcopy(self.loaded.stages)
        self.versions.clear()
        with self.versions:
            if not versions:
                ui.label(t('workflow.versions.none')).classes('text-sm text-grey-7')
            for saved in versions:
                with tid(ui.row(), f'workflow-version-{saved.version}').classes('items-center gap-3'):
                    at = saved.created_at.astimezone(self.tz).strftime('%Y-%m-%d %H:%M')
                    ui.label(t('workflow.version', version=saved.version, actor=saved.actor, at=at, steps=saved.steps))
                    if saved.version == self.loaded.version:
                        ui.badge(t('workflow.version.current')).props('color=positive')
                    else:
                        restore = tid(ui.button(t('workflow.restore')), f'workflow-restore-{saved.version}')
                        restore.props('flat dense icon=history').on_click(lambda v=saved.version: self.restore(v))
        await self.changed()

    async def changed(self) -> None:
        """The structure changed: redraw the stages, then check."""
        self.draw()
        await self.edited()

    async def edited(self) -> None:
        """Check the draft with the service and show its first fault in plain words (a field keeps its focus)."""
        caller = await self.caller()
        if caller is None or self.loaded is None:
            return
        try:
            await self.editor.check(caller, self.loaded.service.code, self.draft)
        except DomainError as error:
            self._problem(error_text(error))
            self.save_button.disable()
        else:
            self.problem.set_text(t('workflow.ok'))
            self.problem.classes(replace='text-sm font-bold text-positive')
            self.save_button.enable()

    def _problem(self, text: str) -> None:
        self.problem.set_text(text)
        self.problem.classes(replace='text-sm font-bold text-negative')

    def draw(self) -> None:
        self.stages.clear()
        with self.stages:
            for index, stage in enumerate(self.draft):
                self._stage(index, stage)

    def _palette_item(self, item: str) -> None:
        button = tid(ui.button(t(f'workflow.kind.{item}')), f'workflow-add-{item}')
        button.props('outline no-caps draggable=true').on_click(lambda i=item: self.add_stage(i))
        button.on('dragstart', lambda i=item: self._drag(('palette', 0, 0), i), js_handler=DRAG_START)

    def _stage(self, index: int, stage: list[dict[str, Any]]) -> None:
        row = tid(ui.row(), f'workflow-stage-{index}').classes('w-full gap-3 border rounded p-3 bg-grey-1')
        row.on('dragover.prevent', lambda: None)
        row.on('drop', lambda i=index: self.drop(i))
        with row:
            handle = tid(ui.column(), f'workflow-stage-{index}-handle').classes('w-32 shrink-0 gap-1 cursor-move')
            handle.props('draggable=true').on(
                'dragstart', lambda i=index: self._drag(('stage', i, 0)), js_handler=DRAG_START
            )
            with handle:
                ui.label(t('workflow.stage', n=index + 1)).classes('font-bold')
                if len(stage) > 1:
                    ui.label(t('workflow.stage.parallel', n=len(stage))).classes('text-xs text-primary')
                with ui.row().classes('gap-0'):
                    self._icon(
                        'arrow_upward',
                        'workflow.stage.up',
                        f'workflow-stage-{index}-up',
                        index > 0,
                        lambda i=index: self.move_stage(i, i - 1),
                    )
                    self._icon(
                        'arrow_downward',
                        'workflow.stage.down',
                        f'workflow-stage-{index}-down',
                        index < len(self.draft) - 1,
                        lambda i=index: self.move_stage(i, i + 1),
                    )
                    if any(node.get('kind') in RULE_KINDS for node in stage):
                        self._icon(
                            'add',
                            'workflow.stage.add_parallel',
                            f'workflow-stage-{index}-add',
                            True,
                            lambda i=index: self.add_parallel(i),
                        )
            with ui.row().classes('gap-3 grow min-w-0'):
                for position, node in enumerate(stage):
                    self._node(index, position, node)

    def _icon(self, icon: str, label: str, marker: str, enabled: bool, action: Callable[[], Awaitable[None]]) -> None:
        button = tid(ui.button(icon=icon, on_click=action), marker).props(f'flat dense round aria-label="{t(label)}"')
        button.tooltip(t(label))
        if not enabled:
            button.disable()

    def _node(self, stage: int, position: int, node: dict[str, Any]) -> None:
        kind = str(node.get('kind', ''))
        card = tid(ui.card(), f'workflow-node-{stage}-{position}').classes('w-64 max-w-full p-3 gap-2 cursor-move')
        card.props('draggable=true').on(
            'dragstart', lambda: self._drag(('node', stage, position)), js_handler=DRAG_START
        )
        with card:
            with ui.row().classes('w-full items-center no-wrap gap-1'):
                label = t(f'workflow.kind.{kind}') if kind in (*PALETTE, 'approve') else kind
                ui.badge(t('workflow.kind.auto') if node.get('auto') else label).props('outline')
                ui.space()
                self._icon(
                    'arrow_upward',
                    'workflow.node.up',
                    f'workflow-node-{stage}-{position}-up',
                    stage > 1,
                    lambda: self.move_node(stage, position, stage - 1),
                )
                self._icon(
                    'arrow_downward',
                    'workflow.node.down',
                    f'workflow-node-{stage}-{position}-down',
                    stage > 0,
                    lambda: self.move_node(stage, position, stage + 1),
                )
                self._icon(
                    'close',
                    'workflow.node.remove',
                    f'workflow-node-{stage}-{position}-remove',
                    True,
                    lambda: self.remove(stage, position),
                )
            name = tid(
                ui.input(t('workflow.node.name'), value=str(node.get('name', ''))),
                f'workflow-node-{stage}-{position}-name',
            )
            name.classes('w-full').on_value_change(lambda e: self._set(node, 'name', e.value))
            own = self.loaded.department.name if self.loaded else ''
            options = {'': t('workflow.node.own_department', name=own), **self.departments}
            department = ui.select(options, label=t('workflow.node.department'), value=node.get('department') or '')
            tid(department, f'workflow-node-{stage}-{position}-department').classes('w-full')
            department.on_value_change(lambda e: self._set(node, 'department', e.value or None))
            if kind in TIMED_KINDS:
                self._deadline(node, f'workflow-node-{stage}-{position}')
            elif kind != 'accept':
                ui.label(t('workflow.node.system')).classes('text-xs text-grey-7')
            if kind == 'certify':
                certificate = ui.input(t('workflow.node.certificate'), value=str(node.get('certificate', '')))
                certificate.classes('w-full').on_value_change(lambda e: self._set(node, 'certificate', e.value))
            if kind in RULE_KINDS:
                self._rule(node, f'workflow-node-{stage}-{position}')
        for field in card.descendants():
            if isinstance(field, ui.input | ui.number | ui.select | ui.switch):
                field.props('dense')  # parallel steps fit side by side, stages one under another

    def _deadline(self, node: dict[str, Any], marker: str) -> None:
        unit = 'sla_days' if node.get('sla_days') is not None else 'sla_hours'
        with ui.row().classes('w-full no-wrap gap-2 items-end'):
            amount = tid(ui.number(t('workflow.node.deadline'), value=node.get(unit), min=0), f'{marker}-deadline')
            amount.classes('w-24')
            units = {'sla_hours': t('workflow.node.hours'), 'sla_days': t('workflow.node.days')}
            chosen = tid(ui.select(units, value=unit), f'{marker}-unit').classes('grow')

        async def set_deadline() -> None:
            node.pop('sla_hours', None)
            node.pop('sla_days', None)
            value = amount.value
            if value is not None:
                whole = chosen.value == 'sla_days' and float(value).is_integer()
                node[str(chosen.value)] = int(value) if whole else value
            await self.edited()

        amount.on_value_change(set_deadline)
        chosen.on_value_change(set_deadline)

    def _rule(self, node: dict[str, Any], marker: str) -> None:
        auto = node.get('auto')
        switch = tid(ui.switch(t('workflow.node.auto'), value=auto is not None), f'{marker}-auto')

        async def toggle(on: bool) -> None:
            if on:
                node['auto'] = {
                    'rule': t('workflow.default.rule'),
                    'description': t('workflow.default.auto_description'),
                    'sources': ['identity'],
                }
            else:
                node.pop('auto', None)
            await self.changed()

        switch.on_value_change(lambda e: toggle(bool(e.value)))
        if auto is None:
            return
        rule = tid(ui.input(t('workflow.rule.name'), value=str(auto.get('rule', ''))), f'{marker}-rule')
        rule.classes('w-full').on_value_change(lambda e: self._set(auto, 'rule', e.value))
        description = ui.input(t('workflow.rule.description'), value=str(auto.get('description', '')))
        description.classes('w-full').on_value_change(lambda e: self._set(auto, 'description', e.value))
        sources = {source: t(f'workflow.source.{source}') for source in SOURCES}
        chosen = ui.select(
            sources, label=t('workflow.rule.sources'), value=list(auto.get('sources', [])), multiple=True
        )
        tid(chosen, f'{marker}-sources').classes('w-full').props('use-chips')
        chosen.on_value_change(lambda e: self._set(auto, 'sources', list(e.value or [])))
        questions = self.loaded.questions if self.loaded else ()
        if questions:
            answers = {f'{q.code}={o.code}': f'{q.text} {o.name}' for q in questions for o in q.options}
            given = [f'{code}={value}' for code, value in dict(auto.get('answers', {})).items()]
            asked = ui.select(answers, label=t('workflow.rule.answers'), value=given, multiple=True)
            asked.classes('w-full').props('use-chips')
            asked.on_value_change(
                lambda e: self._set(auto, 'answers', dict(item.split('=', 1) for item in e.value or []))
            )
        if auto.get('facts'):
            ui.label(t('workflow.rule.facts', n=len(auto['facts']))).classes('text-xs text-grey-7')

    async def _set(self, target: dict[str, Any], key: str, value: Any) -> None:
        if value in (None, '', [], {}) and key not in ('sources', 'answers'):
            target.pop(key, None)
        else:
            target[key] = value
        await self.edited()

    # ---- structure -----------------------------------------------------------------------------------

    def _drag(self, what: tuple[str, int, int], item: str = '') -> None:
        self.dragged, self.dragged_item = what, item

    async def drop(self, target: int) -> None:
        """A node dropped on a stage joins it (in parallel); a stage dropped on a stage takes its place."""
        dragged, self.dragged = self.dragged, None
        if dragged is None:
            return
        what, stage, position = dragged
        if what == 'stage':
            await self.move_stage(stage, target)
        elif what == 'node':
            await self.move_node(stage, position, target)
        elif what == 'palette':
            self.draft[target].extend(new_nodes(self.dragged_item, self.draft))
            await self.changed()

    async def add_stage(self, item: str) -> None:
        self.draft.append(new_nodes(item, self.draft))
        await self.changed()

    async def add_parallel(self, stage: int) -> None:
        self.draft[stage].extend(new_nodes('parallel', self.draft)[:1])
        await self.changed()

    async def move_stage(self, source: int, target: int) -> None:
        if source == target or not 0 <= target < len(self.draft):
            return
        self.draft.insert(target, self.draft.pop(source))
        await self.changed()

    async def move_node(self, stage: int, position: int, target: int) -> None:
        """Move a node to the stage `target`; past the last stage it becomes a new last stage."""
        if stage == target or target < 0:
            return
        node = self.draft[stage].pop(position)
        if target >= len(self.draft):
            self.draft.append([node])
        else:
            self.draft[target].append(node)
        self.draft = [s for s in self.draft if s]  # a stage left empty goes
        await self.changed()

    async def remove(self, stage: int, position: int) -> None:
        self.draft[stage].pop(position)
        self.draft = [s for s in self.draft if s]
        await self.changed()

    # ---- saving --------------------------------------------------------------------------------------

    async def save(self) -> None:
        caller = await self.caller()
        if caller is None or self.loaded is None:
            return
        try:
            version = await self.editor.save(
                caller, self.loaded.service.code, self.draft, base_version=self.loaded.version
            )
        except DomainError as error:
            self._problem(error_text(error))
            ui.notify(error_text(error), type='negative')
            return
        ui.notify(t('workflow.saved', version=version), type='positive')
        await self.load()

    async def restore(self, old: int) -> None:
        caller = await self.caller()
        if caller is None or self.loaded is None:
            return
        try:
            version = await self.editor.restore(caller, self.loaded.service.code, old, base_version=self.loaded.version)
        except DomainError as error:
            ui.notify(error_text(error), type='negative')
            return
        ui.notify(t('workflow.restored', old=old, version=version), type='positive')
        await self.load()
