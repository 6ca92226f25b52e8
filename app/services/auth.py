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
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.bus import Bus
from app.clock import utcnow
from app.db import Database
from app.events import SessionEnded
from app.models.people import AuthSession, Role, StaffUser
from app.models.security import LoginThrottle
from app.security.passwords import hash_password, verify_password
from app.services import audit
from app.services.errors import DomainError, Locked, Unauthorized
from app.services.principal import Kind, Principal
from app.settings import Settings

log = logging.getLogger(__name__)

MAX_FAILURES = 5
LOCKOUT = dt.timedelta(minutes=15)
# A page load writes last_seen_at at most this often: idle time stays exact to a minute, and page loads
# during a busy hall's writes seldom wait for the write lock.
TOUCH_EVERY = dt.timedelta(seconds=60)
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
_BAD_LOGIN = '用户名或密码错误 / wrong username or password'


class SessionEnd(StrEnum):
    """Why a staff session no longer opens pages; the value is the `reason` shown on the login page."""

    LOGGED_OUT = 'logged_out'
    DEACTIVATED = 'deactivated'
    EXPIRED = 'expired'  # past the absolute lifetime (or the session row is gone)
    IDLE = 'idle'
    CHANGED = 'changed'  # role, window or department changed: a page built for the old one must not go on


def session_end(session: AuthSession, user: StaffUser, now: dt.datetime, settings: Settings) -> SessionEnd | None:
    """Why this session is over at `now`, or None while it is valid (the one rule for requests and open pages)."""
    if session.revoked_at:
        return SessionEnd.LOGGED_OUT
    if not user.active:
        return SessionEnd.DEACTIVATED
    if now - session.created_at > dt.timedelta(hours=settings.token_absolute_hours):
        return SessionEnd.EXPIRED
    if now - session.last_seen_at > dt.timedelta(minutes=settings.token_idle_minutes):
        return SessionEnd.IDLE
    return None


def principal_changed(before: Principal, after: Principal) -> bool:
    """Did what a page was built for (role, window, department) change? Then the page must be opened again."""
    return (before.role, before.window_id, before.department_id) != (after.role, after.window_id, after.department_id)


