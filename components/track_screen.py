"""The citizen's screen of /track: the ticket for anyone holding the code, the person's sections after the texted code.

The code alone (the slip's QR) shows the ticket's status: people ahead and the wait, the window once
called. Everything about the person (messages, the case timeline, the rating form once served, this
ticket's consents and relatives' access) opens only after the code texted to the ticket's phone
(app/services/tracking.py: a slip is a pointer, not a key). Everything moves by push from the journey
feed; a case or rating event makes the screen re-read just that case or rating.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from nicegui import ui

from app.events import (
    CaseStepChanged,
    EvaluationSubmitted,
    Event,
    HandoffApplied,
    NotificationSent,
    ProxyChanged,
    RectificationChanged,
    RectificationOpened,
    TicketEventBase,
    WaitComfort,
)
from app.models.security import ConsentPublic, ConsentPurpose, ConsentScope
from app.models.ticket import TicketStatus
from app.services.consent import GUARDIAN_RELATIONS, consent_text
from app.services.errors import DomainError
from app.services.evaluation import level_label
from app.services.journey import Journey
from app.services.queue import QueueService
from app.services.ticket_handoff import TicketHandoffService
from app.services.tracking import PersonAct, Tracked
from components import journey_texts as _texts  # noqa: F401 - registers the texts
from components.case_list import CaseList
from components.evaluation_form import EvaluationForm
from components.proxy_panel import ProxyPanel
from components.testids import tid
from components.texts import error_text, t
from components.ticket_card import TicketCard
from twin.journey_feed import JourneyFeed

RECENT_NOTICES = 3
MAX_NOTICES = 50


@dataclass
class Notice:
    id: int
    at: dt.datetime
    text: str


class TrackScreen:
    def __init__(
        self,
        journey: Journey,
        queue: QueueService,
        feed: JourneyFeed,
        tracked: Tracked,
        *,
        handoffs: TicketHandoffService | None = None,
        tz: ZoneInfo,
        lang: str,
        base_url: str = '',
        address: str = '',
    ) -> None:
        self.journey = journey
        self.queue = queue
        self.handoffs = handoffs
        self.feed = feed
        self.tracked = tracked
        self.tz = tz
        self.lang = lang
        self.base_url = base_url
        self.address = address
        self.act: PersonAct | None = None
        self.proxy_panel: ProxyPanel | None = None
        self.notices: list[Notice] = []
        self.evaluation_ids: set[int] = set()

    async def build(self) -> None:
        with ui.column().classes('w-full gap-3'):
            self.ticket = TicketCard(self.queue, self.tracked, handoffs=self.handoffs)
            self.comfort = tid(ui.label(), 'track-comfort').classes('w-full p-3 rounded bg-amber-1 text-base')
            self.person_gate = tid(ui.card(), 'track-person').classes('w-full p-4 gap-2')
            self.person_box = ui.column().classes('w-full gap-3')
        await self.ticket.show()
        await self.draw_comfort()
        self.draw_gate()
        self.feed.tickets.subscribe(self.on_ticket)
        self.feed.journey.subscribe(self.on_journey)

    def draw_gate(self) -> None:
        """Ask for the texted code; a ticket without a phone is told to go to the window."""
        tracked = self.tracked
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

    async def draw_comfort(self) -> None:
        """A page opened after the 30 minutes passed shows the prompt at once; later ones come by push."""
        prompt = None
        if self.tracked.ticket_id is not None:
            prompt = await self.journey.comfort.prompt_for(self.tracked.ticket_id)
        if prompt is None:
            self.comfort.set_visibility(False)
            return
        self.show_comfort(prompt.in_language(self.lang))

    def show_comfort(self, text: str) -> None:
        self.comfort.set_text(text)
        self.comfort.set_visibility(bool(text))

    async def send_code(self) -> None:
        self.error.set_text('')
        try:
            await self.journey.tracking.send_code(self.tracked, address=self.address)
        except DomainError as failure:
            self.error.set_text(error_text(failure))
            return
        self.sent.set_text(t('track.sent'))

    async def verify(self) -> None:
        self.error.set_text('')
        try:
            act = await self.journey.tracking.verify(self.tracked, str(self.answer.value or ''), address=self.address)
        except DomainError as failure:
            self.answer.set_value('')
            self.error.set_text(error_text(failure))
            return
        await self.open_person(act)

    async def open_person(self, act: PersonAct) -> None:
        """The person's sections, for this ticket only, once `act` proves it is them."""
        self.person_gate.clear()
        with self.person_gate:
            tid(ui.label(t('track.verified')), 'track-verified').classes('text-sm text-positive')
        await self._load_notices()
        with self.person_box:
            self.rating_box = tid(ui.column(), 'track-rating').classes('w-full gap-2')
            self.notice_box = tid(ui.card(), 'track-notices').classes('w-full p-4 gap-1')
            self.cases = CaseList(self.journey, self.tracked, tz=self.tz, base_url=self.base_url)
            if act.citizen_id is not None:
                self.proxy_panel = ProxyPanel(
                    self.journey.proxy, act, tz=self.tz, base_url=self.base_url, lang=self.lang
                )
            self.consent_box = tid(ui.card(), 'track-consents').classes('w-full p-4 gap-2')
        self.act = act  # from here on, pushed events reach the person's sections
        self.draw_notices()
        await self.cases.draw()
        await self.draw_rating()
        if self.proxy_panel is not None:
            await self.proxy_panel.draw()
        await self.draw_consents()

    async def _load_notices(self) -> None:
        cases = [self.tracked.case_id] if self.tracked.case_id else []
        rows = await self.journey.notifications.for_ticket(self.tracked.ticket_id, cases)
        self.notices = [Notice(row.id or 0, row.created_at, row.text) for row in rows]

    # ---- sections ------------------------------------------------------------------------------

    def draw_notices(self) -> None:
        self.notice_box.clear()
        with self.notice_box:
            ui.label(t('track.notices')).classes('text-base font-bold')
            if not self.notices:
                ui.label(t('track.no_notices')).classes('text-sm text-grey-7')
            newest, earlier = self.notices[:RECENT_NOTICES], self.notices[RECENT_NOTICES:MAX_NOTICES]
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

    async def draw_rating(self) -> None:
        ticket_id = self.tracked.ticket_id
        if ticket_id is None or self.ticket.status != TicketStatus.COMPLETED:
            self.rating_box.clear()
            return
        rating = await self.journey.evaluations.state(ticket_id)
        self.rating_box.clear()  # after the await: two pushed events must not both draw into a cleared box
        if rating.latest is not None:
            self.evaluation_ids.add(rating.latest.id or 0)
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
            ui.notify(error_text(error), type='warning')
            return
        self.evaluation_ids.add(result.evaluation.id or 0)
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

    def _grant_offer(self, consents: list[ConsentPublic]) -> None:
        """零材料 starts here: the citizen agrees on their own phone, before the window opens the case."""
        if any(c.purpose == ConsentPurpose.DEPARTMENT_DATA and c.revoked_at is None for c in consents):
            return
        text = consent_text(ConsentPurpose.DEPARTMENT_DATA)
        with ui.expansion(t('track.grant')).classes('w-full text-sm'):
            ui.label(text.zh if self.lang == 'zh-CN' else text.en).classes('text-xs leading-relaxed')
            tid(ui.button(t('track.grant'), on_click=self.grant), 'consent-grant').props('unelevated no-caps')

    async def grant(self) -> None:
        if self.act is None:
            return
        live = self.queue.live
        service = live.services.get(self.tracked.service_id) if live else None
        try:
            await self.journey.consent.grant_for(
                self.act,
                ConsentPurpose.DEPARTMENT_DATA,
                ConsentScope.SAME_KIND,
                service_code=service.code if service else None,
            )
        except DomainError as error:
            ui.notify(error_text(error), type='warning')
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
                ui.notify(error_text(error), type='warning')
            await self.draw_consents()

        return revoke

    # ---- pushed events -------------------------------------------------------------------------

    async def on_ticket(self, event: TicketEventBase) -> None:
        served = self.ticket.moved(event)
        if self.ticket.status == TicketStatus.TRANSFERRED and self.ticket.handoff is None:
            await self.ticket.show()  # sent to another hall just now: read where to go
        if self.ticket.status != TicketStatus.WAITING:
            self.comfort.set_visibility(False)  # called (or gone): no longer waiting
        if served and self.act is not None:
            await self.draw_rating()

    async def on_journey(self, event: Event) -> None:
        """The person's sections follow their case, notices, relatives and rating; the slip alone sees none.

        The comfort prompt is the hall's own words, nothing personal: the slip's holder sees it too."""
        if isinstance(event, HandoffApplied):
            if event.from_ticket_id == self.tracked.ticket_id:
                await self.ticket.show()  # the other hall issued its number: where to go and the new number, now
            return
        if isinstance(event, WaitComfort):
            if event.ticket_id == self.tracked.ticket_id and self.ticket.status == TicketStatus.WAITING:
                self.show_comfort(event.text_en if self.lang == 'en' and event.text_en else event.text_zh)
            return
        if self.act is None:
            return
        if isinstance(event, CaseStepChanged):
            if self.cases.concerns(event.ticket_id, event.case_id):
                await self.cases.draw()
        elif isinstance(event, NotificationSent):
            mine = self.cases.concerns(event.ticket_id, event.case_id)
            if mine and event.notification_id not in {n.id for n in self.notices}:
                self.notices.insert(0, Notice(event.notification_id, event.time, event.text))
                self.draw_notices()
        elif isinstance(event, ProxyChanged):
            if self.proxy_panel is not None and self.cases.concerns(event.ticket_id, event.case_id):
                await self.proxy_panel.draw()
                if event.change in ('invited', 'ended'):  # a grant's consent came or went
                    await self.draw_consents()
        elif self._about_rating(event):
            await self.draw_rating()

    def _about_rating(self, event: Event) -> bool:
        """A rating of this ticket, or a rectification of a rating shown here."""
        if isinstance(event, EvaluationSubmitted):
            return event.ticket_id == self.tracked.ticket_id
        if isinstance(event, RectificationOpened | RectificationChanged):
            return event.evaluation_id in self.evaluation_ids
        return False
