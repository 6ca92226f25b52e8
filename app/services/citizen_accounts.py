"""A citizen signs in on the phone with a six-digit code texted to it; the account is found by the phone's keyed hash.

Why this shape: the phone proves only the phone. Asking for a code never says whether the phone has an
account (the answer is the same either way, and the account is made only when a right code comes back).
Codes are computed, never stored (app/services/one_time_codes.py), go out at once by SMS with no outbox
row, and are limited per phone and per address, as are wrong answers. A session keeps only the SHA-256 of
its token; tokens start with 'c.' so the API tells them from staff tokens without a lookup. A citizen
record (`Citizen`, the ID number) is linked to an account only by a paired kiosk that read the ID card or
by staff, never from the phone. At the window the clerk links the account a ticket came from (taken on the
phone or booked online) to the person in front of them (`link_at_window`); an account once linked is never
moved to another person here: that needs the account holder verified again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.clock import hall_day
from app.events import CitizenSignedOut
from app.models.appointment import Appointment
from app.models.citizen_account import ACCOUNT_PHONE, CitizenAccount, CitizenSession
from app.models.people import Citizen
from app.models.ticket import MOBILE_PATTERN, Ticket, TicketStatus
from app.security.crypto import FieldCipher
from app.security.keys import Purpose
from app.security.masking import mask_address, mask_phone
from app.services import audit, citizens
from app.services.auth import LoginHandoff
from app.services.deps import Deps
from app.services.device_names import device_name
from app.services.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from app.services.identity import parse_id_number
from app.services.limits import Limit
from app.services.messages import Template, message
from app.services.notifications import NotificationService
from app.services.one_time_codes import SLOT, OneTimeCodes
from app.services.principal import WINDOW_ROLES, Kind, Principal
from app.services.tracking import PersonAct
from app.services.uow import Service

TOKEN_PREFIX = 'c.'  # a citizen's token; staff tokens never start so (app/api/callers.py)
TOUCH_EVERY = dt.timedelta(minutes=1)
CODE_VALID_SECONDS = int(SLOT.total_seconds())  # a code lives 5 to 10 minutes: promise the 5

CODES_PER_PHONE = Limit('citizen:codes:phone', 5, dt.timedelta(hours=1), 'code_texts_limited')
CODES_PER_ADDRESS = Limit('citizen:codes:address', 10, dt.timedelta(minutes=15), 'code_texts_limited')
GUESSES_PER_PHONE = Limit('citizen:guesses:phone', 5, dt.timedelta(minutes=15), 'sign_in_locked')
GUESSES_PER_ADDRESS = Limit('citizen:guesses:address', 20, dt.timedelta(minutes=15), 'sign_in_locked')

SIGN_IN = 'citizen_sign_in'
SIGN_OUT = 'citizen_sign_out'
SESSION_ENDED = 'citizen_session_ended'  # the citizen ended another of their sign-ins (a lost phone)
LINKED = 'citizen_account_linked'


def normal_phone(raw: str) -> str:
    """The 11-digit mainland mobile number (spaces, dashes and +86 dropped), or Invalid."""
    text = re.sub(r'[\s-]', '', raw or '')[:20]
    if not re.fullmatch(MOBILE_PATTERN, text):
        raise Invalid('invalid_phone')
    return text[-11:]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class CodeSent:
    expires_in: int  # seconds the code is good for at least


@dataclass(frozen=True)
class SignedIn:
    token: str
    expires_at: dt.datetime
    account_id: int


@dataclass(frozen=True)
class LiveSession:
    """A signed-in phone and the session that signs it in."""

    principal: Principal
    session_id: int


@dataclass(frozen=True)
class SignedInDevice:
    """One live sign-in of the citizen's account as they see it: where from (masked), since when, last seen."""

    session_id: int
    device: str  # its short name ('iPhone · WeChat'), '' when unknown
    place: str  # the address it signed in from, masked as the rest of the app masks addresses
    signed_in_at: dt.datetime
    last_seen_at: dt.datetime
    this_one: bool  # the sign-in asking: ended by signing out, never from the list


