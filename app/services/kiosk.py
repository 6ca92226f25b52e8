"""Kiosk sessions: how a citizen at a self-service kiosk gets from the door to a ticket.

A session starts by ID card (the kiosk's attached reader), 刷脸 (the separate consent is shown and
agreed first; ID card and the staffed counter stay offered), an appointment QR (scanned or typed) or
by choosing a service by hand. A few questions personalise the material checklist, then the queue
engine issues the ticket (it gives the green channel from the ID number). Citizens aged
`elderly_age` or more also get the elder-friendly layout.

Staff assist (工作人员协助): a clerk signs in at the kiosk with their own account (AuthService.login, so
lockout and audit apply). Only while a clerk assists may an ID number be typed instead of read, and
priority needs (disability, pregnancy) be set; the queue hears the caller as
`Principal.kiosk(code, assisted_by=clerk)` and records a typed number as typed. Assist ends when the
clerk ends it or the kiosk restarts or idles, and the clerk's session is then revoked.

`KioskService` does what needs the world (database, consent, the clerk's session, the queue, the
bus) and moves the session through its steps (`kiosk_steps`). The concerns live beside it:
`kiosk_devices` (the kiosk, its hardware port, the slip), `kiosk_catalogue` (what it offers),
`kiosk_identity` (who is there), `kiosk_tickets` (the ticket and its answers, in one transaction).
No image passes through here: the camera driver searches a frame in memory and sends only the outcome.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import hall_day
from app.events import CardRead, FaceMatched, HelpRequested, QrScanned
from app.models.device import DeviceKind
from app.models.hall import ServiceItem
from app.models.security import ConsentPurpose, ConsentScope
from app.models.ticket import Ticket
from app.security import codes
from app.services import materials
from app.services.auth import AuthService
from app.services.consent import CURRENT_TEXT_VERSIONS, ConsentService
from app.services.deps import Deps
from app.services.errors import DomainError, Invalid, NotFound, Unauthorized
from app.services.face_enrolment import KIOSK_CHANNEL
from app.services.kiosk_catalogue import Catalogue, ServiceCard, load_catalogue
from app.services.kiosk_devices import (
    CardClaim,
    KioskDevice,
    KioskDevices,
    PrintResult,
    TicketSlip,
    load_kiosk,
    make_slip,
    print_slip,
)
from app.services.kiosk_identity import (
    Identity,
    appointment_reference,
    booked_appointment,
    citizen_id_number,
    claim_card,
    identify,
)
from app.services.kiosk_steps import Assist, KioskSession, Method, Step
from app.services.kiosk_tickets import answers_for, bind_consent, record_answers, ticket_request
from app.services.paper_guide import paper_guide
from app.services.queue import QueueService, TicketView
from app.services.uow import Service

__all__ = [  # the kiosk's public names, wherever they live
    'Assist',
    'CardClaim',
    'Catalogue',
    'Identity',
    'KioskDevice',
    'KioskDevices',
    'KioskService',
    'KioskSession',
    'Method',
    'PrintResult',
    'ServiceCard',
    'Step',
    'TicketSlip',
    'answers_for',
]

FACE_MATCH = 'match'


class KioskService(Service):
    def __init__(self, deps: Deps, queue: QueueService, *, auth: AuthService) -> None:
        super().__init__(deps)
        self.queue = queue
        self.auth = auth
        self.consent = ConsentService(deps)

    # ---- the kiosk and its catalogue ----------------------------------------------------------

    async def kiosk(self, code: str) -> KioskDevice:
        return await load_kiosk(self.db, self.hall_id, code)

    async def catalogue(self) -> Catalogue:
        return await load_catalogue(self.db, self.hall_id)

    # ---- who is at the kiosk -------------------------------------------------------------------

    def identify(self, raw_id_number: str, *, name: str = '', citizen_id: int | None = None) -> Identity:
        """Validate an ID number (GB 11643) on the hall's day; Invalid on any fault."""
        return identify(
            raw_id_number,
            today=hall_day(self.clock(), self.settings.tz),
            elderly_age=self.rules.elderly_age,
            name=name,
            citizen_id=citizen_id,
        )

    def enter_id_number(self, session: KioskSession, raw: str) -> Identity:
        """The staff-assisted flow: the number typed instead of read from the card, only while a clerk assists."""
        session.require_assist()
        identity = self.identify(raw)
        session.identified(identity, Method.TYPED_ID)
        return identity

    def card_read(self, session: KioskSession, event: CardRead, devices: KioskDevices | None) -> Identity:
        """A card at this kiosk's reader: claim the full number from the reader (once) and identify."""
        card = claim_card(session.kiosk, event, devices)
        identity = self.identify(card.id_number, name=card.name)
        session.identified(identity, Method.ID_CARD)
        return identity

    async def _citizen_identity(self, citizen_id: int) -> Identity:
        return self.identify(await citizen_id_number(self.db, self.cipher, citizen_id), citizen_id=citizen_id)

    # ---- staff assist (工作人员协助) -------------------------------------------------------------------

    async def start_assist(self, session: KioskSession, username: str, password: str, totp: str = '') -> Assist:
        """A clerk signs in here with their own account (and code, if they have a second factor); a clerk
        assisting before them is signed out. A password-only manager session cannot assist."""
        issued = await self.auth.login(username, password, totp=totp, client_address=session.address)
        if issued.enrolment_only:
            await self.auth.logout(issued.token, client_address=session.address)
            raise Unauthorized('second_factor_enrolment_required', text='second_factor_enrolment_required.kiosk')
        await self.end_assist(session)
        principal = issued.principal
        session.assist = Assist(principal.name, principal.display_name or principal.name, issued.token)
        return session.assist

    async def end_assist(self, session: KioskSession) -> None:
        """Sign the clerk out (their session is revoked); a number they typed leaves with them."""
        assist = session.assist
        if assist is None:
            return
        session.assist_ended()
        await self.auth.logout(assist.token, client_address=session.address)

    async def check_assist(self, session: KioskSession) -> None:
        """The clerk's session must still be live (not logged out elsewhere, not timed out) when it matters."""
        assist = session.require_assist()
        try:
            await self.auth.authenticate(assist.token)
        except Unauthorized as error:
            session.assist_ended()
            raise Unauthorized('assist_ended') from error

    def set_priority(self, session: KioskSession, *, disability: bool, pregnancy: bool) -> None:
        session.set_priority(disability=disability, pregnancy=pregnancy)

    # ---- 刷脸: consent first ---------------------------------------------------------------------

    def begin_face(self, session: KioskSession) -> str:
        """Show the consent text (its version is returned); the camera is not used before agreement."""
        session.begin_face()
        return CURRENT_TEXT_VERSIONS[ConsentPurpose.FACE_TICKET]

    def agree_face(self, session: KioskSession, text_version: str, scope: ConsentScope) -> None:
        """Agreed, with the scope chosen (本次 / 同类); it is recorded once the camera names the citizen."""
        session.consented(text_version, scope, current=CURRENT_TEXT_VERSIONS[ConsentPurpose.FACE_TICKET])

    async def capture_face(self, session: KioskSession, devices: KioskDevices | None) -> bool:
        """After agreement only: ask the kiosk's camera for one frame (its answer comes as FaceMatched).

        False when there is no camera or it cannot take a picture: the citizen uses the fallback offered.
        """
        camera = session.kiosk.attached(DeviceKind.CAMERA)
        if not session.awaiting_face or camera is None or devices is None:
            return False
        return await devices.capture_face(camera, session.kiosk.code)

    async def face_matched(self, session: KioskSession, event: FaceMatched) -> Identity | None:
        """The camera's answer while this session waits for it (None: not for us, ignored).

        No match, several close matches or no live consent: back to the start with the fallback named. A match
        records the citizen's agreement with the scope they chose (`ConsentService.agree_at_match`); the ticket
        taken next carries it, so /track shows it and can revoke it.
        """
        if not session.awaiting_face or event.device.code != session.kiosk.attached(DeviceKind.CAMERA):
            return None
        if event.outcome != FACE_MATCH or event.citizen_id is None:
            session.reset()
            raise NotFound(
                'face_not_matched',
            )
        caller = session.caller
        try:
            async with self._transaction() as uow:
                agreed = await self.consent.agree_at_match(
                    uow.session,
                    event.citizen_id,
                    session.face_scope,
                    text_version=session.consent_version or '',
                    channel=KIOSK_CHANNEL,
                    actor=caller.name,
                    role=caller.role,
                )
            identity = await self._citizen_identity(event.citizen_id)
        except DomainError:
            session.reset()
            raise
        assert agreed.id is not None
        session.face_identified(identity, agreed.id)
        return identity

    # ---- appointments ---------------------------------------------------------------------------

    async def appointment(self, session: KioskSession, code: str) -> ServiceItem:
        """Check in by appointment: the signed QR payload, or the reference typed from the booking."""
        reference = appointment_reference(self.settings.secret, code)
        service, citizen_id = await booked_appointment(self.db, self.hall_id, reference)
        identity = session.identity
        if identity is None and citizen_id is not None:
            identity = await self._citizen_identity(citizen_id)
        session.checked_in(identity, codes.sign(self.settings.secret, 'appt', reference), service.code)
        return service

    async def scanned(self, session: KioskSession, event: QrScanned) -> ServiceItem | None:
        """A code at this kiosk's scanner: appointments check in; anything else is explained."""
        if event.device.code != session.kiosk.attached(DeviceKind.QR_SCANNER):
            return None
        if not event.valid:
            raise (
                Invalid('invalid_qr', event.reason) if event.reason else Invalid('invalid_qr')
            )  # the scanner's own words
        if event.kind != 'appt':
            raise Invalid('not_an_appointment')
        return await self.appointment(session, codes.sign(self.settings.secret, 'appt', event.value))

    async def arrived(self, session: KioskSession, event: QrScanned) -> TicketView | None:
        """A phone's ticket QR at this kiosk's scanner: its remote ticket's citizen is in the hall."""
        if event.device.code != session.kiosk.attached(DeviceKind.QR_SCANNER) or not event.valid:
            return None
        return await self.queue.arrive_at_kiosk(event.value, caller=session.caller)

    # ---- service, questions, ticket -----------------------------------------------------------

    def choose_service(self, session: KioskSession, catalogue: Catalogue, code: str) -> ServiceItem:
        service = catalogue.service(code)
        session.choose(code)
        return service

    def answer(self, session: KioskSession, catalogue: Catalogue, question: str, value: str) -> materials.Checklist:
        service = catalogue.service(session.chosen())
        session.answers.update(materials.clean_answers(service, {question: value}))
        return materials.checklist(service, session.answers)

    def checklist(self, session: KioskSession, catalogue: Catalogue) -> materials.Checklist:
        return materials.checklist(catalogue.service(session.chosen()), session.answers)

    async def take_ticket(self, session: KioskSession) -> TicketView:
        """Issue the ticket (the engine decides the priority) with the answers for the window, in one transaction."""
        session.ready_for_ticket()
        if session.needs_clerk:
            await self.check_assist(session)
        caller = session.caller
        answers = dict(session.answers)
        consent_id = session.face_consent_id

        async def also(s: AsyncSession, ticket: Ticket) -> None:
            if answers:
                await record_answers(s, ticket, answers, actor=caller.name)
            if consent_id is not None:
                await bind_consent(s, ticket, consent_id)

        view = await self.queue.take_ticket(ticket_request(session), caller=caller, also=also)
        session.ticket_taken(view)
        return view

    # ---- the ticket slip, the printer and 呼叫人工 -------------------------------------------------

    @staticmethod
    def slip(
        view: TicketView, *, track_url: str, window_hint: str, answers: Mapping[str, str] | None = None
    ) -> TicketSlip:
        """The slip carries the 纸质版简化指南 too: the checklist for the citizen's answers and the steps ahead."""
        guide = paper_guide(view.service, answers or {}, window_hint=window_hint)
        return make_slip(view, track_url=track_url, window_hint=window_hint, guide=guide)

    async def print_slip(self, kiosk: KioskDevice, devices: KioskDevices | None, slip: TicketSlip) -> PrintResult:
        return await print_slip(kiosk, devices, slip)

    async def request_help(self, kiosk: KioskDevice, *, note: str = '') -> HelpRequested:
        """呼叫人工: tell the floor staff (through the twin) that someone at this kiosk needs a person."""
        event = HelpRequested(hall_id=self.hall_id, device=kiosk.payload, note=note[:200])
        await self.bus.publish(event)
        return event
