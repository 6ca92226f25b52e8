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

from sqlmodel import select

from app.clock import utcnow
from app.db import Database
from app.models.people import AuthSession, Role, StaffUser
from app.security.passwords import hash_password, verify_password
from app.services.errors import Locked, Unauthorized
from app.settings import Settings

MAX_FAILURES = 5
LOCKOUT = dt.timedelta(minutes=15)
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
_BAD_LOGIN = '用户名或密码错误 / wrong username or password'


@dataclass(frozen=True)
class Principal:
    """Who is calling: enough to check roles and window scope without another query."""

    user_id: int
    username: str
    display_name: str
    role: Role
    window_id: int | None
    department_id: int | None
    session_id: int

    def has_role(self, *roles: Role) -> bool:
        return self.role in roles or self.role == Role.ADMIN


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

    async def login(self, username: str, password: str, *, client_address: str = '') -> IssuedToken:
        now = self.clock()
        async with self.db.session() as s, s.begin():
            user = (
                await s.execute(select(StaffUser).where(StaffUser.username == username.strip()))
            ).scalar_one_or_none()
            if user is None or not user.active:
                verify_password(password, _DUMMY_HASH)  # same cost as a real check: no user enumeration by timing
                raise Unauthorized('bad_credentials', _BAD_LOGIN)
            if user.locked_until and user.locked_until > now:
                raise Locked(
                    'account_locked', '连续登录失败，账户已锁定15分钟 / too many failures: locked for 15 minutes'
                )
            if not verify_password(password, user.password_hash):
                user.failed_attempts += 1
                if user.failed_attempts >= MAX_FAILURES:
                    user.locked_until = now + LOCKOUT
                    user.failed_attempts = 0
                failed = Unauthorized('bad_credentials', _BAD_LOGIN)
            else:
                failed = None
                user.failed_attempts = 0
                user.locked_until = None
                token = secrets.token_urlsafe(32)
                session = AuthSession(
                    token_hash=token_hash(token),
                    user_id=user.id,
                    created_at=now,
                    last_seen_at=now,
                    client_address=client_address[:64],
                )
                s.add(session)
                await s.flush()
        if failed:
            raise failed
        return IssuedToken(
            token, _principal(user, session), now + dt.timedelta(hours=self.settings.token_absolute_hours)
        )

    async def authenticate(self, token: str) -> Principal:
        """The principal behind a bearer token, or Unauthorized (expired, idle too long, revoked)."""
        now = self.clock()
        async with self.db.session() as s, s.begin():
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
            session.last_seen_at = now
            return _principal(user, session)

    async def logout(self, token: str) -> None:
        async with self.db.session() as s, s.begin():
            session = (
                await s.execute(select(AuthSession).where(AuthSession.token_hash == token_hash(token)))
            ).scalar_one_or_none()
            if session and not session.revoked_at:
                session.revoked_at = self.clock()


def _principal(user: StaffUser, session: AuthSession) -> Principal:
    assert user.id is not None and session.id is not None
    return Principal(
        user.id, user.username, user.display_name, Role(user.role), user.window_id, user.department_id, session.id
    )
