"""`/track/{code}`: a citizen follows a ticket and its case from a phone, no login.

The code alone (the slip's QR) shows the ticket's status: people ahead and the wait, the window once
called. Everything about the person (messages, the case timeline, the rating form once served, this
ticket's consents and relatives' access) opens only after the code texted to the ticket's phone
(app/services/tracking.py: a slip is a pointer, not a key). Everything moves by push: the page
subscribes to the bus while it is open and reads positions from the in-memory queues; a case or rating
event makes it re-read just that case or rating.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Request
from nicegui import Client, ui

from app.api.callers import address_of
from app.events import (
    CaseStepChanged,
    EvaluationSubmitted,
    Event,
    NotificationSent,
    ProxyChanged,
    RectificationChanged,
    RectificationOpened,
    TicketEventBase,
)
from app.models.security import ConsentPurpose, ConsentScope
from app.models.ticket import TicketStatus
from app.runtime import Runtime, ready
from app.services.case_views import CaseView
from app.services.consent import GUARDIAN_RELATIONS, consent_text
from app.services.errors import DomainError
from app.services.evaluation import level_label
from app.services.tracking import PersonAct, Tracked, live_position
from components import journey_texts as _texts  # noqa: F401 - registers the texts
from components.case_timeline import case_timeline
from components.evaluation_form import EvaluationForm
from components.phone_frame import phone_frame
from components.proxy_panel import ProxyPanel
from components.testids import tid
from components.texts import t

RECENT_NOTICES = 3
MAX_NOTICES = 50
TRACKED_EVENTS = (
    TicketEventBase,
    CaseStepChanged,
    NotificationSent,
    EvaluationSubmitted,
    RectificationOpened,
    RectificationChanged,
    ProxyChanged,
)


@dataclass
class Notice:
    id: int
    at: dt.datetime
    text: str


@dataclass
class TrackState:
    """What this open page knows; pushed events update it, then the one section they concern is redrawn."""

    tracked: Tracked
    status: str = ''
    window_number: int | None = None
    service_name: str = ''
    case_ids: set[int] = field(default_factory=set)
    evaluation_ids: set[int] = field(default_factory=set)
    notices: list[Notice] = field(default_factory=list)


class TrackScreen:
    def __init__(self, rt: Runtime, tracked: Tracked, client: Client, *, base_url: str = '', address: str = '') -> None:
        self.rt = rt
        self.base_url = base_url
        self.address = address
        self.journey = rt.journey
        self.client = client
        self.state = TrackState(tracked)
        self.tz = rt.settings.tz
        self.act: PersonAct | None = None
        self.proxy_panel: ProxyPanel | None = None

    async def build(self) -> None:
        await self._load_ticket()
        with ui.column().classes('w-full gap-3'):
            self.ticket_box = tid(ui.card(), 'track-ticket').classes('w-full p-4 gap-1')
            self.person_gate = tid(ui.card(), 'track-person').classes('w-full p-4 gap-2')
            self.person_box = ui.column().classes('w-full gap-3')
        self.draw_ticket()
        self.draw_gate()
        self.subscribe(TRACKED_EVENTS)

    def draw_gate(self) -> None:
        """Ask for the texted code; a ticket without a phone is told to go to the window."""
        tracked = self.state.tracked
        with self.person_gate:
            ui.label(t('track.person')).classes('text-base font-bold')
            if tracked.citizen_id is None or not tracked.has_phone:
                tid(ui.label(t('track.person.window')), 'track-window-only').classes('text-sm')
                return
            ui.label(t('track.person.why')).classes('text-sm text-grey-8')
            send = tid(ui.button(t('track.send'), on_click=self.send_code), 'track-send-code')
            send.props('outline no-caps').classes('w-full')
            self.sent = tid(ui.label(), 'track-sent').classes('text-sm text-positive')
            self.answer = tid(ui.input(t('track.code')), 'track-code').classes('w-full')
            self.answer.props('outlined maxlength=6 inputmode=numeric autocomplete=one-time-code size=lg')
            self.answer.on('keydown.enter', self.verify)
            self.error = tid(ui.label(), 'track-error').classes('text-negative text-sm')
            tid(ui.button(t('track.verify'), on_click=self.verify), 'track-verify').classes('w-full').props('size=lg')

    async def send_code(self) -> None:
        self.error.set_text('')
        try:
            await self.journey.tracking.send_code(self.state.tracked, address=self.address)
        except DomainError as failure:
            self.error.set_text(failure.message)
            return
        self.sent.set_text(t('track.sent'))

    async def verify(self) -> None:
        self.error.set_text('')
        try:
            act = await self.journey.tracking.verify(
                self.state.tracked, str(self.answer.value or ''), address=self.address
            )
        except DomainError as failure:
            self.answer.set_value('')
            self.error.set_text(failure.message)
            return
        await self.open_person(act)

    async def open_person(self, act: PersonAct) -> None:
        """The person's sections, for this ticket only, once `act` proves it is them."""
        self.act = act
        self.person_gate.clear()
        with self.person_gate:
            tid(ui.label(t('track.verified')), 'track-verified').classes('text-sm text-positive')
        await self._load_notices()
        with self.person_box:
            self.rating_box = tid(ui.column(), 'track-rating').classes('w-full gap-2')
            self.notice_box = tid(ui.card(), 'track-notices').classes('w-full p-4 gap-1')
            self.case_box = tid(ui.card(), 'track-cases').classes('w-full p-4 gap-2')
            if act.citizen_id is not None:
                self.proxy_panel = ProxyPanel(
                    self.journey.proxy, act, tz=self.tz, base_url=self.base_url, lang=self.rt.settings.lang
                )
            self.consent_box = tid(ui.card(), 'track-consents').classes('w-full p-4 gap-2')
        self.draw_notices()
        await self.draw_cases()
        await self.draw_rating()
        if self.proxy_panel is not None:
            await self.proxy_panel.draw()
        await self.draw_consents()

    def subscribe(self, events: tuple[type[Event], ...]) -> None:
        """Bus events while the page is open; the subscription ends with the page."""
        subscription = self.rt.bus.subscribe(self.on_event, *events, name=f'track:{self.client.id}')
        self.client.on_delete(lambda: self.rt.bus.unsubscribe(subscription))

    async def _load_ticket(self) -> None:
        tracked = self.state.tracked
        if tracked.ticket_id is not None:
            view = await self.rt.queue.ticket_view_by_id(tracked.ticket_id)
            self.state.status, self.state.window_number = view.ticket.status, view.window_number
            self.state.service_name = view.service.name

    async def _load_notices(self) -> None:
        tracked = self.state.tracked
        rows = await self.journey.notifications.for_ticket(tracked.ticket_id, self._case_filter())
        self.state.notices = [Notice(row.id or 0, row.created_at, row.text) for row in rows]

    def _case_filter(self) -> list[int]:
        return [self.state.tracked.case_id] if self.state.tracked.case_id else sorted(self.state.case_ids)

    # ---- sections ------------------------------------------------------------------------------

    def draw_ticket(self) -> None:
        state = self.state
        self.ticket_box.clear()
        if state.tracked.ticket_id is None:
            self.ticket_box.set_visibility(False)
            return
        with self.ticket_box:
            with ui.row().classes('w-full items-baseline justify-between no-wrap'):
                tid(ui.label(state.tracked.number), 'track-number').classes('text-4xl font-mono font-bold text-primary')
                tid(ui.label(t(f'track.status.{state.status}')), 'track-status').classes('text-base')
            ui.label(state.service_name).classes('text-base')
            if state.status == TicketStatus.WAITING:
                self._draw_position()
            elif state.status == TicketStatus.CALLED and state.window_number is not None:
                called = tid(ui.label(t('track.called', n=state.window_number)), 'track-window')
                called.classes('text-2xl font-bold text-accent')

    def _draw_position(self) -> None:
        live, tracked = self.rt.queue.live, self.state.tracked
        if live is None or tracked.ticket_id is None:
            return
        position = live_position(
            live, tracked.ticket_id, tracked.service_id, now=self.rt.queue.clock(), cap=self.rt.queue.fairness_cap
        )
        if position is None:
            return
        ahead = t('track.ahead', n=position.ahead) if position.ahead else t('track.next')
        tid(ui.label(ahead), 'track-ahead').classes('text-2xl font-bold')
        estimate = position.estimate
        wait = t('track.eta', m=round(estimate.minutes)) if estimate is not None else t('track.no_eta')
        tid(ui.label(wait), 'track-eta').classes('text-base text-grey-8')

    def draw_notices(self) -> None:
        self.notice_box.clear()
        with self.notice_box:
            ui.label(t('track.notices')).classes('text-base font-bold')
            if not self.state.notices:
                ui.label(t('track.no_notices')).classes('text-sm text-grey-7')
            newest, earlier = self.state.notices[:RECENT_NOTICES], self.state.notices[RECENT_NOTICES:MAX_NOTICES]
            for notice in newest:
                self._notice(notice)
            if earlier:
                with ui.expansion(t('track.more_notices', n=len(earlier))).classes('w-full text-sm'):
                    for notice in earlier:
                        self._notice(notice)

    def _notice(self, notice: Notice) -> None:
        with ui.row().classes('w-full gap-2 no-wrap items-baseline'):
            ui.label(notice.at.astimezone(self.tz).strftime('%H:%M')).classes('text-xs text-grey-7 shrink-0')
            tid(ui.label(notice.text), 'track-notice').classes('text-sm break-all')

    async def draw_cases(self) -> list[CaseView]:
        tracked = self.state.tracked
        if tracked.ticket_id is not None:
            views = await self.journey.cases.views_for_ticket(tracked.ticket_id)
        else:
            views = [await self.journey.cases.view(tracked.case_id or 0)]
        self.state.case_ids = {view.id for view in views}
        self.case_box.clear()
        with self.case_box:
            ui.label(t('track.cases')).classes('text-base font-bold')
            if not views:
                ui.label(t('track.no_case')).classes('text-sm text-grey-7')
            for view in views:
                case_timeline(
                    view,
                    now=self.journey.cases.clock(),
                    tz=self.tz,
                    on_download=self.download,
                    verify_base=self.base_url,
                )
        return views

    async def download(self, number: str) -> None:
        document = await self.journey.certificates.document(number)
        if document is not None:
            body = json.dumps(document, ensure_ascii=False, indent=2).encode('utf-8')
            ui.download(body, f'{number}.json', 'application/json')

    async def draw_rating(self) -> None:
        ticket_id = self.state.tracked.ticket_id
        if ticket_id is None or self.state.status != TicketStatus.COMPLETED:
            self.rating_box.clear()
            return
        rating = await self.journey.evaluations.state(ticket_id)
        self.rating_box.clear()  # after the await: two pushed events must not both draw into a cleared box
        if rating.latest is not None:
            self.state.evaluation_ids.add(rating.latest.id or 0)
        with self.rating_box, ui.card().classes('w-full p-4 gap-2'):
            ui.label(t('track.rating')).classes('text-base font-bold')
            if rating.latest is not None:
                level = level_label(rating.latest.scale, rating.latest.level)
                tid(ui.label(t('track.rated', level=level)), 'track-rated').classes('text-sm')
            if rating.rectification is not None:
                rect = rating.rectification
                text = t(
                    f'track.rect.{rect.status}',
                    department=rating.department_name,
                    deadline=f'{rect.deadline:%m月%d日}',
                    note=rect.fix_note,
                )
                tid(ui.label(text), 'track-rectification').classes('text-sm text-primary')
            elif rating.latest is not None:
                ui.label(t('track.thanks')).classes('text-sm text-grey-8')
            if rating.can_rate:
                EvaluationForm(self.journey.evaluations.scale, self.rate)

    async def rate(self, level: str, tags: list[str], comment: str) -> None:
        if self.act is None:
            return
        try:
            result = await self.journey.evaluations.rate(self.act, level, tags=tags, comment=comment)
        except DomainError as error:
            ui.notify(error.message, type='warning')
            return
        self.state.evaluation_ids.add(result.evaluation.id or 0)
        await self.draw_rating()

    async def draw_consents(self) -> None:
        """This ticket's consents only: the citizen's others never show here."""
        if self.act is None or self.act.citizen_id is None or self.act.tracked.ticket_id is None:
            self.consent_box.clear()
            self.consent_box.set_visibility(False)
            return
        consents = await self.journey.consent.list_for_ticket(self.act)
        self.consent_box.clear()
        with self.consent_box:
            ui.label(t('track.consents')).classes('text-base font-bold')
            if not consents:
                ui.label(t('track.no_consents')).classes('text-sm text-grey-7')
            for consent in consents:
                with tid(ui.row(), f'consent-{consent.id}').classes('w-full items-center justify-between no-wrap'):
                    with ui.column().classes('gap-0'):
                        purpose = t(f'track.purpose.{consent.purpose}')
                        scope = t(f'track.scope.{consent.scope}')
                        ui.label(f'{purpose} · {scope}').classes('text-sm')
                        granted = consent.granted_at.astimezone(self.tz).strftime('%Y-%m-%d %H:%M')
                        ui.label(f'{consent.service_code or ""} {granted}').classes('text-xs text-grey-7')
                        if consent.guardian_relation is not None:
                            relation = GUARDIAN_RELATIONS.get(consent.guardian_relation, consent.guardian_relation)
                            guardian = ui.label(t('track.by_guardian', relation=relation))
                            tid(guardian, f'consent-guardian-{consent.id}').classes('text-xs text-deep-orange-9')
                    if consent.revoked_at is not None:
                        ui.label(t('track.revoked')).classes('text-xs text-grey-7')
                    else:
                        button = ui.button(t('track.revoke'), on_click=self._revoker(consent.id, consent.purpose))
                        tid(button, f'consent-revoke-{consent.id}').props('outline dense no-caps color=negative')
            self._grant_offer(consents)

    def _grant_offer(self, consents: list) -> None:
        """零材料 starts here: the citizen agrees on their own phone, before the window opens the case."""
        if any(c.purpose == ConsentPurpose.DEPARTMENT_DATA and c.revoked_at is None for c in consents):
            return
        text = consent_text(ConsentPurpose.DEPARTMENT_DATA)
        with ui.expansion(t('track.grant')).classes('w-full text-sm'):
            ui.label(text.zh if self.rt.settings.lang == 'zh-CN' else text.en).classes('text-xs leading-relaxed')
            tid(ui.button(t('track.grant'), on_click=self.grant), 'consent-grant').props('unelevated no-caps')

    async def grant(self) -> None:
        if self.act is None:
            return
        live = self.rt.queue.live
        service = live.services.get(self.state.tracked.service_id) if live else None
        try:
            await self.journey.consent.grant_for(
                self.act,
                ConsentPurpose.DEPARTMENT_DATA,
                ConsentScope.SAME_KIND,
                service_code=service.code if service else None,
            )
        except DomainError as error:
            ui.notify(error.message, type='warning')
            return
        ui.notify(t('track.granted'), type='positive')
        await self.draw_consents()

    def _revoker(self, consent_id: int, purpose: str) -> Callable[[], object]:
        async def revoke() -> None:
            if self.act is None:
                return
            try:
                if purpose == ConsentPurpose.PROXY:  # the relative's access ends with it, and their page shows so
                    await self.journey.proxy.end_for_consent(consent_id, act=self.act)
                else:
                    await self.journey.consent.revoke_for(self.act, consent_id)
            except DomainError as error:
                ui.notify(error.message, type='warning')
            await self.draw_consents()

        return revoke

    # ---- pushed events -------------------------------------------------------------------------

    def ticket_moved(self, event: TicketEventBase) -> bool:
        """Redraw the ticket when it, or the queue ahead of it, moved; True when it was just served."""
        state, tracked, ticket = self.state, self.state.tracked, event.payload
        if ticket.id == tracked.ticket_id:
            finished = ticket.status == TicketStatus.COMPLETED and state.status != TicketStatus.COMPLETED
            state.status, state.window_number = ticket.status, ticket.window_number
            self.draw_ticket()
            return finished
        if ticket.service_id == tracked.service_id and state.status == TicketStatus.WAITING:
            self.draw_ticket()
        return False

    def _concerns(self, ticket_id: int | None, case_id: int | None) -> bool:
        tracked = self.state.tracked
        return (ticket_id is not None and ticket_id == tracked.ticket_id) or (
            case_id is not None and (case_id == tracked.case_id or case_id in self.state.case_ids)
        )

    async def on_event(self, event: Event) -> None:
        if self.client.id not in Client.instances:
            return
        state, tracked = self.state, self.state.tracked
        if isinstance(event, TicketEventBase):
            if self.ticket_moved(event) and self.act is not None:
                await self.draw_rating()
        elif self.act is None:  # the slip alone: status only
            return
        elif isinstance(event, CaseStepChanged):
            if self._concerns(event.ticket_id, event.case_id):
                await self.draw_cases()
        elif isinstance(event, NotificationSent):
            mine = self._concerns(event.ticket_id, event.case_id)
            if mine and event.notification_id not in {n.id for n in state.notices}:
                state.notices.insert(0, Notice(event.notification_id, event.time, event.text))
                self.draw_notices()
        elif isinstance(event, ProxyChanged):
            if self.proxy_panel is not None and self._concerns(event.ticket_id, event.case_id):
                await self.proxy_panel.draw()
                if event.change in ('invited', 'ended'):  # a grant's consent came or went
                    await self.draw_consents()
        elif isinstance(event, EvaluationSubmitted):
            if event.ticket_id == tracked.ticket_id:
                await self.draw_rating()
        elif event.evaluation_id in state.evaluation_ids:  # RectificationOpened / RectificationChanged
            await self.draw_rating()


async def track_page(code: str, client: Client, request: Request) -> None:
    rt = await ready()
    base_url = str(request.base_url).rstrip('/')
    address = address_of(request, rt.settings.trusted_proxies)
    with phone_frame(t('track.title'), hall_name=rt.hall.name):
        try:
            tracked = await rt.journey.tracking.follow(code, address=address)
        except DomainError as failure:
            with tid(ui.card(), 'track-gate').classes('w-full p-4 gap-3'):
                tid(ui.label(failure.message), 'track-error').classes('text-negative text-base')
            return
        await TrackScreen(rt, tracked, client, base_url=base_url, address=address).build()