@dataclass(frozen=True)
class IssuedToken:
    token: str
    principal: Principal
    expires_at: dt.datetime


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AuthService:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        bus: Bus | None = None,
        hall_id: int = 0,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        """`bus` carries logouts to the open pages of every process (None: a tool with no pages to tell)."""
        self.db = db
        self.settings = settings
        self.bus = bus
        self.hall_id = hall_id
        self.clock = clock
        self.handoff = LoginHandoff(clock=clock)

    async def login(
        self, username: str, password: str, *, client_address: str = '', previous_token: str | None = None
    ) -> IssuedToken:
        """Check a password; every attempt is audited, failures count per account and per client address.

        A successful login always creates a new session (and revokes `previous_token`), so a session id
        planted before login is worthless afterwards.
        """
        now = self.clock()
        username = username.strip()[:64]
        address = client_address[:64]
        async with self.db.session() as s, s.begin():
            user = (await s.execute(select(StaffUser).where(StaffUser.username == username))).scalar_one_or_none()
            throttle = await s.get(LoginThrottle, address) if address else None
            error = self._refusal(user, throttle, now)
            if error is None and user is not None and not verify_password(password, user.password_hash):
                error = Unauthorized('bad_credentials', _BAD_LOGIN)
            elif user is None or not user.active:
                verify_password(password, _DUMMY_HASH)  # same cost as a real check: no user enumeration by timing
            if error is None and user is not None:
                if throttle is not None:
                    throttle.failures = 0
                opened, token = await self._open_session(s, user, address, now, previous_token)
                await audit.record(
                    s, actor=user.username, role=user.role, action=audit.LOGIN_OK, client_address=address, now=now
                )
            else:
                assert error is not None
                await self._count_failure(s, user, throttle, address, error, now, username)
        if error is not None:
            raise error
        assert user is not None
        return IssuedToken(
            token=token,
            principal=_principal(user, opened),
            expires_at=now + dt.timedelta(hours=self.settings.token_absolute_hours),
        )

    @staticmethod
    def _refusal(user: StaffUser | None, throttle: LoginThrottle | None, now: dt.datetime) -> DomainError | None:
        if throttle and throttle.locked_until and throttle.locked_until > now:
            return Locked(
                'address_locked',
                '该终端登录失败次数过多，请15分钟后再试 / too many failures from here: wait 15 minutes',
            )
        if user is None or not user.active:
            return Unauthorized('bad_credentials', _BAD_LOGIN)
        if user.locked_until and user.locked_until > now:
            return Locked('account_locked', '连续登录失败，账户已锁定15分钟 / too many failures: locked for 15 minutes')
        return None

    async def _open_session(
        self, s: AsyncSession, user: StaffUser, address: str, now: dt.datetime, previous_token: str | None
    ) -> tuple[AuthSession, str]:
        if previous_token:
            await self._revoke(s, previous_token, now)
        user.failed_attempts = 0
        user.locked_until = None
        token = secrets.token_urlsafe(32)
        session = AuthSession(
            token_hash=token_hash(token), user_id=user.id, created_at=now, last_seen_at=now, client_address=address
        )
        s.add(session)
        await s.flush()
        return session, token

    async def _count_failure(
        self,
        s: AsyncSession,
        user: StaffUser | None,
        throttle: LoginThrottle | None,
        address: str,
        error: DomainError,
        now: dt.datetime,
        username: str,
    ) -> None:
        """Failed attempts lock the account and the client address after MAX_FAILURES each."""
        role = user.role if user else ''
        await audit.record(
            s, actor=username, role=role, action=audit.LOGIN_FAILED, outcome=error.code, client_address=address, now=now
        )
        if isinstance(error, Locked):
            return
        if user is not None and user.active:
            user.failed_attempts += 1
            if user.failed_attempts >= MAX_FAILURES:
                user.failed_attempts = 0
                user.locked_until = now + LOCKOUT
                await audit.record(
                    s,
                    actor=username,
                    role=role,
                    action=audit.LOCKOUT,
                    target=f'account:{username}',
                    client_address=address,
                    now=now,
                )
        if address:
            if throttle is None:
                throttle = LoginThrottle(address=address, updated_at=now)
                s.add(throttle)
            if now - throttle.updated_at > LOCKOUT:  # old typos do not add up to a lockout days later
                throttle.failures = 0
            throttle.failures = (throttle.failures or 0) + 1
            throttle.updated_at = now
            if throttle.failures >= MAX_FAILURES:
                throttle.failures = 0
                throttle.locked_until = now + LOCKOUT
                await audit.record(
                    s,
                    actor=username,
                    role=role,
                    action=audit.LOCKOUT,
                    target='address',
                    client_address=address,
                    now=now,
                )

    async def authenticate(self, token: str) -> Principal:
        """The principal behind a bearer token, or Unauthorized (expired, idle too long, revoked)."""
        now = self.clock()
        async with self.db.read_session() as s:
            row = (
                await s.execute(
                    select(AuthSession, StaffUser).join(StaffUser).where(AuthSession.token_hash == token_hash(token))
                )
            ).first()
        if row is None:
            raise Unauthorized('not_authenticated', '请先登录 / please log in')
        session, user = row
        if session_end(session, user, now, self.settings) is not None:
            raise Unauthorized('session_expired', '登录已失效，请重新登录 / session expired, please log in again')
        if now - session.last_seen_at >= TOUCH_EVERY:
            async with self.db.session() as s, s.begin():
                await s.execute(update(AuthSession).where(col(AuthSession.id) == session.id).values(last_seen_at=now))
        return _principal(user, session)

    async def logout(self, token: str, *, client_address: str = '') -> None:
        """Revoke the session behind `token` (a no-op for unknown or already revoked tokens); audited.

        After the commit, `SessionEnded` tells every process to close that session's open pages now.
        """
        now = self.clock()
        async with self.db.session() as s, s.begin():
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
            await self.bus.publish(
                SessionEnded(hall_id=self.hall_id, session_id=session.id, reason=SessionEnd.LOGGED_OUT)
            )

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
            end = session_end(*row, now, self.settings)
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
