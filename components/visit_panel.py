"""上门服务 for the citizen's phone (/me) and a relative (/proxy): ask for a visit, follow each one's timeline.

The panel only draws and forwards: `load` reads the visits this page may see, `ask` (absent for a relative whose
grant only lets them watch) sends a request; the service decides and refuses with a clear message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from nicegui import ui

from app.services.errors import DomainError
from app.services.home_visits import VisitView
from components import visit_texts as _texts  # noqa: F401 - registers the texts
from components.case_timeline import case_timeline
from components.testids import tid
from components.texts import error_text, t

Load = Callable[[], Awaitable[list[VisitView]]]
Ask = Callable[[str, str], Awaitable[VisitView]]


def slot_text(view: VisitView, tz: ZoneInfo) -> str:
    visit = view.visit
    if visit.slot_start is None or visit.slot_end is None:
        return t('visit.no_slot')
    start, end = (_aware(moment).astimezone(tz) for moment in (visit.slot_start, visit.slot_end))
    return t('visit.slot', start=start.strftime('%m月%d日 %H:%M'), end=end.strftime('%H:%M'))


class VisitPanel:
    def __init__(
        self,
        load: Load,
        ask: Ask | None,
        services: dict[str, str],
        *,
        clock: Callable[[], dt.datetime],
        tz: ZoneInfo,
        marker: str,
    ) -> None:
        self.load, self.ask, self.services = load, ask, services
        self.clock, self.tz = clock, tz
        self.case_ids: set[int] = set()
        with tid(ui.card(), marker).classes('w-full p-4 gap-2'):
            ui.label(t('visit.title')).classes('text-base font-bold')
            if ask is not None:
                ui.label(t('visit.why')).classes('text-sm text-grey-8')
                self.service = tid(ui.select(services, label=t('visit.service')), 'visit-service').classes('w-full')
                self.address = tid(ui.textarea(t('visit.address')), 'visit-address').classes('w-full')
                self.address.props('autogrow maxlength=200')
                tid(ui.button(t('visit.ask'), on_click=self._ask), 'visit-ask').classes('w-full')
            self.list = tid(ui.column(), 'visit-list').classes('w-full gap-3')

    async def draw(self) -> None:
        views = await self.load()
        self.case_ids = {view.visit.case_id for view in views}
        self.list.clear()
        with self.list:
            if not views:
                ui.label(t('visit.none')).classes('text-sm text-grey-7')
            for view in views:
                self._visit(view)

    def _visit(self, view: VisitView) -> None:
        with tid(ui.column(), f'visit-{view.id}').classes('w-full gap-1 border-t pt-2'):
            with ui.row().classes('w-full items-baseline gap-2 no-wrap'):
                status = tid(ui.label(t(f'visit.status.{view.visit.status}')), f'visit-{view.id}-status')
                status.classes('text-sm rounded px-2 bg-blue-1 text-blue-10 shrink-0')
                tid(ui.label(slot_text(view, self.tz)), f'visit-{view.id}-slot').classes('text-sm')
            ui.label(view.address_masked).classes('text-sm text-grey-8 font-mono')
            if any(view.assignees):
                ui.label(t('visit.people', names='、'.join(view.assignees))).classes('text-sm')
            case_timeline(view.case, now=self.clock(), tz=self.tz)

    async def _ask(self) -> None:
        if self.ask is None:
            return
        try:
            await self.ask(str(self.service.value or ''), str(self.address.value or ''))
        except DomainError as refused:
            ui.notify(error_text(refused), type='negative', multi_line=True)
            return
        ui.notify(t('visit.asked'), type='positive')
        self.address.set_value('')
        await self.draw()


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
