"""Staff login with server-side sessions: argon2 passwords, lockout, idle and absolute timeouts.

A token is 256 random bits given to the client once; the database keeps only its SHA-256, so a
leaked table holds no live session. Logout revokes the row, so a replayed token is refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.clock import utcnow
from app.db import Database
from app.models.people import AuthSession, Role, StaffUser
from app.security.passwords import hash_password, verify_password
from app.services import audit
from app.services.errors import Unauthorized
from app.services.limits import Limit, Limits, TooManyRequests
from app.services.principal import Kind, Principal
from app.settings import Settings

LOCKOUT = dt.timedelta(minutes=15)
LOGIN_PER_ACCOUNT_AND_ADDRESS = Limit(
    'login:pair',
    5,
    LOCKOUT,
    'login_locked',
    '该账号在此终端连续登录失败次数过多 / too many failed logins for this account from here',
)
LOGIN_PER_ADDRESS = Limit(
    'login:address', 30, LOCKOUT, 'address_locked', '该终端登录失败次数过多 / too many failed logins from here'
)
SLOW_AFTER = 20  # failures of one account, from any addresses, within LOCKOUT: from then on attempts are spaced
MAX_WAIT_SECONDS = 300
# A page load writes last_seen_at at most this often: idle time stays exact to a minute, and page loads
# during a busy hall's writes seldom wait for the write lock.
TOUCH_EVERY = dt.timedelta(seconds=60)
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
_BAD_LOGIN = '用户名或密码错误 / wrong username or password'


def _slowed_message(wait: int) -> str:
    return f'该账号登录失败过多，请{wait}秒后再试 / too many failed logins for this account: wait {wait} s'


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


@dataclass(frozen=True)
class IssuedToken:
    token: str
    principal: Principal
    expires_at: dt.datetime


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AuthService:
    def __init__(
        self, db: Database, settings: Settings, limits: Limits, *, clock: Callable[[], dt.datetime] = utcnow
    ) -> None:
        self.db = db
        self.settings = settings
        self.limits = limits
        self.clock = clock
        self.handoff = LoginHandoff(clock=clock)

    async def login(
        self, username: str, password: str, *, client_address: str = '', previous_token: str | None = None
    ) -> IssuedToken:
        """Check a password; every attempt is audited, and failures are limited so they cannot deny service.

        Failures count per (account, address) and per address (TRUSTED_PROXIES makes the address the
        real client's behind a proxy). A stranger's typos therefore lock only themselves out. An account
        attacked from many addresses at once is slowed (a growing wait between attempts), never shut.
        A successful login always creates a new session (and revokes `previous_token`), so a session id
        planted before login is worthless afterwards.
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
        if user is not None and user.active and user.locked_until and user.locked_until > now:
            wait = math.ceil((user.locked_until - now).total_seconds())
            await self._audit_failure(username, user, address, 'account_slowed', now)
            raise TooManyRequests('account_slowed', _slowed_message(wait), retry_after=wait)
        if user is None or not user.active:
            verify_password(password, _DUMMY_HASH)  # same cost as a real check: no user enumeration by timing
            ok = False
        else:
            ok = verify_password(password, user.password_hash)  # outside any transaction: argon2 takes a while
        if not ok:
            await self._count_failure(username, user, address, now)
            raise Unauthorized('bad_credentials', _BAD_LOGIN)
        assert user is not None
        async with self.db.write_lock(), self.db.session() as s, s.begin():
            fresh = await s.get(StaffUser, user.id)
            assert fresh is not None
            opened, token = await self._open_session(s, fresh, address, now, previous_token)
            await audit.record(
                s, actor=fresh.username, role=fresh.role, action=audit.LOGIN_OK, client_address=address, now=now
            )
        await self.limits.reset(LOGIN_PER_ACCOUNT_AND_ADDRESS, f'{username}|{address}')
        return IssuedToken(
            token=token,
            principal=_principal(fresh, opened),
            expires_at=now + dt.timedelta(hours=self.settings.token_absolute_hours),
        )

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

    async def _count_failure(self, username: str, user: StaffUser | None, address: str, now: dt.datetime) -> None:
        """Count a wrong password against the address, the (account, address) pair and the account."""
        locked_here = False
        for limit, subject in (
            (LOGIN_PER_ACCOUNT_AND_ADDRESS, f'{username}|{address}'),
            (LOGIN_PER_ADDRESS, address),
        ):
            try:
                locked_here |= await self.limits.hit(limit, subject) >= limit.max  # this failure used up the last try
            except TooManyRequests:
                locked_here = True
        async with self.db.write_lock(), self.db.session() as s, s.begin():
            fresh = await s.get(StaffUser, user.id) if user is not None else None
            slowed = fresh is not None and fresh.active and _slow_down(fresh, now)
            role = fresh.role if fresh is not None else ''
            await audit.record(
                s,
                actor=username,
                role=role,
                action=audit.LOGIN_FAILED,
                outcome='bad_credentials',
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
        async with self.db.write_lock(), self.db.session() as s, s.begin():
            await audit.record(
                s,
                actor=username,
                role=user.role if user is not None else '',
                action=audit.LOGIN_FAILED,
                outcome=outcome,
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
