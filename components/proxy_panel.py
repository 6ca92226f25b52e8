"""The citizen's 亲情代办 section on /track: the relatives helping now, what they sent, and a new invitation.

The invitation link carries a token shown only once (the database keeps its hash): the section shows
it with a QR code right after it is made, in a box that later redraws of the list leave alone.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from nicegui import ui

from app.clock import utcnow
from app.models.security import ConsentPurpose
from app.services.consent import consent_text
from app.services.errors import DomainError
from app.services.proxy import DURATIONS_HOURS, PENDING, RELATIONS, GrantView, ProposalView, ProxyService
from app.services.tracking import PersonAct
from components import proxy_texts as _texts  # noqa: F401 - registers the texts
from components.kiosk_ticket import qr_data_uri
from components.proxy_status import invitation_path
from components.testids import tid
from components.texts import error_text, t


class ProxyPanel:
    def __init__(self, proxy: ProxyService, act: PersonAct, *, tz: ZoneInfo, base_url: str, lang: str) -> None:
        self.proxy = proxy
        self.act = act
        self.tz = tz
        self.base_url = base_url
        self.lang = lang
        with tid(ui.card(), 'track-proxy').classes('w-full p-4 gap-2'):
            ui.label(t('proxy.title')).classes('text-base font-bold')
            ui.label(t('proxy.intro')).classes('text-xs text-grey-8')
            self.list_box = tid(ui.column(), 'proxy-grants').classes('w-full gap-2')
            self._form()
            self.invitation_box = tid(ui.column(), 'proxy-invitation').classes('w-full gap-2 items-center')

    def _time(self, moment: dt.datetime) -> str:
        return moment.astimezone(self.tz).strftime('%m-%d %H:%M')

    async def draw(self) -> None:
        views = await self.proxy.grants_for(self.act.tracked)
        self.list_box.clear()
        with self.list_box:
            if not views:
                ui.label(t('proxy.none')).classes('text-sm text-grey-7')
            for view in views:
                self._grant(view)
            if views:  # redraw when the first grant runs out (one timer, inside the list: replaced with it)
                expiry = min(view.grant.expires_at for view in views)
                ui.timer(max((expiry - utcnow()).total_seconds(), 0.0) + 1.0, self.draw, once=True)

    def _grant(self, view: GrantView) -> None:
        grant = view.grant
        with tid(ui.column(), f'proxy-grant-{grant.id}').classes('w-full gap-1 border rounded p-2'):
            with ui.row().classes('w-full items-center justify-between no-wrap'):
                with ui.column().classes('gap-0'):
                    joined = t('proxy.joined') if grant.joined_at else t('proxy.not_joined')
                    scope = t('proxy.fill') if grant.can_fill else t('proxy.watch')
                    ui.label(f'{grant.relation} · {scope} · {joined}').classes('text-sm font-medium')
                    ui.label(t('proxy.until', at=self._time(grant.expires_at))).classes('text-xs text-grey-7')
                end = ui.button(t('proxy.end'), on_click=lambda g=grant.id or 0: self.end(g))
                tid(end, f'proxy-end-{grant.id}').props('outline dense no-caps no-wrap color=negative').classes(
                    'shrink-0'
                )
            for proposal in view.proposals:
                self._proposal(grant.relation, proposal)

    def _proposal(self, relation: str, view: ProposalView) -> None:
        proposal = view.proposal
        with tid(ui.row(), f'proxy-proposal-{proposal.id}').classes('w-full items-center gap-2 no-wrap'):
            ui.label(t('proxy.proposal', relation=relation, material=view.material)).classes('text-sm grow')
            if proposal.status == PENDING:
                accept = ui.button(t('proxy.accept'), on_click=lambda p=proposal.id or 0: self.decide(p, accept=True))
                tid(accept, f'proxy-accept-{proposal.id}').props('unelevated dense no-caps no-wrap').classes('shrink-0')
                reject = ui.button(t('proxy.reject'), on_click=lambda p=proposal.id or 0: self.decide(p, accept=False))
                tid(reject, f'proxy-reject-{proposal.id}').props('flat dense no-caps no-wrap').classes('shrink-0')
            else:
                ui.label(t(f'proxy.status.{proposal.status}')).classes('text-xs text-grey-7')

    def _form(self) -> None:
        text = consent_text(ConsentPurpose.PROXY)
        with tid(ui.expansion(t('proxy.invite')), 'proxy-form').classes('w-full text-sm'):
            self.relation = tid(
                ui.select(list(RELATIONS), value=RELATIONS[0], label=t('proxy.relation')), 'proxy-relation'
            )
            self.relation.classes('w-full')
            hours = {h: t(f'proxy.hours.{h}') for h in DURATIONS_HOURS}
            ui.label(t('proxy.hours')).classes('text-xs text-grey-7')
            self.hours = tid(ui.toggle(hours, value=DURATIONS_HOURS[1]), 'proxy-hours').props('no-caps')
            self.can_fill = tid(ui.checkbox(t('proxy.can_fill'), value=True), 'proxy-can-fill')
            ui.label(text.zh if self.lang == 'zh-CN' else text.en).classes('text-xs leading-relaxed text-grey-8')
            tid(ui.button(t('proxy.invite'), on_click=self.invite), 'proxy-invite').props('unelevated no-caps')

    async def invite(self) -> None:
        try:
            invitation = await self.proxy.invite(
                self.act,
                relation=str(self.relation.value or ''),
                hours=int(self.hours.value or 0),
                can_fill=bool(self.can_fill.value),
            )
        except DomainError as error:
            ui.notify(error_text(error), type='warning')
            return
        link = f'{self.base_url}{invitation_path(invitation.token, invitation.grant)}'
        self.invitation_box.clear()
        with self.invitation_box:
            ui.label(t('proxy.invited', relation=invitation.grant.relation)).classes('text-sm font-medium')
            tid(ui.image(qr_data_uri(link)), 'proxy-qr').classes('w-40 h-40')
            with ui.row().classes('w-full no-wrap items-center gap-1'):
                tid(ui.input(value=link), 'proxy-link').props('readonly dense outlined').classes('grow text-xs')
                ui.button(icon='content_copy', on_click=lambda: self._copy(link)).props('flat dense round')
        await self.draw()

    def _copy(self, link: str) -> None:
        ui.clipboard.write(link)
        ui.notify(t('proxy.copied'))

    async def end(self, grant_id: int) -> None:
        try:
            await self.proxy.end(grant_id, act=self.act)
        except DomainError as error:
            ui.notify(error_text(error), type='warning')
        else:
            ui.notify(t('proxy.ended_now'), type='positive')
        self.invitation_box.clear()
        await self.draw()

    async def decide(self, proposal_id: int, *, accept: bool) -> None:
        try:
            await self.proxy.decide(proposal_id, act=self.act, accept=accept)
        except DomainError as error:
            ui.notify(error_text(error), type='warning')
        await self.draw()
