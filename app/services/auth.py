"""Staff login with server-side sessions: argon2 passwords, lockout, idle and absolute timeouts.

A token is 256 random bits given to the client once; the database keeps only its SHA-256, so a
leaked table holds no live session. Logout revokes the row, so a replayed token is refused.
Open staff pages end with their session: `ended` judges all of a process's open pages in one query
(and `SessionEnded` on the bus ends them at once on logout), by the same rule `authenticate` applies.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import bindparam, delete, update
from sqlalchemy import select as core_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.clock import utcnow
from app.events import SessionEnded
from app.models.people import AuthSession, RecoveryCode, Role, StaffTotp, StaffUser
from app.models.rows import columns_of, loaded, width
from app.security.passwords import WeakPasswordError, check_strength, hash_password, verify_password
from app.services import audit, second_factor
from app.services.deps import Deps
from app.services.errors import Conflict, Invalid, Unauthorized
from app.services.limits import Limit, TooManyRequests
from app.services.principal import Kind, Principal
from app.services.uow import Service
from app.settings import Settings

log = logging.getLogger(__name__)

LOCKOUT = dt.timedelta(minutes=15)
ENROLMENT_REQUIRED = 'second_factor_enrolment_required'
PASSWORD_CHANGED = 'password_changed'
LOGIN_PER_ACCOUNT_AND_ADDRESS = Limit(
    'login:pair',
    5,
    LOCKOUT,
    'login_locked',
)
LOGIN_PER_ADDRESS = Limit('login:address', 30, LOCKOUT, 'address_locked')
SLOW_AFTER = 20  # failures of one account, from any addresses, within LOCKOUT: from then on attempts are spaced
MAX_WAIT_SECONDS = 300
# A page load writes last_seen_at at most this often: idle time stays exact to a minute, and page loads
# during a busy hall's writes seldom wait for the write lock.
TOUCH_EVERY = dt.timedelta(seconds=60)
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def require_strong(password: str) -> None:
    """The password strength rule as a domain error (Invalid 'weak_password', saying which part is missing)."""
    try:
        check_strength(password)
    except WeakPasswordError as weak:
        raise Invalid('weak_password', str(weak)) from weak


def _slow_down(user: StaffUser, now: dt.datetime) -> bool:
    """One more failure of this account; past SLOW_AFTER within LOCKOUT the next attempt must wait 1, 2, 4... s.

    Returns True when this failure (re)started a wait. Failures older than LOCKOUT are forgotten, so a
    quiet account recovers by itself.
    """
    if user.last_failed_at is None or now - user.last_failed_at > LOCKOUT:
        user.failed_attempts = 0
    user.failed_attempts += 1
    user.last_failed_at = now
    over = user.failed_attempts - SLOW_AFTER
    if over < 0:
        return False
    user.locked_until = now + dt.timedelta(seconds=min(2**over, MAX_WAIT_SECONDS))
    return True


class SessionEnd(StrEnum):
    """Why a staff session no longer opens pages; the value is the `reason` shown on the login page."""

    LOGGED_OUT = 'logged_out'
    DEACTIVATED = 'deactivated'
    EXPIRED = 'expired'  # past the absolute lifetime (or the session row is gone)
    IDLE = 'idle'
    CHANGED = 'changed'  # role, window or department changed: a page built for the old one must not go on


def session_end(session: AuthSession, user: StaffUser, now: dt.datetime, settings: Settings) -> SessionEnd | None:
    """Why this session is over at `now`, or None while it is valid (the one rule for requests and open pages)."""
    if not user.active:  # first: a disabled person's sessions are revoked too, and this says why
        return SessionEnd.DEACTIVATED
    if session.revoked_at:
        return SessionEnd.LOGGED_OUT
    if now - session.created_at > dt.timedelta(hours=settings.token_absolute_hours):
        return SessionEnd.EXPIRED
    if now - session.last_seen_at > dt.timedelta(minutes=settings.token_idle_minutes):
        return SessionEnd.IDLE
    return None


def admitted_here(user: StaffUser, hall_id: int) -> bool:
    """A hall's process admits its own hall's accounts and the city managers (who belong to no hall)."""
    return user.hall_id is None if user.role == Role.CITY else user.hall_id == hall_id


def principal_changed(before: Principal, after: Principal) -> bool:
    """Did what a page was built for (role, window, department) change? Then the page must be opened again."""
    return (before.role, before.window_id, before.department_id) != (after.role, after.window_id, after.department_id)


@dataclass(frozen=True)
class IssuedToken:
    token: str
    principal: Principal
    expires_at: dt.datetime
    enrolment_only: bool = False  # a manager or admin without a second factor: send them to /enrol


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_SESSION, _USER = AuthSession.__table__, StaffUser.__table__  # type: ignore[attr-defined]
# Every bearer request runs it: built once, bound per call; a Core SELECT of both rows' columns (`loaded`), as the
# ORM's loading of two objects (then detached with the read session) cost more than the statement.
SESSION_BY_TOKEN = (
    core_select(*columns_of(AuthSession, StaffUser))
    .join_from(_SESSION, _USER, _USER.c.id == _SESSION.c.user_id)
    .where(_SESSION.c.token_hash == bindparam('token_hash'))
)


class AuthService(Service):
    def __init__(self, deps: Deps) -> None:
        """`deps.bus` carries logouts to the open pages of every process (None: a tool with no pages to tell);
        `deps.cipher` seals TOTP secrets."""
        super().__init__(deps)
        self.handoff = LoginHandoff(clock=self.clock)

    async def login(
        self,
        username: str,
        password: str,
        *,
        totp: str = '',
        client_address: str = '',
        previous_token: str | None = None,
        new_password: str = '',
    ) -> IssuedToken:
        """Check a password; every attempt is audited, and failures are limited so they cannot deny service.

        Failures count per (account, address) and per address (TRUSTED_PROXIES makes the address the
        real client's behind a proxy). A stranger's typos therefore lock only themselves out. An account
        attacked from many addresses at once is slowed (a growing wait between attempts), never shut.
        A successful login always creates a new session (and revokes `previous_token`), so a session id
        planted before login is worthless afterwards.
        An enrolled person must also give `totp` (a TOTP or recovery code): a wrong one counts like a wrong
        password. A manager or admin not yet enrolled gets an enrolment-only session (see `authenticate`).
        After an admin's reset (`must_change_password`) no session opens until `new_password` replaces the
        one-time password; that is asked before the second factor, so no code is spent on the first try.
        """
        now = self.clock()
        username = username.strip()[:64]
        address = client_address[:64]
        try:
            await self.limits.check(LOGIN_PER_ADDRESS, address)
            await self.limits.check(LOGIN_PER_ACCOUNT_AND_ADDRESS, f'{username}|{address}')
        except TooManyRequests as refused:
            await self._audit_failure(username, None, address, refused.code, now)
            raise
        async with self.db.read_session() as s:
            user = (await s.execute(select(StaffUser).where(StaffUser.username == username))).scalar_one_or_none()
        if user is not None and not admitted_here(user, self.hall_id):
            user = None  # another hall's account is unknown here: same answer, same cost, its counters untouched
        if user is not None and user.active and user.locked_until and user.locked_until > now:
            wait = math.ceil((user.locked_until - now).total_seconds())
            await self._audit_failure(username, user, address, 'account_slowed', now)
            raise TooManyRequests('account_slowed', wait=wait, retry_after=wait)
        if user is None or not user.active:
            verify_password(password, _DUMMY_HASH)  # same cost as a real check: no user enumeration by timing
            ok = False
        else:
            ok = verify_password(password, user.password_hash)  # outside any transaction: argon2 takes a while
        if not ok:
            await self._count_failure(username, user, address, now)
            raise Unauthorized('bad_credentials')
        assert user is not None
        new_hash = self._new_password_hash(user, password, new_password)
        refusal = ''
        async with self._transaction() as uow:
            s = uow.session
            fresh = await s.get(StaffUser, user.id)
            assert fresh is not None and fresh.id is not None
            factor = await second_factor.enrolment(s, fresh.id)
            enrolled = factor is not None and factor.confirmed_at is not None
            used = await second_factor.use_code(s, self.cipher, fresh, totp, now) if enrolled and totp else None
            if enrolled and used is None:
                refusal = 'bad_second_factor' if totp else 'second_factor_required'
            else:
                enrolment_only = not enrolled and fresh.role in self.settings.second_factor_roles
                opened, token = await self._open_session(s, fresh, address, now, previous_token, enrolment_only)
                if new_hash is not None:
                    fresh.password_hash, fresh.must_change_password = new_hash, False
                    await audit.record(
                        s,
                        actor=fresh.username,
                        role=fresh.role,
                        action=PASSWORD_CHANGED,
                        client_address=address,
                        now=now,
                    )
                outcome = 'enrol_required' if enrolment_only else (used or 'ok')
                await audit.record(
                    s,
                    actor=fresh.username,
                    role=fresh.role,
                    action=audit.LOGIN_OK,
                    outcome=outcome,
                    client_address=address,
                    now=now,
                )
                if used == 'recovery_code':
                    await audit.record(
                        s,
                        actor=fresh.username,
                        role=fresh.role,
                        action=second_factor.RECOVERY_CODE_USED,
                        client_address=address,
                        now=now,
                    )
        if refusal == 'second_factor_required':
            raise Unauthorized('second_factor_required')
        if refusal:
            await self._count_failure(username, user, address, now, outcome='bad_code')
            raise Unauthorized('bad_second_factor')
        await self.limits.reset(LOGIN_PER_ACCOUNT_AND_ADDRESS, f'{username}|{address}')
        return IssuedToken(
            token=token,
            principal=_principal(fresh, opened),
            expires_at=now + dt.timedelta(hours=self.settings.token_absolute_hours),
            enrolment_only=opened.enrolment_only,
        )

    @staticmethod
    def _new_password_hash(user: StaffUser, password: str, new_password: str) -> str | None:
        """The hash of the password that replaces a one-time one, or None when the account has no reset pending."""
        if not user.must_change_password:
            return None
        if not new_password:
            raise Unauthorized('password_change_required')
        if new_password == password:
            raise Invalid('password_unchanged')
        require_strong(new_password)
        return hash_password(new_password)

    async def _open_session(
        self,
        s: AsyncSession,
        user: StaffUser,
        address: str,
        now: dt.datetime,
        previous_token: str | None,
        enrolment_only: bool = False,
    ) -> tuple[AuthSession, str]:
        if previous_token:
            await self._revoke(s, previous_token, now)
        user.failed_attempts = 0
        user.locked_until = None
        token = secrets.token_urlsafe(32)
        session = AuthSession(
            token_hash=token_hash(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            client_address=address,
            enrolment_only=enrolment_only,
        )
        s.add(session)
        await s.flush()
        return session, token

    async def _count_failure(
        self, username: str, user: StaffUser | None, address: str, now: dt.datetime, *, outcome: str = 'bad_credentials'
    ) -> None:
        """Count a wrong password or code against the address, the (account, address) pair and the account."""
        locked_here = False
        for limit, subject in (
            (LOGIN_PER_ACCOUNT_AND_ADDRESS, f'{username}|{address}'),
            (LOGIN_PER_ADDRESS, address),
        ):
            try:
                locked_here |= await self.limits.hit(limit, subject) >= limit.max  # this failure used up the last try
            except TooManyRequests:
                locked_here = True
        async with self._transaction() as uow:
            s = uow.session
            fresh = await s.get(StaffUser, user.id) if user is not None else None
            slowed = fresh is not None and fresh.active and _slow_down(fresh, now)
            role = fresh.role if fresh is not None else ''
            await audit.record(
                s,
                actor=username,
                role=role,
                action=audit.LOGIN_FAILED,
                outcome=outcome,
                client_address=address,
                now=now,
            )
            if locked_here or slowed:
                target = f'account:{username}' if slowed else f'account:{username}@address'
                await audit.record(
                    s, actor=username, role=role, action=audit.LOCKOUT, target=target, client_address=address, now=now
                )

    async def _audit_failure(
        self, username: str, user: StaffUser | None, address: str, outcome: str, now: dt.datetime
    ) -> None:
        async with self._transaction() as uow:
            s = uow.session
            await audit.record(
                s,
                actor=username,
                role=user.role if user is not None else '',
                action=audit.LOGIN_FAILED,
                outcome=outcome,
                client_address=address,
                now=now,
            )

    async def authenticate(self, token: str, *, enrolling: bool = False) -> Principal:
        """The principal behind a bearer token, or Unauthorized (expired, idle too long, revoked).

        A manager's or admin's password-only session is refused with `second_factor_enrolment_required`
        everywhere but the enrolment page (`enrolling=True`): it gets nothing else until enrolled.
        """
        now = self.clock()
        async with self.db.read_session(short=True) as s:
            row = (await s.execute(SESSION_BY_TOKEN, {'token_hash': token_hash(token)})).first()
        if row is None:
            raise Unauthorized('not_authenticated', text='not_authenticated.session')
        session, user = loaded(AuthSession, row), loaded(StaffUser, row, width(AuthSession))
        if not admitted_here(user, self.hall_id):  # a cookie of another hall's process on the same host
            raise Unauthorized('not_authenticated', text='not_authenticated.session')
        if session_end(session, user, now, self.settings) is not None:
            raise Unauthorized('session_expired')
        if session.enrolment_only and not enrolling:
            raise Unauthorized('second_factor_enrolment_required')
        if now - session.last_seen_at >= TOUCH_EVERY:
            async with self._transaction() as uow:
                s = uow.session
                await s.execute(update(AuthSession).where(col(AuthSession.id) == session.id).values(last_seen_at=now))
        return _principal(user, session)

    async def is_enrolled(self, caller: Principal) -> bool:
        async with self.db.read_session() as s:
            row = await second_factor.enrolment(s, caller.user_id or 0)
        return row is not None and row.confirmed_at is not None

    async def begin_enrolment(self, caller: Principal, hall_name: str) -> str:
        """A new secret for the caller, waiting for its first code; the otpauth:// URI for the QR code.

        Refused once enrolled: replacing a factor would let a stolen session drop the owner's.
        """
        if caller.user_id is None or caller.kind != Kind.STAFF:
            raise Unauthorized('not_authenticated', text='not_authenticated.session')
        now = self.clock()
        secret = second_factor.new_secret()
        async with self._transaction() as uow:
            s = uow.session
            row = await second_factor.enrolment(s, caller.user_id)
            if row is not None and row.confirmed_at is not None:
                raise Conflict('already_enrolled')
            sealed = second_factor.seal(self.cipher, caller.user_id, secret)
            if row is None:
                s.add(StaffTotp(user_id=caller.user_id, secret_enc=sealed, created_at=now))
            else:
                row.secret_enc, row.created_at, row.last_step = sealed, now, 0
            await audit.record_for(s, caller, action=second_factor.TOTP_ENROLMENT_STARTED, now=now)
        return second_factor.provisioning_uri(secret, caller.name, hall_name)

    async def confirm_enrolment(self, caller: Principal, code: str) -> list[str]:
        """Confirm the begun enrolment with a first code; the ten recovery codes, shown once.

        A wrong code counts against the login limits like a wrong password. The caller's session becomes
        a full one.
        """
        if caller.user_id is None or caller.session_id is None:
            raise Unauthorized('not_authenticated', text='not_authenticated.session')
        now = self.clock()
        address = caller.address[:64]
        pair = f'{caller.name}|{address}'
        await self.limits.check(LOGIN_PER_ADDRESS, address)
        await self.limits.check(LOGIN_PER_ACCOUNT_AND_ADDRESS, pair)
        codes = second_factor.new_recovery_codes()
        async with self._transaction() as uow:
            s = uow.session
            row = await second_factor.enrolment(s, caller.user_id)
            if row is None or row.confirmed_at is not None:
                raise Conflict('no_enrolment')
            step = second_factor.matching_step(second_factor.unseal(self.cipher, row), code, now, row.last_step)
            if step is not None:
                row.confirmed_at, row.last_step = now, step
                await s.execute(delete(RecoveryCode).where(col(RecoveryCode.user_id) == caller.user_id))
                s.add_all(RecoveryCode(user_id=caller.user_id, code_hash=second_factor.recovery_hash(c)) for c in codes)
                await s.execute(
                    update(AuthSession).where(col(AuthSession.id) == caller.session_id).values(enrolment_only=False)
                )
                await audit.record_for(s, caller, action=second_factor.TOTP_ENROLLED, now=now)
        if step is None:
            async with self.db.read_session() as s:
                user = await s.get(StaffUser, caller.user_id)
            await self._count_failure(caller.name, user, address, now, outcome=second_factor.TOTP_FAILED)
            raise Unauthorized('bad_second_factor')
        return codes

    async def logout(self, token: str, *, client_address: str = '') -> None:
        """Revoke the session behind `token` (a no-op for unknown or already revoked tokens); audited.

        After the commit, `SessionEnded` tells every process to close that session's open pages now.
        """
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            revoked = await self._revoke(s, token, now)
            if revoked is None:
                return
            session, user = revoked
            await audit.record(
                s,
                actor=user.username,
                role=user.role,
                action=audit.LOGOUT,
                client_address=client_address[:64],
                now=now,
            )
            if self.bus is not None and session.id is not None:
                uow.emit(SessionEnded(hall_id=self.hall_id, session_id=session.id, reason=SessionEnd.LOGGED_OUT))

    async def ended(self, principals: Collection[Principal]) -> dict[Principal, SessionEnd]:
        """Which of these open pages' principals may no longer see their page, and why; the valid ones are left out.

        One query for all of them, and nothing is written: a page that stays open is not activity, so
        watching never extends the idle timeout (only requests through `authenticate` do).
        """
        ids = {p.session_id for p in principals if p.session_id is not None}
        now = self.clock()
        rows: dict[int, tuple[AuthSession, StaffUser]] = {}
        if ids:
            async with self.db.read_session() as s:
                statement = select(AuthSession, StaffUser).join(StaffUser).where(col(AuthSession.id).in_(ids))
                rows = {session.id: (session, user) for session, user in (await s.execute(statement)).all()}
        verdicts: dict[Principal, SessionEnd] = {}
        for principal in principals:
            row = rows.get(principal.session_id) if principal.session_id is not None else None
            if row is None:
                verdicts[principal] = SessionEnd.EXPIRED
                continue
            end = session_end(*row, now, self.settings) if admitted_here(row[1], self.hall_id) else SessionEnd.EXPIRED
            if end is None and principal_changed(principal, _principal(row[1], row[0])):
                end = SessionEnd.CHANGED
            if end is not None:
                verdicts[principal] = end
        return verdicts

    @staticmethod
    async def _revoke(s: AsyncSession, token: str, now: dt.datetime) -> tuple[AuthSession, StaffUser] | None:
        """Mark the session behind `token` revoked; it and its user, or None if it was unknown or already revoked."""
        row = (
            await s.execute(
                select(AuthSession, StaffUser).join(StaffUser).where(AuthSession.token_hash == token_hash(token))
            )
        ).first()
        if row is None or row[0].revoked_at:
            return None
        session, user = row
        session.revoked_at = now
        return session, user


def _principal(user: StaffUser, session: AuthSession) -> Principal:
    assert user.id is not None and session.id is not None
    return Principal(
        Kind.STAFF,
        user.username,
        Role(user.role),
        address=session.client_address,
        user_id=user.id,
        display_name=user.display_name,
        window_id=user.window_id,
        department_id=user.department_id,
        session_id=session.id,
    )


class LoginHandoff:
    """One-time codes that carry a fresh token from the login page to an HttpOnly cookie.

    The login form talks over the page's websocket, which cannot set an HttpOnly cookie; the page
    sends the browser to /auth/complete?code=..., which swaps the code (single use, 30 s) for the
    cookie. The token itself never appears in a URL. A code is bound to the browser that typed the
    password (NiceGUI's signed browser id): redeemed from any other browser it is refused and burnt, so
    a code sent to someone else cannot plant a session in their browser.
    """

    TTL = dt.timedelta(seconds=30)

    def __init__(self, *, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.clock = clock
        self._codes: dict[str, tuple[str, str, dt.datetime]] = {}

    def issue(self, token: str, browser_id: str) -> str:
        if not browser_id:
            raise ValueError('a login hand-off needs the browser id of the login page')
        now = self.clock()
        self._codes = {code: item for code, item in self._codes.items() if item[2] > now}
        code = secrets.token_urlsafe(24)
        self._codes[code] = (token, browser_id, now + self.TTL)
        return code

    def redeem(self, code: str, browser_id: str | None) -> str | None:
        """The token, once, in the browser the code was issued to and within its lifetime; else None."""
        item = self._codes.pop(code, None)
        if item is None or item[2] <= self.clock() or not browser_id:
            return None
        token, issued_to, _ = item
        if not secrets.compare_digest(issued_to.encode(), browser_id.encode()):
            log.warning('a login hand-off code was opened in another browser: refused and burnt')
            return None
        return token
