"""The relative's side of 亲情代办 (/proxy/{token}): the materials still to bring, each with "已备好".

Pressing it only tells the citizen, whose /track page asks them to confirm; until then the material
shows as waiting. A watch-only grant shows the list without buttons.
"""

from __future__ import annotations

from nicegui import ui

from app.services.case_views import CaseView
from app.services.errors import DomainError
from app.services.proxy import ProxyAccess, ProxyService, to_bring
from components import proxy_texts as _texts  # noqa: F401 - registers the texts
from components.testids import tid
from components.texts import error_text, t


class ProxyHelper:
    def __init__(self, proxy: ProxyService, access: ProxyAccess, token: str) -> None:
        self.proxy = proxy
        self.access = access
        self.token = token
        self.box = tid(ui.card(), 'proxy-help').classes('w-full p-4 gap-2')

    async def draw(self, views: list[CaseView]) -> None:
        items = to_bring(views, await self.proxy.proposals(self.access.grant_id))
        self.box.clear()
        with self.box:
            ui.label(t('proxy.help')).classes('text-base font-bold')
            if not views:
                ui.label(t('proxy.help.no_case')).classes('text-sm text-grey-7')
            elif not items:
                ui.label(t('proxy.help.none')).classes('text-sm text-grey-7')
            for item in items:
                material = item.material
                with tid(ui.row(), f'proxy-material-{material.id}').classes('w-full items-center no-wrap gap-2'):
                    ui.label(f'{material.name}（{item.service_name}）').classes('text-sm grow break-all')
                    if item.waiting:
                        ui.label(t('proxy.sent')).classes('text-xs text-primary')
                    elif self.access.grant.can_fill:
                        ready = ui.button(t('proxy.ready'), on_click=lambda m=material.id or 0: self.ready(m, views))
                        tid(ready, f'proxy-ready-{material.id}').props('unelevated dense no-caps no-wrap').classes(
                            'shrink-0'
                        )

    async def ready(self, material_id: int, views: list[CaseView]) -> None:
        try:
            await self.proxy.propose(self.token, material_id)
        except DomainError as error:
            ui.notify(error_text(error), type='warning')
        await self.draw(views)
