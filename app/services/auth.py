"""Staff login with server-side sessions: argon2 passwords, lockout, idle and absolute timeouts.

A token is 256 random bits given to the client once; the database keeps only its SHA-256, so a
leaked table holds no live session. Logout revokes the row, so a replayed token is refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.clock import utcnow
from app.db import Database
from app.models.people import AuthSession, Role, StaffUser
from app.models.security import LoginThrottle
from app.security.passwords import hash_password, verify_password
from app.services import audit
from app.services.errors import DomainError, Locked, Unauthorized
from app.services.principal import Kind, Principal
from app.settings import Settings

MAX_FAILURES = 5
LOCKOUT = dt.timedelta(minutes=15)
# A page load writes last_seen_at at most this often: idle time stays exact to a minute, and page loads
# during a busy hall's writes seldom wait for the write lock.
TOUCH_EVERY = dt.timedelta(seconds=60)
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
_BAD_LOGIN = '用户名或密码错误 / wrong username or password'


@dataclass(frozen=True)
class IssuedToken:
    token: str
    principal: Principal
    expires_at: dt.datetime


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AuthService:
    def __init__(self, db: Database, settings: Settings, *, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.db = db
        self.settings = settings
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
        idle = dt.timedelta(minutes=self.settings.token_idle_minutes)
        absolute = dt.timedelta(hours=self.settings.token_absolute_hours)
        if (
            session.revoked_at
            or not user.active
            or now - session.last_seen_at > idle
            or now - session.created_at > absolute
        ):
            raise Unauthorized('session_expired', '登录已失效，请重新登录 / session expired, please log in again')
        if now - session.last_seen_at >= TOUCH_EVERY:
            async with self.db.session() as s, s.begin():
                await s.execute(update(AuthSession).where(col(AuthSession.id) == session.id).values(last_seen_at=now))
        return _principal(user, session)

    async def logout(self, token: str, *, client_address: str = '') -> None:
        """Revoke the session behind `token` (a no-op for unknown or already revoked tokens); audited."""
        now = self.clock()
        async with self.db.session() as s, s.begin():
            user = await self._revoke(s, token, now)
            if user is not None:
                await audit.record(
                    s,
                    actor=user.username,
                    role=user.role,
                    action=audit.LOGOUT,
                    client_address=client_address[:64],
                    now=now,
                )

    @staticmethod
    async def _revoke(s: AsyncSession, token: str, now: dt.datetime) -> StaffUser | None:
        """Mark the session behind `token` revoked; its user, or None if it was unknown or already revoked."""
        row = (
            await s.execute(
                select(AuthSession, StaffUser).join(StaffUser).where(AuthSession.token_hash == token_hash(token))
            )
        ).first()
        if row is None or row[0].revoked_at:
            return None
        session, user = row
        session.revoked_at = now
        return user


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
    cookie. The token itself never appears in a URL.
    """

    TTL = dt.timedelta(seconds=30)

    def __init__(self, *, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.clock = clock
        self._codes: dict[str, tuple[str, dt.datetime]] = {}

    def issue(self, token: str) -> str:
        now = self.clock()
        self._codes = {code: item for code, item in self._codes.items() if item[1] > now}
        code = secrets.token_urlsafe(24)
        self._codes[code] = (token, now + self.TTL)
        return code

    def redeem(self, code: str) -> str | None:
        item = self._codes.pop(code, None)
        if item is None or item[1] <= self.clock():
            return None
        return item[0]
