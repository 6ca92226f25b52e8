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

Privacy: the full ID number lives only in this server-side session (never rendered, `repr=False`);
screens show `Identity.masked`. No image passes through here: the camera driver searches a frame in
memory and sends only the outcome.

Kiosk answers are kept as a `TicketEvent(kind='answers')` row of the ticket (no transition, the
status is unchanged): the window reads them with `answers_for` and hands them to the case it opens,
which then owns them on `Case.answers`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from sqlmodel import col, select

from app.bus import Bus
from app.clock import hall_day, utcnow
from app.db import Database
from app.events import CardRead, DevicePayload, FaceMatched, HelpRequested, QrScanned
from app.models.appointment import Appointment, AppointmentStatus
from app.models.device import Device, DeviceKind
from app.models.hall import Department, ServiceItem, Window, WindowService, Zone
from app.models.people import Citizen
from app.models.security import ConsentPurpose
from app.models.ticket import Channel, TicketCreate, TicketEvent
from app.security import codes
from app.security.crypto import FieldCipher
from app.security.masking import mask_id_number
from app.services import materials
from app.services.auth import ENROLMENT_REQUIRED, AuthService
from app.services.consent import CURRENT_TEXT_VERSIONS, ConsentService
from app.services.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    StorageUnavailable,
    Unauthorized,
)
from app.services.identity import parse_id_number
from app.services.principal import Principal
from app.services.queue import QueueService, TicketView
from app.settings import Settings

log = logging.getLogger(__name__)

ELDER_ZONE = 'senior'  # windows of this zone serve older citizens: their services come first in elder mode
ANSWERS_KIND = 'answers'
FACE_MATCH = 'match'


class Step(StrEnum):
    START = 'start'
    CONSENT = 'consent'  # 刷脸: the consent text, agreed separately before the camera is used
    FACE = 'face'  # waiting for this kiosk's camera
    SERVICE = 'service'
    CHECKLIST = 'checklist'
    TICKET = 'ticket'


class Method(StrEnum):
    MANUAL = 'manual'  # service chosen by hand, no identity
    TYPED_ID = 'typed_id'  # ID number typed (staff-assisted)
    ID_CARD = 'id_card'
    FACE = 'face'
    APPOINTMENT = 'appointment'


CHANNELS = {
    Method.MANUAL: Channel.KIOSK,
    Method.TYPED_ID: Channel.KIOSK,
    Method.ID_CARD: Channel.ID_CARD,
    Method.FACE: Channel.FACE,
    Method.APPOINTMENT: Channel.APPOINTMENT_QR,
}


@dataclass(frozen=True)
class KioskDevice:
    id: int
    code: str
    name: str
    hall_id: int
    peripherals: dict[str, str]  # device kind -> code of the device attached to this kiosk

    @property
    def payload(self) -> DevicePayload:
        return DevicePayload(device_id=self.id, code=self.code, kind=DeviceKind.KIOSK)

    def attached(self, kind: DeviceKind) -> str | None:
        return self.peripherals.get(kind.value)


@dataclass(frozen=True)
class ServiceCard:
    code: str
    name: str
    name_en: str
    description: str
    prefix: str
    windows: tuple[int, ...]  # window numbers that serve it

    @property
    def window_hint(self) -> str:
        return '、'.join(str(n) for n in self.windows) + '号窗口' if self.windows else ''


@dataclass(frozen=True)
class ServiceGroup:
    department: str
    department_en: str
    services: tuple[ServiceCard, ...]


@dataclass(frozen=True)
class Catalogue:
    """What a kiosk offers: services some window serves, by department; `elder_codes` go first in elder mode."""

    groups: tuple[ServiceGroup, ...]
    items: dict[str, ServiceItem]
    elder_codes: tuple[str, ...]

    def card(self, code: str) -> ServiceCard:
        for group in self.groups:
            for card in group.services:
                if card.code == code:
                    return card
        raise NotFound('unknown_service', f'本机不提供事项 {code!r} / this kiosk does not offer that service')

    def service(self, code: str) -> ServiceItem:
        self.card(code)
        return self.items[code]

    @property
    def cards(self) -> list[ServiceCard]:
        return [card for group in self.groups for card in group.services]


@dataclass(frozen=True)
class Identity:
    """Who is at the kiosk. Only `masked`, `age` and `elderly` are ever shown."""

    id_number: str = field(repr=False)
    masked: str
    age: int
    elderly: bool
    name: str = field(default='', repr=False)
    citizen_id: int | None = None


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

    def reset(self) -> None:
        self.step, self.method, self.identity = Step.START, Method.MANUAL, None
        self.appointment_code = self.service_code = self.consent_version = None
        self.answers = {}
        self.ticket = None
        self.disability = self.pregnancy = False


