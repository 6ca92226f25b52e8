"""Who is calling: one type for everyone a service may hear from, so every service can decide for itself.

Pages and the API only find out who the caller is (a staff session, a paired kiosk, a citizen who
proved a tracking code, a relative's grant, nobody) and pass the `Principal` on; the services check
role and scope. `name` is what the audit log and ticket history record as the actor.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from app.models.people import STAFF_ROLES, Role
from app.services.errors import Forbidden, Unauthorized


class Kind(StrEnum):
    STAFF = 'staff'  # a signed-in person; `role` says staff, reviewer, manager or admin
    KIOSK = 'kiosk'  # a paired kiosk screen, perhaps with a clerk signed in to assist (`assisted_by`)
    PAD = 'pad'  # a window's rating pad (评价器): a paired tablet screen or a hardware pad, scoped to `window_id`
    CITIZEN = 'citizen'  # proved a ticket or case (tracking code plus second factor), or a phone (`account_id`)
    PROXY = 'proxy'  # a relative holding a live 亲情代办 grant
    ANONYMOUS = 'anonymous'  # anyone else on the public edges
    SYSTEM = 'system'  # the process itself: the demo hall simulator, jobs, command-line tools


WINDOW_ROLES = (Role.STAFF, Role.MANAGER)


@dataclass(frozen=True)
class Principal:
    kind: Kind
    name: str
    role: Role
    address: str = ''
    user_id: int | None = None
    display_name: str = ''
    window_id: int | None = None
    department_id: int | None = None
    session_id: int | None = None
    device_code: str | None = None
    assisted_by: str | None = None  # the clerk signed in at this kiosk (staff assist)
    citizen_id: int | None = None
    account_id: int | None = None  # a phone signed in by a texted code (app/services/citizen_accounts.py)

    # ---- who ---------------------------------------------------------------------------------

    @classmethod
    def anonymous(cls, address: str = '') -> Principal:
        return cls(Kind.ANONYMOUS, 'anonymous', Role.CITIZEN, address=address[:64])

    @classmethod
    def system(cls, name: str) -> Principal:
        return cls(Kind.SYSTEM, f'system:{name}'[:64], Role.ADMIN)

    @classmethod
    def cli(cls, os_user: str) -> Principal:
        """An operator at the command line (`python -m app.users`): the audit log names them `cli:<os user>`."""
        return cls(Kind.SYSTEM, f'cli:{os_user}'[:64], Role.ADMIN)

    @classmethod
    def kiosk(cls, device_code: str, *, address: str = '', assisted_by: str | None = None) -> Principal:
        return cls(
            Kind.KIOSK,
            f'kiosk:{device_code}'[:64],
            Role.DEVICE,
            address=address[:64],
            device_code=device_code,
            assisted_by=assisted_by,
        )

    @classmethod
    def pad(cls, device_code: str, *, window_id: int, address: str = '') -> Principal:
        """A window's rating pad: it may rate only what its own window just completed (app/services/evaluation.py)."""
        return cls(
            Kind.PAD,
            f'pad:{device_code}'[:64],
            Role.DEVICE,
            address=address[:64],
            device_code=device_code,
            window_id=window_id,
        )

    @classmethod
    def citizen(cls, citizen_id: int | None, *, address: str = '') -> Principal:
        name = f'citizen:{citizen_id}' if citizen_id is not None else 'citizen'
        return cls(Kind.CITIZEN, name, Role.CITIZEN, address=address[:64], citizen_id=citizen_id)

    @classmethod
    def account(cls, account_id: int, *, citizen_id: int | None = None, address: str = '') -> Principal:
        """A citizen signed in on the phone; `citizen_id` only once a verified path linked the account."""
        return cls(
            Kind.CITIZEN,
            f'account:{account_id}',
            Role.CITIZEN,
            address=address[:64],
            citizen_id=citizen_id,
            account_id=account_id,
        )

    def with_address(self, address: str) -> Principal:
        return replace(self, address=address[:64])

    @property
    def is_staff(self) -> bool:
        return self.kind == Kind.STAFF

    @property
    def is_system(self) -> bool:
        return self.kind == Kind.SYSTEM

    # ---- what they may do --------------------------------------------------------------------

    def has_role(self, *roles: Role) -> bool:
        """A signed-in person in one of `roles` (a hall's admins may everything its staff may, but are no city
        managers); the system too."""
        if self.kind == Kind.SYSTEM:
            return True
        if self.kind != Kind.STAFF:
            return False
        return self.role in roles or (self.role == Role.ADMIN and any(role in STAFF_ROLES for role in roles))

    def require(self, *roles: Role) -> None:
        if not self.has_role(*roles):
            raise Forbidden('forbidden')

    def require_account(self) -> int:
        """The signed-in phone's account id; anyone else is asked to sign in (401)."""
        if self.kind != Kind.CITIZEN or self.account_id is None:
            raise Unauthorized('citizen_sign_in_required')
        return self.account_id

    def may_operate_window(self, window_id: int) -> bool:
        """Clerks operate their own window; managers and admins any window; so does the hall simulator."""
        if not self.has_role(*WINDOW_ROLES):
            return False
        return not (self.kind == Kind.STAFF and self.role == Role.STAFF and self.window_id != window_id)

    def require_window(self, window_id: int) -> None:
        if not self.has_role(*WINDOW_ROLES):
            raise Forbidden('forbidden', text='forbidden.windows')
        if not self.may_operate_window(window_id):
            raise Forbidden('not_your_window')
