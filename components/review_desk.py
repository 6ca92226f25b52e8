"""A department reviewer's desk (/review): case nodes waiting for them, and the rectifications of bad ratings.

Approve or return a node (a return needs a note: what the citizen must bring); confirm pickups and
payouts; record callbacks and fixes; appeal a rating or decide an appeal someone else filed. Every
action re-checks the login first. The lists are pushed: a case step, SLA warning or rectification
event of the reviewer's department (from the journey feed) redraws them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from nicegui import ui

from app.events import CaseStepChanged, Event, RectificationChanged, RectificationOpened, SlaAtRisk
from app.services.case_views import MATERIAL_REQUIRED, PendingNode
from app.services.departments import review_scope
from app.services.errors import DomainError
from app.services.evaluation import APPEALED, CALLED_BACK, OPEN, RectificationView, level_label
from app.services.journey import Journey
from app.services.principal import Principal
from app.services.workflow import CONFIRMED_KINDS, SlaLevel
from components import journey_texts as _texts  # noqa: F401 - registers the texts
from components.testids import tid
from components.texts import error_text, t
from twin.journey_feed import JourneyFeed

LEVEL_CLASSES = {SlaLevel.AT_RISK: 'bg-amber-2 text-amber-10', SlaLevel.OVERDUE: 'bg-red-2 text-red-10'}


class Staff(Protocol):
    """The signed-in reviewer behind the page (pages/guard.py's StaffSession)."""

    principal: Principal

    async def recheck(self) -> Principal | None: ...


class ReviewDesk:
    def __init__(self, journey: Journey, feed: JourneyFeed, staff: Staff, *, tz: ZoneInfo) -> None:
        self.journey = journey
        self.feed = feed
        self.staff = staff
        self.client = ui.context.client
        self.department_id = review_scope(staff.principal)
        self.tz = tz

    async def build(self) -> None:
        with ui.row().classes('w-full items-start gap-4'):
            self.node_box = tid(ui.column(), 'review-nodes').classes('flex-1 min-w-[20rem] gap-2')
            self.rect_box = tid(ui.column(), 'review-rectifications').classes('flex-1 min-w-[20rem] gap-2')
        await self.draw_nodes()
        await self.draw_rectifications()
        self.feed.journey.subscribe(self.on_event)

    def _mine(self, department_id: int | None) -> bool:
        return self.department_id is None or department_id == self.department_id

    async def on_event(self, event: Event) -> None:
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
                ui.notify(error_text(error), type='warning')
            return
        with self.client.layout:
            ui.notify(t('review.done'), type='positive')

    # ---- case nodes ------------------------------------------------------------------------------

    async def draw_nodes(self) -> None:
        pending = await self.journey.cases.pending_for(self.department_id)
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
                lambda who: self.journey.cases.decide(
                    node_id or 0, approve=approve, actor=who, department_id=self.department_id, note=note.value or ''
                )
            )
            await self.draw_nodes()

        return decide

    # ---- rectifications --------------------------------------------------------------------------

    async def draw_rectifications(self) -> None:
        views = await self.journey.evaluations.rectifications_for(self.department_id)
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
        evaluations = self.journey.evaluations
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