class CardClaim(Protocol):
    """The full card data a reader holds for its kiosk (devices' CardData has it)."""

    id_number: str
    name: str


class KioskDevices(Protocol):
    """The hardware a kiosk page can reach: claim a card read at its reader, print a ticket slip, ask for a face."""

    def take_card(self, reader_code: str) -> CardClaim | None: ...

    async def print_slip(self, printer_code: str, slip: TicketSlip) -> str: ...

    async def capture_face(self, camera_code: str, session_id: str) -> bool: ...


@dataclass(frozen=True)
class TicketSlip:
    """What the printed ticket says (devices/escpos.py prints it; the printer command carries its fields)."""

    number: str
    service_name: str
    window_hint: str
    people_ahead: int | None
    eta_minutes: int | None
    track_url: str
    taken_at: dt.datetime


@dataclass(frozen=True)
class PrintResult:
    printed: bool
    reason: str = ''  # 'no_printer', or the device's message


class KioskService:
    def __init__(
        self,
        db: Database,
        bus: Bus,
        settings: Settings,
        cipher: FieldCipher,
        queue: QueueService,
        *,
        auth: AuthService,
        hall_id: int,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.db = db
        self.bus = bus
        self.settings = settings
        self.cipher = cipher
        self.queue = queue
        self.auth = auth
        self.hall_id = hall_id
        self.clock = clock
        self.consent = ConsentService(db, cipher, clock=clock, tz=settings.tz)

    # ---- the kiosk and its catalogue ----------------------------------------------------------

    async def kiosk(self, code: str) -> KioskDevice:
        """A seeded kiosk of this hall with its attached reader, scanner, camera and printer."""
        async with self.db.read_session() as s:
            device = (
                await s.execute(
                    select(Device).where(
                        Device.hall_id == self.hall_id, Device.code == code, Device.kind == DeviceKind.KIOSK
                    )
                )
            ).scalar_one_or_none()
            if device is None or device.id is None:
                raise NotFound('unknown_kiosk', f'没有编号为 {code} 的自助取号机 / no kiosk with this code')
            attached = (
                await s.execute(select(Device).where(Device.hall_id == self.hall_id, Device.attached_to == code))
            ).scalars()
            peripherals = {DeviceKind(d.kind).value: d.code for d in attached}
        return KioskDevice(device.id, device.code, device.name, device.hall_id, peripherals)

    async def catalogue(self) -> Catalogue:
        """Services some window of this hall serves, grouped by department, in catalogue order."""
        async with self.db.read_session() as s:
            rows = (
                await s.execute(
                    select(ServiceItem, Department, Window.number, Zone.code)
                    .join(Department, col(Department.id) == ServiceItem.department_id)
                    .join(WindowService, col(WindowService.service_id) == ServiceItem.id)
                    .join(Window, col(Window.id) == WindowService.window_id)
                    .join(Zone, col(Zone.id) == Window.zone_id)
                    .where(Window.hall_id == self.hall_id)
                    .order_by(col(ServiceItem.id), Window.number)
                )
            ).all()
        items: dict[str, ServiceItem] = {}
        windows: dict[str, list[int]] = defaultdict(list)
        departments: dict[str, Department] = {}
        elder: list[str] = []
        for service, department, number, zone in rows:
            items[service.code] = service
            departments[service.code] = department
            windows[service.code].append(number)
            if zone == ELDER_ZONE and service.code not in elder:
                elder.append(service.code)
        grouped: dict[int, list[ServiceCard]] = defaultdict(list)
        for code, service in items.items():
            grouped[departments[code].id or 0].append(
                ServiceCard(
                    code,
                    service.name,
                    service.name_en,
                    service.description,
                    service.ticket_prefix,
                    tuple(sorted(set(windows[code]))),
                )
            )
        by_id = {d.id or 0: d for d in departments.values()}
        groups = tuple(
            ServiceGroup(by_id[did].name, by_id[did].name_en, tuple(cards)) for did, cards in grouped.items()
        )
        return Catalogue(groups, items, tuple(elder))

    # ---- who is at the kiosk -------------------------------------------------------------------

    def identify(self, raw_id_number: str, *, name: str = '', citizen_id: int | None = None) -> Identity:
        """Validate an ID number (GB 11643) and derive age and the elderly flag; Invalid on any fault."""
        today = hall_day(self.clock(), self.settings.tz)
        facts = parse_id_number(raw_id_number.strip().upper(), today=today)
        age = facts.age_on(today)
        return Identity(
            id_number=facts.number,
            masked=mask_id_number(facts.number),
            age=age,
            elderly=age >= self.settings.elderly_age,
            name=name.strip(),
            citizen_id=citizen_id,
        )

    def enter_id_number(self, session: KioskSession, raw: str) -> Identity:
        """The staff-assisted flow: the number typed instead of read from the card, only while a clerk assists."""
        _require_assist(session)
        identity = self.identify(raw)
        self._attach_identity(session, identity, Method.TYPED_ID)
        return identity

    def card_read(self, session: KioskSession, event: CardRead, devices: KioskDevices | None) -> Identity:
        """A card at this kiosk's reader: claim the full number from the reader (once) and identify."""
        reader = session.kiosk.attached(DeviceKind.ID_READER)
        if event.device.code != reader:
            raise Invalid('foreign_reader', "不是本机的读卡器 / not this kiosk's card reader")
        if not event.valid:
            raise Invalid('invalid_card', event.reason or '身份证无法识别，请重新放置 / the card could not be read')
        card = devices.take_card(reader) if devices is not None else None
        if card is None:
            raise Conflict('card_expired', '读卡信息已失效，请重新放置身份证 / please place your ID card again')
        identity = self.identify(card.id_number, name=card.name)
        self._attach_identity(session, identity, Method.ID_CARD)
        return identity

    def _attach_identity(self, session: KioskSession, identity: Identity, method: Method) -> None:
        """A card before any choice starts a visit; during a choice it joins it; after a ticket it starts anew."""
        if session.step not in (Step.SERVICE, Step.CHECKLIST) or session.identity is not None:
            session.reset()
            session.step = Step.SERVICE
        session.identity = identity
        if session.method != Method.APPOINTMENT:
            session.method = method

    # ---- staff assist (工作人员协助) -------------------------------------------------------------------

    async def start_assist(self, session: KioskSession, username: str, password: str, totp: str = '') -> Assist:
        """A clerk signs in here with their own account (and code, if they have a second factor); a clerk
        assisting before them is signed out. A password-only manager session cannot assist."""
        issued = await self.auth.login(username, password, totp=totp, client_address=session.address)
        if issued.enrolment_only:
            await self.auth.logout(issued.token, client_address=session.address)
            raise Unauthorized(ENROLMENT_REQUIRED, '请先在工作台设置动态验证码 / set up your authenticator app first')
        await self.end_assist(session)
        principal = issued.principal
        session.assist = Assist(principal.name, principal.display_name or principal.name, issued.token)
        return session.assist

    async def end_assist(self, session: KioskSession) -> None:
        """Sign the clerk out (their session is revoked); a number they typed leaves with them."""
        assist = session.assist
        if assist is None:
            return
        session.assist = None
        self._drop_assisted_choices(session)
        await self.auth.logout(assist.token, client_address=session.address)

    async def check_assist(self, session: KioskSession) -> None:
        """The clerk's session must still be live (not logged out elsewhere, not timed out) when it matters."""
        assist = _require_assist(session)
        try:
            await self.auth.authenticate(assist.token)
        except Unauthorized as error:
            session.assist = None
            self._drop_assisted_choices(session)
            raise Unauthorized(
                'assist_ended', '协助登录已失效，请工作人员重新登录 / the assisting clerk was signed out: sign in again'
            ) from error

    def set_priority(self, session: KioskSession, *, disability: bool, pregnancy: bool) -> None:
        """Priority needs are the clerk's call (they see the person), never a citizen's self-service tick."""
        _require_assist(session)
        session.disability, session.pregnancy = disability, pregnancy

    @staticmethod
    def _drop_assisted_choices(session: KioskSession) -> None:
        session.disability = session.pregnancy = False
        if session.method == Method.TYPED_ID and session.step != Step.TICKET:
            session.reset()

    # ---- 刷脸: consent first ---------------------------------------------------------------------

    def begin_face(self, session: KioskSession) -> str:
        """Show the consent text (its version is returned); the camera is not used before agreement."""
        session.reset()
        session.step, session.method = Step.CONSENT, Method.FACE
        return CURRENT_TEXT_VERSIONS[ConsentPurpose.FACE_TICKET]

    def agree_face(self, session: KioskSession, text_version: str) -> None:
        if session.step != Step.CONSENT:
            raise Conflict('not_asking_consent', '请先选择刷脸取号 / choose face ticketing first')
        if text_version != CURRENT_TEXT_VERSIONS[ConsentPurpose.FACE_TICKET]:
            raise Invalid('stale_consent_text', '告知书已更新，请重新阅读 / the consent text changed: read it again')
        session.consent_version = text_version
        session.step = Step.FACE

    async def capture_face(self, session: KioskSession, devices: KioskDevices | None) -> bool:
        """After agreement only: ask the kiosk's camera for one frame (its answer comes as FaceMatched).

        False when there is no camera or it cannot take a picture: the citizen uses the fallback offered.
        """
        camera = session.kiosk.attached(DeviceKind.CAMERA)
        if session.step != Step.FACE or camera is None or devices is None:
            return False
        return await devices.capture_face(camera, session.kiosk.code)

    async def face_matched(self, session: KioskSession, event: FaceMatched) -> Identity | None:
        """The camera's answer while this session waits for it (None: not for us, ignored).

        No match, several close matches or no live consent: back to the start with the fallback named.
        """
        if session.step != Step.FACE or event.device.code != session.kiosk.attached(DeviceKind.CAMERA):
            return None
        if event.outcome != FACE_MATCH or event.citizen_id is None:
            session.reset()
            raise NotFound(
                'face_not_matched',
                '未能确认您的身份，请使用身份证取号或到人工窗口 / we could not confirm who you are: '
                'please use your ID card or a staffed counter',
            )
        try:
            await self.consent.require(event.citizen_id, ConsentPurpose.FACE_TICKET, consume=True)
            identity = await self._citizen_identity(event.citizen_id)
        except DomainError:
            session.reset()
            raise
        session.step, session.identity = Step.SERVICE, identity
        return identity

    async def _citizen_identity(self, citizen_id: int) -> Identity:
        async with self.db.read_session() as s:
            citizen = await s.get(Citizen, citizen_id)
        if citizen is None or not citizen.id_number_enc:
            raise NotFound('unknown_citizen', '未找到办事人信息，请使用身份证 / not found: please use your ID card')
        number = self.cipher.decrypt(citizen.id_number_enc, context='citizen.id_number')
        return self.identify(number, citizen_id=citizen_id)

    # ---- appointments ---------------------------------------------------------------------------

    async def appointment(self, session: KioskSession, code: str) -> ServiceItem:
        """Check in by appointment: the signed QR payload, or the reference typed from the booking."""
        code = code.strip()
        if code.upper().startswith('HT1.'):
            reference = codes.verify(self.settings.secret, 'appt', code)
        else:
            reference = code.upper()
            if not reference.isalnum() or len(reference) > 32:
                raise Invalid('invalid_reference', '预约码格式不正确 / that is not an appointment code')
        async with self.db.read_session() as s:
            appointment = (
                await s.execute(select(Appointment).where(Appointment.reference == reference))
            ).scalar_one_or_none()
            if appointment is None or appointment.hall_id != self.hall_id:
                raise NotFound('unknown_appointment', '未找到该预约 / appointment not found')
            if appointment.status != AppointmentStatus.BOOKED:
                raise Conflict('appointment_used', '该预约已签到或已取消 / appointment already used or cancelled')
            service = await s.get(ServiceItem, appointment.service_id)
            citizen_id = appointment.citizen_id
        assert service is not None
        identity = session.identity
        if identity is None and citizen_id is not None:
            identity = await self._citizen_identity(citizen_id)
        session.reset()
        session.method, session.identity = Method.APPOINTMENT, identity
        session.appointment_code = codes.sign(self.settings.secret, 'appt', reference)
        session.service_code, session.step = service.code, Step.CHECKLIST
        return service

    async def scanned(self, session: KioskSession, event: QrScanned) -> ServiceItem | None:
        """A code at this kiosk's scanner: appointments check in; anything else is explained."""
        if event.device.code != session.kiosk.attached(DeviceKind.QR_SCANNER):
            return None
        if not event.valid:
            raise Invalid('invalid_qr', event.reason or '二维码无效 / this code is not valid')
        if event.kind != 'appt':
            raise Invalid(
                'not_an_appointment', '这是进度查询码，请用手机扫码查看 / this is a tracking code: scan it with a phone'
            )
        return await self.appointment(session, codes.sign(self.settings.secret, 'appt', event.value))

    # ---- service, questions, ticket -----------------------------------------------------------

    def choose_service(self, session: KioskSession, catalogue: Catalogue, code: str) -> ServiceItem:
        service = catalogue.service(code)
        if session.step == Step.TICKET:
            session.reset()
        if session.service_code != code:
            session.answers = {}
        session.service_code, session.step = code, Step.CHECKLIST
        return service

    def answer(self, session: KioskSession, catalogue: Catalogue, question: str, value: str) -> materials.Checklist:
        service = self._chosen(session, catalogue)
        session.answers.update(materials.clean_answers(service, {question: value}))
        return materials.checklist(service, session.answers)

    def checklist(self, session: KioskSession, catalogue: Catalogue) -> materials.Checklist:
        return materials.checklist(self._chosen(session, catalogue), session.answers)

    def _chosen(self, session: KioskSession, catalogue: Catalogue) -> ServiceItem:
        if session.service_code is None:
            raise Conflict('no_service', '请先选择事项 / choose a service first')
        return catalogue.service(session.service_code)

    async def take_ticket(self, session: KioskSession) -> TicketView:
        """Issue the ticket (the engine decides the priority) and keep the answers for the window."""
        if session.step == Step.TICKET:
            raise Conflict('ticket_taken', '已取号 / a ticket was already taken')
        if session.service_code is None:
            raise Conflict('no_service', '请先选择事项 / choose a service first')
        if session.method == Method.TYPED_ID or session.disability or session.pregnancy:
            await self.check_assist(session)
        identity = session.identity
        caller = session.caller
        view = await self.queue.take_ticket(
            TicketCreate(
                service_code=session.service_code,
                channel=CHANNELS[session.method],
                id_number=identity.id_number if identity else None,
                name=(identity.name or None) if identity else None,
                appointment_code=session.appointment_code,
                disability=session.disability,
                pregnancy=session.pregnancy,
            ),
            caller=caller,
        )
        if session.answers:
            try:
                await self.record_answers(view, session.answers, actor=caller.name)
            except StorageUnavailable:  # the ticket is stored and valid: give it; only the window's checklist is short
                log.warning('kiosk: ticket %s issued; its answers could not be stored', view.ticket.number)
        session.ticket, session.step = view, Step.TICKET
        return view

    async def record_answers(self, view: TicketView, answers: dict[str, str], *, actor: str) -> None:
        ticket = view.ticket
        assert ticket.id is not None
        async with self.db.write_lock(), self.db.session() as s, s.begin():
            s.add(
                TicketEvent(
                    ticket_id=ticket.id,
                    hall_id=self.hall_id,
                    kind=ANSWERS_KIND,
                    at=self.clock(),
                    actor=actor,
                    service_id=ticket.service_id,
                    from_status=ticket.status,
                    to_status=ticket.status,
                    detail={'answers': dict(answers), 'source': 'kiosk'},
                )
            )

    # ---- the ticket slip, the printer and 呼叫人工 -------------------------------------------------

    @staticmethod
    def slip(view: TicketView, *, track_url: str, window_hint: str) -> TicketSlip:
        ahead = view.position - 1 if view.position else None
        eta = round(view.estimate.minutes) if view.estimate else None
        return TicketSlip(
            number=view.ticket.number,
            service_name=view.service.name,
            window_hint=window_hint,
            people_ahead=ahead,
            eta_minutes=eta,
            track_url=track_url,
            taken_at=view.ticket.taken_at,
        )

    async def print_slip(self, kiosk: KioskDevice, devices: KioskDevices | None, slip: TicketSlip) -> PrintResult:
        """Print on the kiosk's printer if it has one; any failure is an answer (show the ticket to photograph)."""
        printer = kiosk.attached(DeviceKind.PRINTER)
        if printer is None or devices is None:
            return PrintResult(False, 'no_printer')
        try:
            await devices.print_slip(printer, slip)
        except DomainError as error:
            return PrintResult(False, error.message)
        except Exception as error:  # a printer must never take the kiosk down with it
            log.warning('printing at %s failed: %r', printer, error)
            return PrintResult(False, 'print_failed')
        return PrintResult(True)

    async def request_help(self, kiosk: KioskDevice, *, note: str = '') -> HelpRequested:
        """呼叫人工: tell the floor staff (through the twin) that someone at this kiosk needs a person."""
        event = HelpRequested(hall_id=self.hall_id, device=kiosk.payload, note=note[:200])
        await self.bus.publish(event)
        return event


def _require_assist(session: KioskSession) -> Assist:
    if session.assist is None:
        raise Forbidden('assist_required', '此操作需要工作人员协助 / this needs a member of staff signed in here')
    return session.assist


async def answers_for(db: Database, ticket_id: int) -> dict[str, str]:
    """The latest answers recorded for a ticket (at the kiosk), or {} if none."""
    async with db.read_session() as s:
        row = (
            await s.execute(
                select(TicketEvent.detail)
                .where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind == ANSWERS_KIND)
                .order_by(col(TicketEvent.id).desc())
                .limit(1)
            )
        ).scalar_one_or_none()
    answers: Any = (row or {}).get('answers', {})
    return {str(k): str(v) for k, v in answers.items()} if isinstance(answers, dict) else {}
