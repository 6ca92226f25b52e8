"""Staff accounts, kept by admins (the /admin console and `python -m app.users`): one set of rules for both.

Every change is audited in its own transaction. Disabling an account, a password reset and a role change
revoke every open session of the person at once (a request with the old token is refused), and
`SessionEnded` after the commit closes their open pages (a clerk's /window desk goes to the login page).
A changed window or department ends the open pages too: they were built for the old one. Every change is
announced as `StaffChanged`, so other admins' open staff lists redraw at once.
An admin may not disable or demote themself, and the last active admin is never disabled or demoted,
so the hall is never left without someone who can manage accounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from sqlalchemy import ColumnElement, func, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.events import SessionEnded, StaffChanged
from app.models.hall import Department, Window
from app.models.people import STAFF_ROLES, AuthSession, RecoveryCode, Role, StaffTotp, StaffUser
from app.security.passwords import generate_password, hash_password
from app.services import audit
from app.services.auth import SessionEnd, require_strong
from app.services.errors import Conflict, Invalid, NotFound
from app.services.principal import Principal
from app.services.uow import Service, UnitOfWork

STAFF_ADDED = 'staff_added'
STAFF_DISABLED = 'staff_disabled'
STAFF_ENABLED = 'staff_enabled'
STAFF_PASSWORD_RESET = 'staff_password_reset'
STAFF_SECOND_FACTOR_RESET = 'staff_second_factor_reset'
STAFF_CHANGED = 'staff_changed'


class Keep(Enum):
    """`change(window=KEEP)`: leave it as it is (None clears it)."""

    KEEP = 'keep'


KEEP = Keep.KEEP


@dataclass(frozen=True)
class StaffAccount:
    """One person as the console shows them: no password data, window and department by their numbers/codes."""

    username: str
    display_name: str
    role: Role
    window_number: int | None
    department_code: str | None
    department_name: str
    active: bool
    locked: bool
    must_change_password: bool
    second_factor: bool  # an authenticator is set up (managers and admins must have one)


@dataclass(frozen=True)
class PasswordIssued:
    """A new account or a reset: `one_time_password` is shown to the admin once (None: the admin typed it)."""

    account: StaffAccount
    one_time_password: str | None


class StaffAdminService(Service):
    """List, add, disable, enable, reset and change staff accounts; admins (and the CLI) only."""

    async def accounts(self, caller: Principal) -> list[StaffAccount]:
        caller.require(Role.ADMIN)
        async with self.db.read_session() as s:
            statement = select(StaffUser).where(self._visible(caller)).order_by(col(StaffUser.username))
            users = (await s.execute(statement)).scalars().all()
            return [await self._account(s, user) for user in users]

    async def windows(self, caller: Principal) -> list[tuple[int, str]]:
        """The hall's windows (number, name): what an account may be given."""
        caller.require(Role.ADMIN)
        async with self.db.read_session() as s:
            statement = select(Window).where(Window.hall_id == self.hall_id).order_by(col(Window.number))
            return [(w.number, w.name) for w in (await s.execute(statement)).scalars()]

    async def departments(self, caller: Principal) -> list[tuple[str, str]]:
        """The departments (code, name): what a reviewer may be given."""
        caller.require(Role.ADMIN)
        async with self.db.read_session() as s:
            statement = select(Department).order_by(col(Department.code))
            return [(d.code, d.name) for d in (await s.execute(statement)).scalars()]

    async def add(
        self,
        caller: Principal,
        *,
        username: str,
        role: Role,
        display_name: str = '',
        password: str | None = None,
        window_number: int | None = None,
        department_code: str | None = None,
    ) -> PasswordIssued:
        """A new account. Without `password` one is generated, shown once, and must be changed at first login."""
        caller.require(Role.ADMIN)
        username = username.strip()
        if not username or len(username) > 64 or any(c.isspace() for c in username):
            raise Invalid('bad_username')
        if role not in STAFF_ROLES and not (role == Role.CITY and caller.is_system):
            raise Invalid('bad_staff_role')  # a hall's admin makes the hall's accounts; city managers come from the CLI
        generated = password is None
        if password is not None:
            require_strong(password)
        secret = generate_password() if password is None else password
        password_hash = hash_password(secret)  # argon2 takes a while: outside the transaction
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            if (await s.execute(select(StaffUser.id).where(StaffUser.username == username))).first():
                raise Conflict('username_taken', username=username)
            user = StaffUser(
                username=username,
                display_name=(display_name.strip() or username)[:64],
                role=role,
                window_id=await self._window_id(s, window_number),
                department_id=await self._department_id(s, department_code),
                hall_id=None if role == Role.CITY else self.hall_id,
                password_hash=password_hash,
                must_change_password=generated,
                created_at=now,
            )
            s.add(user)
            await s.flush()
            await self._audit(
                uow, caller, STAFF_ADDED, user, {'role': role, 'window': window_number, 'department': department_code}
            )
            account = await self._account(s, user)
        return PasswordIssued(account, secret if generated else None)

    async def disable(self, caller: Principal, username: str) -> StaffAccount:
        """Refuse the person's logins from now on and end their sessions and open pages at once."""
        caller.require(Role.ADMIN)
        async with self._transaction() as uow:
            s = uow.session
            user = await self._user(s, username, caller)
            if user.active:
                await self._keep_an_admin(s, caller, user)
                user.active = False
                ended = await self._end_sessions(uow, user, SessionEnd.DEACTIVATED)
                await self._audit(uow, caller, STAFF_DISABLED, user, {'sessions_ended': ended})
            return await self._account(s, user)

    async def enable(self, caller: Principal, username: str) -> StaffAccount:
        caller.require(Role.ADMIN)
        async with self._transaction() as uow:
            s = uow.session
            user = await self._user(s, username, caller)
            if not user.active:
                user.active = True
                await self._audit(uow, caller, STAFF_ENABLED, user, {})
            return await self._account(s, user)

    async def reset_password(self, caller: Principal, username: str, *, password: str | None = None) -> PasswordIssued:
        """A new password; the lockout is cleared and every session ends.

        Without `password` (the console) a one-time password is generated, shown once to the admin, and the
        person must choose their own at the next login. The CLI gives the new password (read from stdin).
        """
        caller.require(Role.ADMIN)
        generated = password is None
        if password is not None:
            require_strong(password)
        secret = generate_password() if password is None else password
        password_hash = hash_password(secret)
        async with self._transaction() as uow:
            s = uow.session
            user = await self._user(s, username, caller)
            user.password_hash = password_hash
            user.must_change_password = generated
            user.failed_attempts, user.last_failed_at, user.locked_until = 0, None, None
            ended = await self._end_sessions(uow, user, SessionEnd.LOGGED_OUT)
            await self._audit(uow, caller, STAFF_PASSWORD_RESET, user, {'one_time': generated, 'sessions_ended': ended})
            account = await self._account(s, user)
        return PasswordIssued(account, secret if generated else None)

    async def reset_second_factor(self, caller: Principal, username: str) -> StaffAccount:
        """Remove the person's authenticator and recovery codes (a lost phone): they set one up again at the
        next login, and every session ends. Never one's own: a stolen admin session must not move the factor.
        """
        caller.require(Role.ADMIN)
        async with self._transaction() as uow:
            s = uow.session
            user = await self._user(s, username, caller)
            if caller.user_id is not None and caller.user_id == user.id:
                raise Conflict('not_yourself')
            enrolment = await s.get(StaffTotp, user.id)
            codes = (await s.execute(select(RecoveryCode).where(RecoveryCode.user_id == user.id))).scalars().all()
            if enrolment is None and not codes:
                return await self._account(s, user)
            for row in (*codes, *([enrolment] if enrolment is not None else [])):
                await s.delete(row)
            ended = await self._end_sessions(uow, user, SessionEnd.LOGGED_OUT)
            await self._audit(uow, caller, STAFF_SECOND_FACTOR_RESET, user, {'sessions_ended': ended})
            return await self._account(s, user)

    async def change(
        self,
        caller: Principal,
        username: str,
        *,
        role: Role | None = None,
        window_number: int | Keep | None = KEEP,
        department_code: str | Keep | None = KEEP,
    ) -> StaffAccount:
        """Change role, window or department (None clears a window or department; KEEP leaves it).

        A new role ends every session (the person signs in again); a new window or department ends the
        open pages, which were built for the old one.
        """
        caller.require(Role.ADMIN)
        if role is not None and role not in STAFF_ROLES and not (role == Role.CITY and caller.is_system):
            raise Invalid('bad_staff_role')
        async with self._transaction() as uow:
            s = uow.session
            user = await self._user(s, username, caller)
            before = await self._account(s, user)
            if role is not None and role != user.role:
                await self._keep_an_admin(s, caller, user)
                user.role = role
                user.hall_id = None if role == Role.CITY else self.hall_id
            if not isinstance(window_number, Keep):
                user.window_id = await self._window_id(s, window_number)
            if not isinstance(department_code, Keep):
                user.department_id = await self._department_id(s, department_code)
            after = await self._account(s, user)
            changes = {
                field: {'from': getattr(before, field), 'to': getattr(after, field)}
                for field in ('role', 'window_number', 'department_code')
                if getattr(before, field) != getattr(after, field)
            }
            if changes:
                if 'role' in changes:
                    await self._end_sessions(uow, user, SessionEnd.CHANGED)
                else:
                    await self._end_pages(uow, user)
                await self._audit(uow, caller, STAFF_CHANGED, user, changes)
        return after

    # ---- within a transaction --------------------------------------------------------------------

    def _visible(self, caller: Principal) -> ColumnElement[bool]:
        """The accounts a caller manages: the hall's own; the command line also the city managers (no hall)."""
        mine = col(StaffUser.hall_id) == self.hall_id
        return or_(mine, col(StaffUser.hall_id).is_(None)) if caller.is_system else mine

    async def _user(self, s: AsyncSession, username: str, caller: Principal) -> StaffUser:
        """An account the caller manages (another hall's is unknown here, as if it did not exist)."""
        statement = select(StaffUser).where(StaffUser.username == username.strip(), self._visible(caller))
        user = (await s.execute(statement)).scalars().first()
        if user is None:
            raise NotFound('unknown_staff', username=username.strip()[:64])
        return user

    async def _window_id(self, s: AsyncSession, number: int | None) -> int | None:
        if number is None:
            return None
        statement = select(Window.id).where(Window.hall_id == self.hall_id, Window.number == number)
        window_id = (await s.execute(statement)).scalars().first()
        if window_id is None:
            raise Invalid('unknown_window', text='unknown_window.number', number=number)
        return window_id

    @staticmethod
    async def _department_id(s: AsyncSession, code: str | None) -> int | None:
        if code is None:
            return None
        department_id = (await s.execute(select(Department.id).where(Department.code == code))).scalars().first()
        if department_id is None:
            raise Invalid('unknown_department', text='unknown_department.code', department=code[:32])
        return department_id

    @staticmethod
    async def _keep_an_admin(s: AsyncSession, caller: Principal, user: StaffUser) -> None:
        """Refuse to take an active admin away when it is the caller themself or the last active admin."""
        if user.role != Role.ADMIN or not user.active:
            return
        if caller.user_id is not None and caller.user_id == user.id:
            raise Conflict('not_yourself')
        others = select(func.count()).where(
            StaffUser.role == Role.ADMIN,
            col(StaffUser.active).is_(True),
            StaffUser.id != user.id,
            StaffUser.hall_id == user.hall_id,  # each hall keeps an admin of its own
        )
        if not (await s.execute(others)).scalar_one():
            raise Conflict('last_admin')

    async def _end_sessions(self, uow: UnitOfWork, user: StaffUser, reason: SessionEnd) -> int:
        """Revoke every open session of `user` now; their open pages end after the commit. How many ended."""
        now = self.clock()
        open_sessions = (
            await uow.session.execute(
                select(AuthSession).where(AuthSession.user_id == user.id, col(AuthSession.revoked_at).is_(None))
            )
        ).scalars()
        ended = 0
        for session in open_sessions:
            session.revoked_at = now
            ended += 1
            self._tell_pages(uow, session, reason)
        return ended

    async def _end_pages(self, uow: UnitOfWork, user: StaffUser) -> None:
        """The person's open pages end (they were built for the old window or department); sessions stay."""
        open_sessions = (
            await uow.session.execute(
                select(AuthSession).where(AuthSession.user_id == user.id, col(AuthSession.revoked_at).is_(None))
            )
        ).scalars()
        for session in open_sessions:
            self._tell_pages(uow, session, SessionEnd.CHANGED)

    def _tell_pages(self, uow: UnitOfWork, session: AuthSession, reason: SessionEnd) -> None:
        """Without a bus (the CLI) open pages end at their process's next session check instead."""
        if self.bus is not None and session.id is not None:
            uow.emit(SessionEnded(hall_id=self.hall_id, session_id=session.id, reason=reason))

    async def _audit(
        self, uow: UnitOfWork, caller: Principal, action: str, user: StaffUser, detail: dict[str, object]
    ) -> None:
        """The change's audit row and, after the commit, `StaffChanged` (open admin pages redraw their list)."""
        await audit.record_for(
            uow.session, caller, action=action, target=f'staff:{user.username}', detail=detail, now=self.clock()
        )
        if self.bus is not None:
            uow.emit(StaffChanged(hall_id=self.hall_id, actor=caller.name, username=user.username, action=action))

    async def _account(self, s: AsyncSession, user: StaffUser) -> StaffAccount:
        window = await s.get(Window, user.window_id) if user.window_id is not None else None
        department = await s.get(Department, user.department_id) if user.department_id is not None else None
        now = self.clock()
        return StaffAccount(
            username=user.username,
            display_name=user.display_name,
            role=Role(user.role),
            window_number=window.number if window is not None else None,
            department_code=department.code if department is not None else None,
            department_name=department.name if department is not None else '',
            active=user.active,
            locked=user.locked_until is not None and user.locked_until > now,
            must_change_password=user.must_change_password,
            second_factor=await s.get(StaffTotp, user.id) is not None,
        )
