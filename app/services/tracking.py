"""Following a ticket or case by its tracking code, and acting for its person only with a second factor.

The code is on the slip's QR, and a slip is shown, lost and photographed: it is a pointer, not a key.
The code alone shows the ticket's status (number, place in the queue, window) and its case's steps.
Anything about the person (messages, consents, rating, relatives' access) needs a `PersonAct`: a
six-digit code texted to the ticket's phone (app/services/one_time_codes.py; staff never see it), or a
clerk at the window serving the ticket, with the citizen in front of them. A ticket without a phone
has only the window. Every act records the path it came through (`via`) and who acted.
Unknown codes, texts sent and wrong answers are limited per ticket, phone and address (app/services/limits.py).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlmodel import select

from app.models.cases import Case
from app.models.people import Citizen
from app.models.ticket import Ticket, TicketStatus
from app.security.keys import Purpose
from app.services import eta
from app.services.deps import Deps
from app.services.errors import Conflict, Forbidden
from app.services.limits import Limit
from app.services.live_queue import LiveQueue
from app.services.messages import Template, message
from app.services.notifications import NotificationService
from app.services.one_time_codes import LIFETIME_MINUTES, OneTimeCodes
from app.services.principal import Principal
from app.services.uow import Service

VIA_SMS = 'sms_code'  # the citizen typed the code texted to the ticket's phone
VIA_WINDOW = 'window_staff'  # a clerk at the window serving the ticket, the citizen present
VIA_ACCOUNT = 'citizen_account'  # the citizen's own phone session (/me), linked to them by a verified path

GUESSES_PER_CODE = Limit(
    'track:code',
    5,
    dt.timedelta(minutes=15),
    'tracking_locked',
)
GUESSES_PER_ADDRESS = Limit(
    'track:address',
    30,
    dt.timedelta(minutes=15),
    'tracking_locked',
)
TEXTS_PER_TICKET = Limit('track:texts:ticket', 3, dt.timedelta(minutes=15), 'code_texts_limited')
TEXTS_PER_PHONE = Limit('track:texts:phone', 6, dt.timedelta(hours=1), 'code_texts_limited')
TEXTS_PER_ADDRESS = Limit(
    'track:texts:address',
    10,
    dt.timedelta(minutes=15),
    'code_texts_limited',
)


def refused() -> Forbidden:
    return Forbidden('tracking_refused')


def wrong_code() -> Forbidden:
    return Forbidden('wrong_sms_code')


def window_only() -> Forbidden:
    return Forbidden(
        'person_act_at_window',
    )


@dataclass(frozen=True)
class Tracked:
    """What a tracking code points at: one ticket (and its cases) or one case. Status only, no person."""

    code: str
    ticket_id: int | None
    case_id: int | None
    citizen_id: int | None
    service_id: int
    number: str
    has_phone: bool = False


@dataclass(frozen=True)
class PersonAct:
    """Leave to act for the person of one tracked ticket or case, and the verified path it came through."""

    tracked: Tracked
    via: str
    actor: str  # 'citizen:<id>' for the citizen; the clerk's user name at the window
    role: str

    @property
    def citizen_id(self) -> int | None:
        return self.tracked.citizen_id

    @property
    def by_staff(self) -> bool:
        return self.via == VIA_WINDOW


class TrackingService(Service):
    def __init__(self, deps: Deps, notifier: NotificationService) -> None:
        super().__init__(deps)
        self.codes = OneTimeCodes(deps.limits.store, deps.settings.key(Purpose.ONE_TIME_CODES), clock=deps.clock)
        self.notifier = notifier

    async def follow(self, code: str, *, address: str = '') -> Tracked:
        """What the code points at (status only); unknown codes count per address so codes cannot be probed."""
        code = code.strip()[:64]
        await self.limits.check(GUESSES_PER_ADDRESS, address)
        tracked = await self._find(code)
        if tracked is None:
            await self.limits.hit(GUESSES_PER_ADDRESS, address)
            raise refused()
        return tracked

    async def send_code(self, tracked: Tracked, *, address: str = '') -> None:
        """Text a one-time code to the ticket's phone (shown nowhere else); limited per ticket, phone and address."""
        if tracked.citizen_id is None or not tracked.has_phone:
            raise window_only()
        phone = await self._phone(tracked.citizen_id)
        if phone is None:
            raise window_only()
        await self.limits.hit(TEXTS_PER_TICKET, _subject(tracked))
        await self.limits.hit(TEXTS_PER_PHONE, phone)
        await self.limits.hit(TEXTS_PER_ADDRESS, address)
        code = await self.codes.issue(_subject(tracked))
        await self.notifier.text_now(
            message(Template.VERIFY_CODE, code=code, minutes=LIFETIME_MINUTES),
            key=f'otp:{_subject(tracked)}:{secrets.token_urlsafe(9)}',  # each code is a new text
            hall_id=self.hall_id,
            citizen_id=tracked.citizen_id,
            ticket_id=tracked.ticket_id,
        )

    async def verify(self, tracked: Tracked, answer: str, *, address: str = '') -> PersonAct:
        """The citizen's leave to act when `answer` is the live texted code (once); wrong answers are limited."""
        subject = _subject(tracked)
        await self.limits.check(GUESSES_PER_CODE, subject)
        await self.limits.check(GUESSES_PER_ADDRESS, address)
        if tracked.citizen_id is None or not await self.codes.redeem(subject, answer[:16]):
            await self.limits.hit(GUESSES_PER_CODE, subject)
            await self.limits.hit(GUESSES_PER_ADDRESS, address)
            raise wrong_code()
        return PersonAct(tracked, VIA_SMS, f'citizen:{tracked.citizen_id}', 'citizen')

    async def at_window(self, caller: Principal, ticket_id: int) -> PersonAct:
        """A clerk acts for the citizen in front of them: only at the window now serving this ticket."""
        async with self.db.read_session() as s:
            ticket = await s.get(Ticket, ticket_id)
        if ticket is None or ticket.window_id is None or not caller.is_staff:
            raise Forbidden('not_at_window')
        caller.require_window(ticket.window_id)
        if ticket.status != TicketStatus.CALLED:
            raise Conflict('not_at_window', text='not_at_window.ticket')
        tracked = await self._find(ticket.code)
        assert tracked is not None
        return PersonAct(tracked, VIA_WINDOW, caller.name, str(caller.role))

    async def _phone(self, citizen_id: int) -> str | None:
        async with self.db.read_session() as s:
            citizen = await s.get(Citizen, citizen_id)
        if citizen is None or not citizen.phone_enc:
            return None
        return self.cipher.decrypt(citizen.phone_enc, context='citizen.phone')

    async def _find(self, code: str) -> Tracked | None:
        async with self.db.read_session() as s:
            ticket = (await s.execute(select(Ticket).where(Ticket.code == code))).scalar_one_or_none()
            case = None
            if ticket is None:
                case = (await s.execute(select(Case).where(Case.code == code))).scalar_one_or_none()
                if case is not None and case.ticket_id is not None:
                    ticket = await s.get(Ticket, case.ticket_id)
            if ticket is None and case is None:
                return None
            citizen_id = ticket.citizen_id if ticket else case.citizen_id if case else None
            citizen = await s.get(Citizen, citizen_id) if citizen_id else None
        return Tracked(
            code=code,
            ticket_id=ticket.id if ticket else None,
            case_id=case.id if case else None,
            citizen_id=citizen_id,
            service_id=ticket.service_id if ticket else case.service_id if case else 0,
            number=ticket.number if ticket else '',
            has_phone=citizen is not None and bool(citizen.phone_enc),
        )


def _subject(tracked: Tracked) -> str:
    """One code per ticket (a case opened from a ticket shares it), or per case without a ticket."""
    return f'ticket:{tracked.ticket_id}' if tracked.ticket_id is not None else f'case:{tracked.case_id}'


@dataclass(frozen=True)
class Position:
    ahead: int
    estimate: eta.Estimate | None


def live_position(
    live: LiveQueue, ticket_id: int, service_id: int, *, now: dt.datetime, cap: dt.timedelta
) -> Position | None:
    """Where a waiting ticket stands, from the in-memory queues (no query: pages recompute it on every push)."""
    mine = live.waiting.get(service_id, {}).get(ticket_id)
    if mine is None:
        return None
    ahead = live.ahead_of(mine, service_id, now=now, cap=cap)
    return Position(ahead, live.estimate(service_id, ahead))
