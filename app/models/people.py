"""Citizens (minimal, encrypted where sensitive) and staff accounts."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlmodel import SQLModel

from app.models.fields import internal, personal, public, sensitive


class Role(StrEnum):
    CITIZEN = 'citizen'
    PROXY = 'proxy'
    STAFF = 'staff'
    REVIEWER = 'reviewer'
    MANAGER = 'manager'
    ADMIN = 'admin'
    CITY = 'city_manager'  # sees every hall of the city (/city); belongs to none, so no hall's page admits it
    DEVICE = 'device'


STAFF_ROLES = (Role.STAFF, Role.REVIEWER, Role.MANAGER, Role.ADMIN)  # a hall's own accounts: its admins make them
ACCOUNT_ROLES = (*STAFF_ROLES, Role.CITY)  # every signed-in role; city managers come from the seed or app.users


class Citizen(SQLModel, table=True):
    """A person known to the hall. ID number and phone are stored only encrypted plus a keyed hash."""

    id: int | None = internal(default=None, primary_key=True)
    name_enc: str | None = personal(default=None, max_length=200)
    id_number_enc: str | None = sensitive(default=None, max_length=200)
    id_number_hash: str | None = sensitive(default=None, max_length=64, unique=True, index=True)
    phone_enc: str | None = sensitive(default=None, max_length=200)
    phone_last4_hash: str | None = sensitive(default=None, max_length=64)
    birth_date: dt.date | None = personal(default=None)
    created_at: dt.datetime = internal()


class CitizenPublic(SQLModel):
    """What leaves the server about a citizen: masked values only."""

    id: int
    name_masked: str
    id_number_masked: str
    phone_masked: str
    age: int | None


class StaffUserBase(SQLModel):
    username: str = internal(max_length=64, unique=True, index=True)
    display_name: str = personal(max_length=64)
    role: Role = internal(max_length=16)
    window_id: int | None = internal(default=None, foreign_key='window.id')
    department_id: int | None = internal(default=None, foreign_key='department.id')
    hall_id: int | None = internal(default=None, foreign_key='hall.id', index=True)  # None: a city manager
    active: bool = internal(default=True)


class StaffUserCreate(StaffUserBase):
    password: str = sensitive(min_length=1, max_length=256)


class StaffUser(StaffUserBase, table=True):
    __tablename__ = 'staff_user'
    id: int | None = public(default=None, primary_key=True)
    password_hash: str = sensitive(max_length=256)
    failed_attempts: int = internal(default=0)  # wrong passwords from any address within the last 15 minutes
    last_failed_at: dt.datetime | None = internal(default=None)
    locked_until: dt.datetime | None = internal(default=None)  # an attacked account: no attempt before this
    must_change_password: bool = internal(default=False)  # an admin's reset: the next login chooses a new one
    created_at: dt.datetime = internal()


class StaffUserPublic(StaffUserBase):
    id: int


class AuthSession(SQLModel, table=True):
    """A server-side login: only the token's SHA-256 is stored, so a DB leak reveals no live token."""

    __tablename__ = 'auth_session'
    id: int | None = public(default=None, primary_key=True)
    token_hash: str = sensitive(max_length=64, unique=True, index=True)
    user_id: int = internal(foreign_key='staff_user.id', index=True)
    created_at: dt.datetime = internal()
    last_seen_at: dt.datetime = internal()
    revoked_at: dt.datetime | None = internal(default=None)
    client_address: str = personal(default='', max_length=64)
    enrolment_only: bool = internal(default=False)  # a manager/admin without a second factor: may only enrol one


class StaffTotp(SQLModel, table=True):
    """A staff member's TOTP secret (encrypted); `last_step` refuses a code used once from being used again."""

    __tablename__ = 'staff_totp'
    user_id: int = internal(primary_key=True, foreign_key='staff_user.id')
    secret_enc: str = sensitive(max_length=256)
    confirmed_at: dt.datetime | None = internal(default=None)  # None: enrolment begun, not yet confirmed by a code
    last_step: int = internal(default=0)
    created_at: dt.datetime = internal()


class RecoveryCode(SQLModel, table=True):
    """One of the ten one-time codes given at enrolment; only its SHA-256 is stored."""

    __tablename__ = 'staff_recovery_code'
    id: int | None = public(default=None, primary_key=True)
    user_id: int = internal(foreign_key='staff_user.id', index=True)
    code_hash: str = sensitive(max_length=64, unique=True)
    used_at: dt.datetime | None = internal(default=None)