@dataclass(frozen=True)
class TicketAccount:
    """The phone account a ticket came from, as the clerk serving it sees it: the phone masked, and its link."""

    account_id: int
    phone_masked: str  # the clerk asks the person in front of them whether this phone is theirs
    linked: bool  # to some citizen
    linked_here: bool  # to this ticket's citizen


@dataclass(frozen=True)
class Linked:
    account_id: int
    citizen_id: int
    typed: bool  # the ticket had no ID number: the clerk typed it from the card
    already: bool  # the account was linked to this person before: nothing changed


class CitizenAccountService(Service):
    def __init__(self, deps: Deps, notifier: NotificationService) -> None:
        super().__init__(deps)
        self.codes = OneTimeCodes(deps.limits.store, deps.settings.key(Purpose.ONE_TIME_CODES), clock=deps.clock)
        self.notifier = notifier
        self.handoff = LoginHandoff(clock=deps.clock)  # /me/login's page hands the token to an HttpOnly cookie

    def _subject(self, phone: str) -> str:
        return f'account:{self.cipher.lookup(phone)}'

    async def request_code(self, phone: str, caller: Principal) -> CodeSent:
        """Text a sign-in code to `phone`; the same answer whether or not the phone has an account."""
        phone = normal_phone(phone)
        await self.limits.hit(CODES_PER_ADDRESS, caller.address)
        await self.limits.hit(CODES_PER_PHONE, phone)
        code = await self.codes.issue(self._subject(phone))
        await self.notifier.text_phone(
            message(Template.SIGN_IN_CODE, code=code, minutes=CODE_VALID_SECONDS // 60),
            key=f'otp:{self._subject(phone)[:40]}:{secrets.token_urlsafe(9)}',  # each code is a new text
            hall_id=self.hall_id,
            phone=phone,
        )
        return CodeSent(expires_in=CODE_VALID_SECONDS)

    async def sign_in(self, phone: str, code: str, caller: Principal, *, user_agent: str = '') -> SignedIn:
        """A session for the phone's account (made on first sign-in) when `code` is its live texted code, once;
        it keeps the short name of the device (`user_agent`), for 登录设备."""
        phone = normal_phone(phone)
        subject = self._subject(phone)
        await self.limits.check(GUESSES_PER_PHONE, phone)
        await self.limits.check(GUESSES_PER_ADDRESS, caller.address)
        if not await self.codes.redeem(subject, (code or '')[:16]):
            await self.limits.hit(GUESSES_PER_PHONE, phone)
            await self.limits.hit(GUESSES_PER_ADDRESS, caller.address)
            raise Unauthorized('wrong_sms_code')
        await self.limits.reset(GUESSES_PER_PHONE, phone)
        now = self.clock()
        lookup = self.cipher.lookup(phone)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        expires_at = now + dt.timedelta(days=self.settings.citizen_session_days)
        async with self._transaction() as uow:
            s = uow.session
            account = (
                await s.execute(select(CitizenAccount).where(CitizenAccount.phone_hash == lookup))
            ).scalar_one_or_none()
            created = account is None
            if account is None:
                account = CitizenAccount(
                    phone_hash=lookup,
                    phone_enc=self.cipher.encrypt(phone, context=ACCOUNT_PHONE),
                    created_at=now,
                )
                s.add(account)
                await s.flush()
            assert account.id is not None
            s.add(
                CitizenSession(
                    account_id=account.id,
                    token_hash=token_hash(token),
                    address=caller.address[:64],
                    device=device_name(user_agent),
                    created_at=now,
                    last_seen_at=now,
                    expires_at=expires_at,
                )
            )
            await audit.record(
                s,
                actor=f'account:{account.id}',
                role='citizen',
                action=SIGN_IN,
                detail={'new_account': created},
                client_address=caller.address,
                now=now,
            )
        return SignedIn(token, expires_at, account.id)

    async def authenticate(self, token: str) -> Principal:
        """The signed-in phone behind `token`, or Unauthorized (unknown, expired, idle too long, signed out)."""
        return (await self.session(token)).principal

    async def session(self, token: str) -> LiveSession:
        """`authenticate`, with the session's id: a live page ends when that session does (`ended`)."""
        if not token.startswith(TOKEN_PREFIX):
            raise Unauthorized('not_authenticated', text='not_authenticated.session')
        now = self.clock()
        async with self.db.read_session(short=True) as s:  # a point lookup by the unique token hash
            row = (
                await s.execute(
                    select(CitizenSession, CitizenAccount)
                    .join(CitizenAccount, col(CitizenAccount.id) == col(CitizenSession.account_id))
                    .where(CitizenSession.token_hash == token_hash(token))
                )
            ).first()
        if row is None:
            raise Unauthorized('not_authenticated', text='not_authenticated.session')
        session, account = row
        if not self._alive(session, now):
            raise Unauthorized('session_expired')
        if now - _utc(session.last_seen_at) >= TOUCH_EVERY:
            async with self._transaction() as uow:
                await uow.session.execute(
                    update(CitizenSession).where(col(CitizenSession.id) == session.id).values(last_seen_at=now)
                )
        assert account.id is not None and session.id is not None
        return LiveSession(
            Principal.account(account.id, citizen_id=account.citizen_id, address=session.address), session.id
        )

    async def ended(self, session_ids: Collection[int]) -> set[int]:
        """Which of these sessions no longer sign anyone in (signed out, expired, idle too long, gone): one query."""
        if not session_ids:
            return set()
        now = self.clock()
        async with self.db.read_session() as s:
            rows = (
                await s.execute(
                    select(
                        CitizenSession.id,
                        CitizenSession.revoked_at,
                        CitizenSession.expires_at,
                        CitizenSession.last_seen_at,
                    ).where(col(CitizenSession.id).in_(list(session_ids)))
                )
            ).all()
        idle = dt.timedelta(days=self.settings.citizen_idle_days)
        alive = {
            row.id
            for row in rows
            if row.revoked_at is None and now < _utc(row.expires_at) and now < _utc(row.last_seen_at) + idle
        }
        return set(session_ids) - alive

    async def sign_out(self, token: str, caller: Principal) -> None:
        """End the session behind `token` (nothing happens for an unknown or ended one); audited."""
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            session = (
                await s.execute(select(CitizenSession).where(CitizenSession.token_hash == token_hash(token)))
            ).scalar_one_or_none()
            if session is None or session.revoked_at is not None:
                return
            session.revoked_at = now
            await audit.record(
                s,
                actor=f'account:{session.account_id}',
                role='citizen',
                action=SIGN_OUT,
                client_address=caller.address,
                now=now,
            )
            assert session.id is not None
            uow.emit(CitizenSignedOut(hall_id=self.hall_id, session_id=session.id))

    async def devices(self, token: str, caller: Principal) -> list[SignedInDevice]:
        """Every live sign-in of the caller's account, newest first; the one behind `token` is marked."""
        this = await self._own_session(token, caller)
        now = self.clock()
        async with self.db.read_session() as s:
            rows = (
                await s.execute(
                    select(CitizenSession)
                    .where(CitizenSession.account_id == this.principal.account_id)
                    .order_by(col(CitizenSession.created_at).desc(), col(CitizenSession.id).desc())
                )
            ).scalars()
            live = [row for row in rows if self._alive(row, now)]
        return [
            SignedInDevice(
                session_id=row.id,
                device=row.device,
                place=mask_address(row.address),
                signed_in_at=_utc(row.created_at),
                last_seen_at=_utc(row.last_seen_at),
                this_one=row.id == this.session_id,
            )
            for row in live
            if row.id is not None
        ]

    async def end_device(self, token: str, session_id: int, caller: Principal) -> None:
        """End another live sign-in of the caller's account. Anyone else's, an ended one, an unknown one and the
        caller's own (that is signing out) all get the same NotFound, so ids cannot be probed."""
        this = await self._own_session(token, caller)
        ended = await self._end(this, caller, only=session_id)
        if not ended:
            raise NotFound('unknown_session')

    async def end_other_devices(self, token: str, caller: Principal) -> int:
        """End every live sign-in of the caller's account but this one; how many were ended."""
        return len(await self._end(await self._own_session(token, caller), caller, only=None))

    async def _own_session(self, token: str, caller: Principal) -> LiveSession:
        """The live session behind `token`, which must be the caller's own (a page forwards its cookie and caller)."""
        this = await self.session(token)
        if this.principal.account_id != caller.require_account():
            raise Unauthorized('not_authenticated', text='not_authenticated.session')
        return this

    async def _end(self, this: LiveSession, caller: Principal, *, only: int | None) -> list[int]:
        """Revoke the account's other live sessions (or just `only`), audited and announced like a sign-out."""
        now = self.clock()
        account_id = this.principal.require_account()
        query = select(CitizenSession).where(
            CitizenSession.account_id == account_id,
            col(CitizenSession.id) != this.session_id,
            col(CitizenSession.revoked_at).is_(None),
        )
        if only is not None:
            query = query.where(col(CitizenSession.id) == only)
        async with self._transaction() as uow:
            s = uow.session
            rows = [row for row in (await s.execute(query.with_for_update())).scalars() if self._alive(row, now)]
            for row in rows:
                assert row.id is not None
                row.revoked_at = now
                await audit.record(
                    s,
                    actor=f'account:{account_id}',
                    role='citizen',
                    action=SESSION_ENDED,
                    target=f'citizen_session:{row.id}',
                    client_address=caller.address,
                    now=now,
                )
                uow.emit(CitizenSignedOut(hall_id=self.hall_id, session_id=row.id))
        return [row.id for row in rows if row.id is not None]

    def _alive(self, session: CitizenSession, now: dt.datetime) -> bool:
        """Still signs someone in: not revoked, before its absolute end, not idle too long."""
        idle_until = _utc(session.last_seen_at) + dt.timedelta(days=self.settings.citizen_idle_days)
        return session.revoked_at is None and now < _utc(session.expires_at) and now < idle_until

    async def link_citizen(self, account_id: int, citizen_id: int, caller: Principal) -> None:
        """Tie the account to the hall's record of the person: only a paired kiosk that read the ID card, or staff."""
        at_kiosk = caller.kind == Kind.KIOSK and bool(caller.device_code)
        at_desk = caller.kind == Kind.STAFF and caller.has_role(*WINDOW_ROLES)
        if not (at_kiosk or at_desk):
            raise Forbidden('link_needs_verification')
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            account = await s.get(CitizenAccount, account_id)
            if account is None:
                raise NotFound('unknown_account')
            if await s.get(Citizen, citizen_id) is None:
                raise NotFound('unknown_citizen')
            await _tie(s, account, citizen_id, actor=caller.name, role=caller.role, address=caller.address, now=now)

    async def link_at_window(self, act: PersonAct, caller: Principal, id_number: str = '') -> Linked:
        """The clerk serving a phone-account ticket links the account to the person in front of them.

        The person is the ticket's own citizen when the ticket has an ID number (card read at the kiosk,
        typed by staff); otherwise the number the clerk reads from the card now (`id_number`), which finds
        or creates the citizen and sets it on the ticket. Everything in one transaction, audited as the clerk.
        """
        if not act.by_staff or act.actor != caller.name or act.tracked.ticket_id is None:
            raise Forbidden('link_needs_verification')
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            ticket = (
                await s.execute(select(Ticket).where(col(Ticket.id) == act.tracked.ticket_id).with_for_update())
            ).scalar_one()
            if ticket.status != TicketStatus.CALLED or ticket.window_id is None:  # moved on since the check
                raise Conflict('not_at_window', text='not_at_window.ticket')
            caller.require_window(ticket.window_id)
            account_id = await ticket_account_id(s, ticket)
            if account_id is None:
                raise Conflict('ticket_without_account')
            account = await s.get(CitizenAccount, account_id, with_for_update=True)
            assert account is not None
            known = await s.get(Citizen, ticket.citizen_id) if ticket.citizen_id is not None else None
            citizen = await self._person_at_window(s, ticket, known, id_number, now)
            assert citizen.id is not None
            typed = citizen is not known
            if account.citizen_id == citizen.id:
                return Linked(account_id, citizen.id, typed=typed, already=True)
            await _tie(
                s,
                account,
                citizen.id,
                actor=act.actor,
                role=act.role,
                address=caller.address,
                now=now,
                detail={'ticket': ticket.number, 'via': act.via, 'typed': typed},
            )
        return Linked(account_id, citizen.id, typed=typed, already=False)

    async def _person_at_window(
        self, s: AsyncSession, ticket: Ticket, known: Citizen | None, raw: str, now: dt.datetime
    ) -> Citizen:
        """The ticket's identified citizen, or the one whose number the clerk typed (then set on the ticket)."""
        typed = parse_id_number(raw, today=hall_day(now, self.settings.tz)) if raw.strip() else None
        if known is not None and known.id_number_hash:
            if typed is not None and self.cipher.lookup(typed.number) != known.id_number_hash:
                raise Conflict('id_number_not_ticket_citizen')
            return known
        if typed is None:
            raise Invalid('id_number_required', text='id_number_required.link')
        phone = self.cipher.decrypt(known.phone_enc, context='citizen.phone') if known and known.phone_enc else None
        citizen = await citizens.find_or_create(s, self.cipher, typed, now=now, phone=phone, update_contact=False)
        ticket.citizen_id = citizen.id
        return citizen


async def ticket_account_id(s: AsyncSession, ticket: Ticket) -> int | None:
    """The account a ticket came from: taken on the phone (its own column) or booked online (its appointment's)."""
    if ticket.account_id is not None:
        return ticket.account_id
    if ticket.appointment_id is None:
        return None
    appointment = await s.get(Appointment, ticket.appointment_id)
    return appointment.account_id if appointment is not None else None


async def ticket_account(s: AsyncSession, cipher: FieldCipher, ticket: Ticket) -> TicketAccount | None:
    """What the window desk shows about the account behind `ticket`, read in the desk's own session."""
    account_id = await ticket_account_id(s, ticket)
    account = await s.get(CitizenAccount, account_id) if account_id is not None else None
    if account is None or account.id is None:
        return None
    phone = cipher.decrypt(account.phone_enc, context=ACCOUNT_PHONE)
    return TicketAccount(
        account_id=account.id,
        phone_masked=mask_phone(phone),
        linked=account.citizen_id is not None,
        linked_here=account.citizen_id is not None and account.citizen_id == ticket.citizen_id,
    )


async def _tie(
    s: AsyncSession,
    account: CitizenAccount,
    citizen_id: int,
    *,
    actor: str,
    role: str,
    address: str,
    now: dt.datetime,
    detail: dict[str, object] | None = None,
) -> None:
    """Set the account's citizen, audited; an account linked to someone else is never moved (Conflict)."""
    if account.citizen_id is not None and account.citizen_id != citizen_id:
        raise Conflict('account_linked_elsewhere')
    account.citizen_id = citizen_id
    await audit.record(
        s,
        actor=actor,
        role=role,
        action=LINKED,
        target=f'account:{account.id}',
        detail={'citizen_id': citizen_id, **(detail or {})},
        client_address=address,
        now=now,
    )


def _utc(moment: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; they were stored in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
