"""A citizen signs in on the phone with a six-digit code texted to it; the account is found by the phone's keyed hash.

Why this shape: the phone proves only the phone. Asking for a code never says whether the phone has an
account (the answer is the same either way, and the account is made only when a right code comes back).
Codes are computed, never stored (app/services/one_time_codes.py), go out at once by SMS with no outbox
row, and are limited per phone and per address, as are wrong answers. A session keeps only the SHA-256 of
its token; tokens start with 'c.' so the API tells them from staff tokens without a lookup. A citizen
record (`Citizen`, the ID number) is linked to an account only by a paired kiosk that read the ID card or
by staff, never from the phone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import update
from sqlmodel import col, select

from app.clock import utcnow
from app.db import Database
from app.models.citizen_account import ACCOUNT_PHONE, CitizenAccount, CitizenSession
from app.models.people import Citizen
from app.models.ticket import MOBILE_PATTERN
from app.security.crypto import FieldCipher
from app.services import audit
from app.services.auth import LoginHandoff
from app.services.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from app.services.limits import Limit, Limits
from app.services.messages import Template, message
from app.services.notifications import NotificationService
from app.services.one_time_codes import SLOT, OneTimeCodes
from app.services.principal import WINDOW_ROLES, Kind, Principal
from app.services.uow import Service
from app.settings import Settings

TOKEN_PREFIX = 'c.'  # a citizen's token; staff tokens never start so (app/api/callers.py)
TOUCH_EVERY = dt.timedelta(minutes=1)
CODE_VALID_SECONDS = int(SLOT.total_seconds())  # a code lives 5 to 10 minutes: promise the 5

CODES_PER_PHONE = Limit('citizen:codes:phone', 5, dt.timedelta(hours=1), 'code_texts_limited')
CODES_PER_ADDRESS = Limit('citizen:codes:address', 10, dt.timedelta(minutes=15), 'code_texts_limited')
GUESSES_PER_PHONE = Limit('citizen:guesses:phone', 5, dt.timedelta(minutes=15), 'sign_in_locked')
GUESSES_PER_ADDRESS = Limit('citizen:guesses:address', 20, dt.timedelta(minutes=15), 'sign_in_locked')

SIGN_IN = 'citizen_sign_in'
SIGN_OUT = 'citizen_sign_out'
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


class CitizenAccountService(Service):
    def __init__(
        self,
        db: Database,
        settings: Settings,
        cipher: FieldCipher,
        limits: Limits,
        codes: OneTimeCodes,
        notifier: NotificationService,
        *,
        hall_id: int,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        super().__init__(db, clock=clock)
        self.settings = settings
        self.cipher = cipher
        self.limits = limits
        self.codes = codes
        self.notifier = notifier
        self.hall_id = hall_id
        self.handoff = LoginHandoff(clock=clock)  # /me/login's page hands the token to an HttpOnly cookie

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

    async def sign_in(self, phone: str, code: str, caller: Principal) -> SignedIn:
        """A session for the phone's account (made on first sign-in) when `code` is its live texted code, once."""
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
        if not token.startswith(TOKEN_PREFIX):
            raise Unauthorized('not_authenticated', text='not_authenticated.session')
        now = self.clock()
        async with self.db.read_session() as s:
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
        idle_until = _utc(session.last_seen_at) + dt.timedelta(days=self.settings.citizen_idle_days)
        if session.revoked_at is not None or now >= _utc(session.expires_at) or now >= idle_until:
            raise Unauthorized('session_expired')
        if now - _utc(session.last_seen_at) >= TOUCH_EVERY:
            async with self._transaction() as uow:
                await uow.session.execute(
                    update(CitizenSession).where(col(CitizenSession.id) == session.id).values(last_seen_at=now)
                )
        assert account.id is not None
        return Principal.account(account.id, citizen_id=account.citizen_id, address=session.address)

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
            if account.citizen_id is not None and account.citizen_id != citizen_id:
                raise Conflict('account_linked_elsewhere')
            account.citizen_id = citizen_id
            await audit.record(
                s,
                actor=caller.name,
                role=caller.role,
                action=LINKED,
                target=f'account:{account_id}',
                detail={'citizen_id': citizen_id},
                client_address=caller.address,
                now=now,
            )


def _utc(moment: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; they were stored in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
