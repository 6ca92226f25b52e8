"""The handler's 上门服务 desk (a /manager tab): schedule each open visit, send people, close it after the visit.

It draws and forwards: every action re-checks the session and calls the visit service with the caller, which
decides (manager, or staff of the visit's department; slot ahead of now; nobody double-booked). The full
address is shown only on request, and the service audits that reading.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from nicegui import ui

from app.services.errors import DomainError
from app.services.home_visits import HomeVisitService, VisitView
from app.services.principal import Principal
from app.services.queue_views import HallOverview
from components import visit_texts as _texts  # noqa: F401 - registers the texts
from components.testids import tid
from components.texts import error_text, register, t
from components.visit_panel import slot_text

register(
    {
        'visit.desk.day': ('日期', 'Date'),
        'visit.desk.start': ('开始时间', 'Start'),
        'visit.desk.hours': ('时长（小时）', 'Hours'),
        'visit.desk.schedule': ('排期', 'Schedule'),
        'visit.desk.people': ('上门人员', 'People to send'),
        'visit.desk.assign': ('派员', 'Send'),
        'visit.desk.done': ('已上门办结', 'Visited: done'),
        'visit.desk.address': ('查看完整地址', 'Show full address'),
        'visit.desk.saved': ('已保存', 'Saved'),
        'visit.desk.bad_time': ('请填写日期和时间', 'Give a date and a time'),
        'visit.desk.for_citizen': ('为办事人申请上门服务', 'Ask for a visit for a citizen'),
        'visit.desk.id_number': ('身份证号', 'ID number'),
        'visit.desk.phone': ('手机号（新登记时保存）', 'Phone (kept for a new citizen)'),
    }
)


class ActionSession(Protocol):
    async def recheck(self) -> Principal | None: ...


async def visit_desk(
    visits: HomeVisitService, session: ActionSession, tz: ZoneInfo, *, overview: Callable[[], Awaitable[HallOverview]]
) -> None:
    """Render a form to ask for a visit for a citizen, then the open visits this caller handles, each with its
    actions, into the current container."""
    services = {q.service.code: q.service.name for q in (await overview()).queues}
    with tid(ui.card(), 'visit-desk-ask').classes('w-full p-3 gap-2'):
        ui.label(t('visit.desk.for_citizen')).classes('font-bold')
        with ui.row().classes('w-full items-end gap-2'):
            id_number = tid(ui.input(t('visit.desk.id_number')).props('dense maxlength=18'), 'visit-desk-id')
            phone = tid(ui.input(t('visit.desk.phone')).props('dense maxlength=11'), 'visit-desk-phone')
            service = tid(ui.select(services, label=t('visit.service')).props('dense'), 'visit-desk-service')
            service.classes('min-w-[12rem]')
            address = tid(ui.input(t('visit.address')).props('dense maxlength=200'), 'visit-desk-address')
            address.classes('grow min-w-[16rem]')

            async def ask_for() -> None:
                asked = await act(
                    lambda p: visits.request_for(
                        p,
                        service_code=str(service.value or ''),
                        address=str(address.value or ''),
                        id_number=str(id_number.value or ''),
                        phone=str(phone.value or '') or None,
                    )
                )
                if asked:
                    ui.notify(t('visit.desk.saved'), type='positive')
                    for field in (id_number, phone, address):
                        field.set_value('')
                    await draw()

            tid(ui.button(t('visit.ask'), on_click=ask_for), 'visit-desk-ask-button').props('outline')
    box = tid(ui.column(), 'visit-desk').classes('w-full gap-3')

    async def act(operation: Callable[[Principal], Awaitable[Any]]) -> Any:
        principal = await session.recheck()
        if principal is None:
            return None
        try:
            result = await operation(principal)
        except DomainError as refused:
            ui.notify(error_text(refused), type='negative', multi_line=True)
            return None
        return result

    async def draw() -> None:
        principal = await session.recheck()
        if principal is None:
            return
        views = await act(visits.queue)
        people = await act(visits.people)
        box.clear()
        with box:
            if not views:
                ui.label(t('visit.queue.empty')).classes('text-sm text-grey-7')
            for view in views or []:
                _visit(view, people or {})

    def _visit(view: VisitView, people: dict[int, str]) -> None:
        with tid(ui.card(), f'visit-desk-{view.id}').classes('w-full p-3 gap-2'):
            with ui.row().classes('w-full items-baseline gap-3'):
                ui.label(f'#{view.id} {view.service_name}').classes('font-bold')
                ui.label(t(f'visit.status.{view.visit.status}')).classes('text-sm rounded px-2 bg-blue-1')
                ui.label(slot_text(view, tz)).classes('text-sm')
                address = ui.label(view.address_masked).classes('text-sm font-mono text-grey-8')

                async def reveal(label: ui.label = address, visit_id: int = view.id) -> None:
                    whole = await act(lambda p: visits.address(p, visit_id))
                    if whole:
                        label.set_text(whole)

                tid(ui.button(t('visit.desk.address'), on_click=reveal), f'visit-desk-{view.id}-address').props(
                    'flat dense size=sm icon=visibility'
                )
            with ui.row().classes('w-full items-end gap-2'):
                day = tid(ui.input(t('visit.desk.day')).props('type=date dense'), f'visit-desk-{view.id}-day')
                start = tid(ui.input(t('visit.desk.start')).props('type=time dense'), f'visit-desk-{view.id}-start')
                hours = ui.select([1, 2, 3, 4], value=2, label=t('visit.desk.hours')).props('dense').classes('w-24')

                async def schedule(visit_id: int = view.id) -> None:
                    try:
                        begin = dt.datetime.fromisoformat(f'{day.value}T{start.value}').replace(tzinfo=tz)
                    except ValueError:
                        ui.notify(t('visit.desk.bad_time'), type='warning')
                        return
                    end = begin + dt.timedelta(hours=int(hours.value or 2))
                    if await act(lambda p: visits.schedule(p, visit_id, start=begin, end=end)):
                        ui.notify(t('visit.desk.saved'), type='positive')
                        await draw()

                tid(ui.button(t('visit.desk.schedule'), on_click=schedule), f'visit-desk-{view.id}-schedule').props(
                    'outline'
                )
            with ui.row().classes('w-full items-end gap-2'):
                chosen = tid(
                    ui.select(people, multiple=True, label=t('visit.desk.people')).props('dense use-chips'),
                    f'visit-desk-{view.id}-people',
                ).classes('min-w-[16rem]')

                async def assign(visit_id: int = view.id) -> None:
                    ids = [int(person) for person in chosen.value or []]
                    if await act(lambda p: visits.assign(p, visit_id, ids)):
                        ui.notify(t('visit.desk.saved'), type='positive')
                        await draw()

                async def done(visit_id: int = view.id) -> None:
                    if await act(lambda p: visits.complete(p, visit_id)):
                        ui.notify(t('visit.desk.saved'), type='positive')
                        await draw()

                tid(ui.button(t('visit.desk.assign'), on_click=assign), f'visit-desk-{view.id}-assign').props('outline')
                tid(ui.button(t('visit.desk.done'), on_click=done), f'visit-desk-{view.id}-done').props(
                    'unelevated color=positive'
                )

    await draw()
