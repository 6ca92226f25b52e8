"""The kiosk's step machine: one citizen's visit from the start screen to the ticket, as pure state.

No database, no devices, no NiceGUI: `KioskService` checks what needs the world (consent, the clerk's
session, the queue) and then moves the session here; the kiosk screen only draws `session.step` and
forwards taps. Every change of step is a method of `KioskSession`, so the whole flow reads in one place:

    START -> SERVICE (by hand, a card, a typed number) -> CHECKLIST -> TICKET
    START -> CONSENT -> FACE -> SERVICE (刷脸; no match or no consent: back to START)
    START -> CHECKLIST (an appointment names its service)
    SERVICE (after a card read) -> ENROL_CONSENT -> ENROL -> SERVICE (刷脸 enrolment, opt-in; 本次 or 同类)

Home, 完成 and an idle kiosk reset to START; a card during a choice joins it, after a ticket starts anew.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from app.models.security import ConsentScope
from app.services.errors import Conflict, Forbidden, Invalid
from app.services.kiosk_devices import KioskDevice
from app.services.kiosk_identity import Identity
from app.services.principal import Principal

if TYPE_CHECKING:
    from app.services.queue import TicketView


class Step(StrEnum):
    START = 'start'
    CONSENT = 'consent'  # 刷脸: the consent text, agreed separately before the camera is used
    FACE = 'face'  # waiting for this kiosk's camera
    ENROL_CONSENT = 'enrol_consent'  # after a card read: the 刷脸 consent with its scope (本次 / 同类)
    ENROL = 'enrol'  # consent recorded: the live capture that enrols the template
    SERVICE = 'service'
    CHECKLIST = 'checklist'
    TICKET = 'ticket'


class Method(StrEnum):
    MANUAL = 'manual'  # service chosen by hand, no identity
    TYPED_ID = 'typed_id'  # ID number typed (staff-assisted)
    ID_CARD = 'id_card'
    FACE = 'face'
    APPOINTMENT = 'appointment'


BEFORE_IDENTITY = frozenset({Step.START, Step.CONSENT, Step.FACE})  # no identity is shown on these screens
CHOOSING = frozenset({Step.SERVICE, Step.CHECKLIST})


@dataclass(frozen=True)
class Assist:
    """The clerk signed in at this kiosk (工作人员协助); `token` is their own session, revoked when assist ends."""

    username: str
    display_name: str
    token: str = field(repr=False)


@dataclass
class KioskSession:
    """One citizen's visit to one kiosk, from the start screen to the ticket (the page keeps one).

    `address` is the kiosk screen's; `assist` outlives a visit (a clerk may help several citizens) and
    ends only through `KioskService.end_assist`.
    """

    kiosk: KioskDevice
    address: str = ''
    assist: Assist | None = None
    step: Step = Step.START
    method: Method = Method.MANUAL
    identity: Identity | None = None
    appointment_code: str | None = field(default=None, repr=False)
    service_code: str | None = None
    answers: dict[str, str] = field(default_factory=dict)
    consent_version: str | None = None
    face_scope: ConsentScope = ConsentScope.ONCE  # what the citizen chose on 刷脸取号's consent screen
    face_consent_id: int | None = None  # the 刷脸 consent recorded in this visit (enrolment, or agreement at a match)
    ticket: TicketView | None = None
    disability: bool = False  # priority needs, set only by an assisting clerk
    pregnancy: bool = False

    @property
    def elder(self) -> bool:
        """The elder-friendly layout: bigger text, fewer choices, high contrast."""
        return bool(self.identity and self.identity.elderly)

    @property
    def caller(self) -> Principal:
        """Who takes the ticket: this kiosk, and the assisting clerk if one is signed in."""
        clerk = self.assist.username if self.assist else None
        return Principal.kiosk(self.kiosk.code, address=self.address, assisted_by=clerk)

    @property
    def shows_identity(self) -> bool:
        return self.identity is not None and self.step not in BEFORE_IDENTITY

    @property
    def at_rest(self) -> bool:
        """Nothing to time out: the start screen with no clerk signed in."""
        return self.step == Step.START and self.assist is None

    @property
    def needs_clerk(self) -> bool:
        """A typed number or a priority need is taken only while the clerk's session is still live."""
        return self.method == Method.TYPED_ID or self.disability or self.pregnancy

    def reset(self) -> None:
        self.step, self.method, self.identity = Step.START, Method.MANUAL, None
        self.appointment_code = self.service_code = self.consent_version = None
        self.face_consent_id, self.face_scope = None, ConsentScope.ONCE
        self.answers = {}
        self.ticket = None
        self.disability = self.pregnancy = False

    # ---- starting and identifying ---------------------------------------------------------------

    def start_by_hand(self) -> None:
        self.reset()
        self.step = Step.SERVICE

    def identified(self, identity: Identity, method: Method) -> None:
        """A card or typed number before any choice starts a visit; during a choice it joins it; after a
        ticket (or over another identity) it starts anew. An appointment keeps its method."""
        if self.step not in CHOOSING or self.identity is not None:
            self.start_by_hand()
        self.identity = identity
        if self.method != Method.APPOINTMENT:
            self.method = method

    def begin_face(self) -> None:
        self.reset()
        self.step, self.method = Step.CONSENT, Method.FACE

    def consented(self, text_version: str, scope: ConsentScope, *, current: str) -> None:
        """Agreed to the consent text shown, with its scope; a text that changed meanwhile must be read again."""
        if self.step != Step.CONSENT:
            raise Conflict('not_asking_consent')
        if text_version != current:
            raise Invalid('stale_consent_text')
        self.consent_version, self.face_scope = text_version, ConsentScope(scope)
        self.step = Step.FACE

    @property
    def awaiting_face(self) -> bool:
        return self.step == Step.FACE

    def face_identified(self, identity: Identity, consent_id: int) -> None:
        """The camera named the citizen and their agreement is recorded: the ticket taken next carries it."""
        self.step, self.identity, self.face_consent_id = Step.SERVICE, identity, consent_id

    # ---- 刷脸 enrolment (after a card read) ---------------------------------------------------------

    def offer_enrolment(self) -> Identity:
        """Only a citizen whose ID card was just read at this kiosk may enrol: never a typed number or a face."""
        if self.identity is None or self.method != Method.ID_CARD or self.step not in CHOOSING:
            raise Forbidden('enrolment_needs_card')
        self.step = Step.ENROL_CONSENT
        return self.identity

    def enrolment_consented(self, consent_id: int) -> None:
        if self.step != Step.ENROL_CONSENT:
            raise Conflict('not_asking_consent')
        self.face_consent_id, self.step = consent_id, Step.ENROL

    def enrolment_consent(self) -> int:
        """The consent the capture enrols under; none recorded in this visit refuses the capture."""
        if self.step != Step.ENROL or self.face_consent_id is None or self.identity is None:
            raise Forbidden('consent_required', text='consent_required.face_ticket')
        return self.face_consent_id

    def enrolment_done(self) -> None:
        """Enrolled, declined or fallen back: the citizen carries on choosing a service with their card; a consent
        recorded stays on the session, so the ticket taken next carries it (/track shows it, revocable)."""
        self.step = Step.CHECKLIST if self.service_code else Step.SERVICE

    def checked_in(self, identity: Identity | None, appointment_code: str, service_code: str) -> None:
        """An appointment: its service is chosen, the checklist is next."""
        self.reset()
        self.method, self.identity = Method.APPOINTMENT, identity
        self.appointment_code = appointment_code
        self.service_code, self.step = service_code, Step.CHECKLIST

    # ---- staff assist -------------------------------------------------------------------------------

    def require_assist(self) -> Assist:
        if self.assist is None:
            raise Forbidden('assist_required')
        return self.assist

    def set_priority(self, *, disability: bool, pregnancy: bool) -> None:
        """Priority needs are the clerk's call (they see the person), never a citizen's self-service tick."""
        self.require_assist()
        self.disability, self.pregnancy = disability, pregnancy

    def assist_ended(self) -> None:
        """The clerk left: their priority choices go, and so does a number they typed (unless ticketed)."""
        self.assist = None
        self.disability = self.pregnancy = False
        if self.method == Method.TYPED_ID and self.step != Step.TICKET:
            self.reset()

    # ---- service, checklist, ticket -----------------------------------------------------------

    def choose(self, service_code: str) -> None:
        """A service chosen: after a ticket this is a new visit; another service drops the old answers."""
        if self.step == Step.TICKET:
            self.reset()
        if self.service_code != service_code:
            self.answers = {}
        self.service_code, self.step = service_code, Step.CHECKLIST

    def back_to_services(self) -> None:
        self.service_code = None
        self.answers = {}
        self.step = Step.SERVICE

    def chosen(self) -> str:
        if self.service_code is None:
            raise Conflict('no_service')
        return self.service_code

    def ready_for_ticket(self) -> str:
        """The service to take a number for; one ticket per visit."""
        if self.step == Step.TICKET:
            raise Conflict('ticket_taken')
        return self.chosen()

    def ticket_taken(self, view: TicketView) -> None:
        self.ticket, self.step = view, Step.TICKET
