"""`/review`: a department reviewer's desk: case nodes waiting for them, and the rectifications of bad ratings.

Approve or return a node (a return needs a note: what the citizen must bring); confirm pickups and
payouts; record callbacks and fixes; appeal a rating or decide an appeal someone else filed. Every
action re-checks the login first. The lists are pushed: a case step, SLA warning or rectification
event of the reviewer's department redraws them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from nicegui import Client, ui

from app.events import CaseStepChanged, Event, RectificationChanged, RectificationOpened, SlaAtRisk
from app.models.hall import Department
from app.models.people import Role
from app.runtime import Runtime, ready
from app.services.case_views import MATERIAL_REQUIRED, PendingNode
from app.services.errors import DomainError
from app.services.evaluation import APPEALED, CALLED_BACK, OPEN, RectificationView, level_label
from app.services.workflow import CONFIRMED_KINDS, SlaLevel
from components import journey_texts as _texts  # noqa: F401 - registers the texts
from components.frame import frame
from components.testids import tid
from components.texts import t
from pages.guard import StaffSession, require

LOGOUT_JS = "fetch('/auth/logout', {method: 'POST'}).then(() => { location.href = '/login?reason=logged_out'; })"
LEVEL_CLASSES = {SlaLevel.AT_RISK: 'bg-amber-2 text-amber-10', SlaLevel.OVERDUE: 'bg-red-2 text-red-10'}
REVIEW_EVENTS = (CaseStepChanged, SlaAtRisk, RectificationOpened, RectificationChanged)


class ReviewDesk:
    def __init__(self, rt: Runtime, staff: StaffSession, client: Client) -> None:
        self.rt = rt
        self.staff = staff
        self.client = client
        self.department_id = _scope(staff)
        self.tz = rt.settings.tz

    async def build(self) -> None:
        with ui.row().classes('w-full items-start gap-4'):
            self.node_box = tid(ui.column(), 'review-nodes').classes('flex-1 min-w-[20rem] gap-2')
            self.rect_box = tid(ui.column(), 'review-rectifications').classes('flex-1 min-w-[20rem] gap-2')
        await self.draw_nodes()
        await self.draw_rectifications()
        subscription = self.rt.bus.subscribe(self.on_event, *REVIEW_EVENTS, name=f'review:{self.client.id}')
        self.client.on_delete(lambda: self.rt.bus.unsubscribe(subscription))

    def _mine(self, department_id: int | None) -> bool:
        return self.department_id is None or department_id == self.department_id

    async def on_event(self, event: Event) -> None:
        if self.client.id not in Client.instances:
            return
        if isinstance(event, CaseStepChanged | SlaAtRisk) and (
            event.department_id is None or self._mine(event.department_id)
        ):
            await self.draw_nodes()
        elif isinstance(event, RectificationOpened | RectificationChanged) and self._mine(event.department_id):
            await self.draw_rectifications()

    async def act(self, work: Callable[[str], Awaitable[Any]]) -> None:
        """Re-check the login, run the action, report a refusal as it is worded.

        The notice goes to the page's layout: the pushed redraw may already have removed the clicked card.
        """
        principal = await self.staff.recheck()
        if principal is None:
            return
        try:
            await work(principal.name)
        except DomainError as error:
            with self.client.layout:
                ui.notify(error.message, type='warning')
            return
        with self.client.layout:
            ui.notify(t('review.done'), type='positive')

    # ---- case nodes ------------------------------------------------------------------------------

    async def draw_nodes(self) -> None:
        pending = await self.rt.journey.cases.pending_for(self.department_id)
        if self.node_box.is_deleted:  # the page ended (logout, timeout) during the read
            return
        self.node_box.clear()
        with self.node_box:
            ui.label(t('review.nodes')).classes('text-lg font-bold')
            if not pending:
                tid(ui.label(t('review.no_nodes')), 'review-no-nodes').classes('text-grey-7')
            for item in pending:
                self._node_card(item)

    def _node_card(self, item: PendingNode) -> None:
        node = item.node
        with tid(ui.card(), f'review-node-{node.id}').classes('w-full p-3 gap-1'):
            with ui.row().classes('w-full items-baseline justify-between'):
                ui.label(f'{item.service_name} · {node.name}').classes('font-bold')
                if node.due_at:
                    due = ui.label(t('timeline.due', due=node.due_at.astimezone(self.tz).strftime('%m-%d %H:%M')))
                    due.classes(f'text-xs px-1 rounded {LEVEL_CLASSES.get(item.level, "")}')
            ui.label(f'#{item.case.id} · {item.case.created_at.astimezone(self.tz):%m-%d %H:%M}').classes(
                'text-xs text-grey-7'
            )
            if item.returned_before:
                ui.label(f'{t("review.returned_before")}：{node.note}').classes('text-xs text-primary')
            missing = [m.name for m in item.materials if m.status == MATERIAL_REQUIRED]
            fetched = [m.name for m in item.materials if m.status != MATERIAL_REQUIRED]
            if fetched:
                ui.label(t('review.fetched', names='、'.join(fetched))).classes('text-xs text-positive')
            if missing:
                ui.label(t('review.materials', names='、'.join(missing))).classes('text-xs text-grey-8')
            note = tid(ui.input(t('review.note')), f'review-note-{node.id}').classes('w-full').props('dense')
            with ui.row().classes('gap-2'):
                if node.kind in CONFIRMED_KINDS:
                    tid(
                        ui.button(t('review.confirm'), on_click=self._decider(node.id, True, note)),
                        f'review-approve-{node.id}',
                    )
                else:
                    approve = ui.button(t('review.approve'), on_click=self._decider(node.id, True, note))
                    tid(approve, f'review-approve-{node.id}').props('color=positive')
                    reject = ui.button(t('review.return'), on_click=self._decider(node.id, False, note))
                    tid(reject, f'review-return-{node.id}').props('outline color=negative')

    def _decider(self, node_id: int | None, approve: bool, note: ui.input) -> Callable[[], Awaitable[None]]:
        async def decide() -> None:
            await self.act(
                lambda who: self.rt.journey.cases.decide(
                    node_id or 0, approve=approve, actor=who, department_id=self.department_id, note=note.value or ''
                )
            )
            await self.draw_nodes()

        return decide

    # ---- rectifications --------------------------------------------------------------------------

    async def draw_rectifications(self) -> None:
        views = await self.rt.journey.evaluations.rectifications_for(self.department_id)
        if self.rect_box.is_deleted:  # the page ended (logout, timeout) during the read
            return
        self.rect_box.clear()
        with self.rect_box:
            ui.label(t('review.rectifications')).classes('text-lg font-bold')
            if not views:
                tid(ui.label(t('review.no_rectifications')), 'review-no-rectifications').classes('text-grey-7')
            for view in views:
                self._rect_card(view)

    def _rect_card(self, view: RectificationView) -> None:
        rect, evaluation = view.rectification, view.evaluation
        with tid(ui.card(), f'review-rect-{rect.id}').classes('w-full p-3 gap-1'):
            with ui.row().classes('w-full items-baseline justify-between'):
                window = f'{view.window_number}号窗口 · ' if view.window_number else ''
                ui.label(f'{view.service_name} · {window}{view.ticket_number}').classes('font-bold')
                deadline = ui.label(t('review.deadline', deadline=f'{rect.deadline:%m-%d}')).classes('text-xs px-1')
                if view.overdue:
                    deadline.classes('bg-red-2 text-red-10 rounded')
            rating = level_label(evaluation.scale, evaluation.level)
            tid(ui.label(f'{rating} · {"、".join(evaluation.tags)}'), f'review-rect-{rect.id}-rating').classes(
                'text-sm text-negative'
            )
            if evaluation.comment:
                ui.label(f'“{evaluation.comment}”').classes('text-sm text-grey-9 break-all')
            tid(ui.label(t(f'review.status.{rect.status}')), f'review-rect-{rect.id}-status').classes('text-xs')
            if rect.callback_note:
                ui.label(f'{t("review.callback")}：{rect.callback_note}').classes('text-xs text-grey-8')
            if rect.appeal_reason:
                ui.label(t('review.appeal_by', who=view.appellant, reason=rect.appeal_reason)).classes(
                    'text-xs text-grey-8'
                )
            self._rect_actions(view)

    def _rect_actions(self, view: RectificationView) -> None:
        rect = view.rectification
        evaluations = self.rt.journey.evaluations
        role = str(self.staff.principal.role)
        note = tid(ui.input(t('review.rect_note')), f'review-rect-note-{rect.id}').classes('w-full').props('dense')
        rid = rect.id or 0
        with ui.row().classes('gap-2'):
            if rect.status in (OPEN, CALLED_BACK):
                if rect.status == OPEN:
                    self._button(
                        'review.callback',
                        f'review-callback-{rid}',
                        lambda who: evaluations.callback(
                            rid, actor=who, department_id=self.department_id, note=note.value or ''
                        ),
                    )
                else:
                    self._button(
                        'review.fix',
                        f'review-fix-{rid}',
                        lambda who: evaluations.fix(
                            rid, actor=who, department_id=self.department_id, note=note.value or ''
                        ),
                    )
                if not rect.appeal_decision:
                    self._button(
                        'review.appeal',
                        f'review-appeal-{rid}',
                        lambda who: evaluations.appeal(rid, actor=who, role=role, reason=note.value or ''),
                        outline=True,
                    )
            elif rect.status == APPEALED:
                for upheld, key in ((True, 'review.uphold'), (False, 'review.reject')):
                    self._button(
                        key,
                        f'review-{key.split(".")[1]}-{rid}',
                        lambda who, up=upheld: evaluations.decide_appeal(
                            rid, actor=who, role=role, department_id=self.department_id, upheld=up
                        ),
                        outline=not upheld,
                    )

    def _button(self, key: str, test_id: str, work: Callable[[str], Awaitable[Any]], *, outline: bool = False) -> None:
        async def run() -> None:
            await self.act(work)
            await self.draw_rectifications()

        tid(ui.button(t(key), on_click=run), test_id).props('outline' if outline else 'unelevated')


async def review_page(request: Request, client: Client) -> Response | None:
    rt = await ready()
    staff = await require(request, Role.REVIEWER)
    if isinstance(staff, Response):
        return staff
    with frame(t('review.title'), hall_name=rt.hall.name):
        with ui.row().classes('w-full items-center justify-between'):
            department = await _department_name(rt, staff.principal.department_id)
            tid(ui.label(f'{t("review.title")} · {department}'), 'review-department').classes('text-2xl font-bold')
            with ui.row().classes('items-center gap-3'):
                ui.label(staff.principal.display_name).classes('text-grey-8')
                ui.button(t('review.logout'), on_click=lambda: ui.run_javascript(LOGOUT_JS)).props('flat dense')
        await ReviewDesk(rt, staff, client).build()
    return None


def _scope(staff: StaffSession) -> int | None:
    """A reviewer acts for their department (none recorded: for no department); an admin for every one."""
    principal = staff.principal
    if principal.role == Role.ADMIN:
        return None
    return principal.department_id or 0


async def _department_name(rt: Runtime, department_id: int | None) -> str:
    if department_id is None:
        return ''
    async with rt.db.read_session() as s:
        department = await s.get(Department, department_id)
    return department.name if department else ''
