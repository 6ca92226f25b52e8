"""Security records: the hash-chained audit log, consents, face encodings, abuse-limit counters."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON
from sqlmodel import SQLModel

from app.models.fields import internal, personal, public, sensitive


class AuditEntry(SQLModel, table=True):
    """Append-only: each row carries the SHA-256 of the previous row, so any edit breaks the chain."""

    __tablename__ = 'audit_entry'
    id: int | None = public(default=None, primary_key=True)
    at: dt.datetime = internal(index=True)
    actor: str = internal(max_length=64)
    role: str = internal(max_length=16)
    action: str = internal(max_length=48, index=True)
    target: str = internal(default='', max_length=128)
    outcome: str = internal(default='ok', max_length=16)
    detail: dict[str, Any] = internal(default_factory=dict, sa_type=JSON)
    client_address: str = personal(
        default='',
        max_length=64,
        protection=(
            'never the address itself: its network (IPv4 /24, IPv6 /48) and a keyed HMAC-SHA256 digest of it '
            '(app.security.addresses.stored_address), set before the row is hashed; rows written before this '
            'masking keep the plain address'
        ),
    )
    prev_hash: str = internal(max_length=64)
    hash: str = internal(max_length=64, unique=True)


class ConsentPurpose(StrEnum):
    FACE_TICKET = 'face_ticket'
    DEPARTMENT_DATA = 'department_data'
    PROXY = 'proxy'


class ConsentScope(StrEnum):
    ONCE = 'once'
    SAME_KIND = 'same_kind'


class ConsentBase(SQLModel):
    purpose: ConsentPurpose = public(max_length=24)
    scope: ConsentScope = public(max_length=16)
    service_code: str | None = public(default=None, max_length=32)
    text_version: str = public(max_length=16)


class ConsentCreate(ConsentBase):
    pass


class Consent(ConsentBase, table=True):
    id: int | None = public(default=None, primary_key=True)
    citizen_id: int = internal(foreign_key='citizen.id', index=True)
    ticket_id: int | None = internal(default=None, foreign_key='ticket.id')
    granted_at: dt.datetime = internal()
    revoked_at: dt.datetime | None = internal(default=None)
    used_at: dt.datetime | None = internal(default=None)
    channel: str = internal(default='', max_length=16)
    guardian_id_enc: str | None = sensitive(default=None, max_length=200)
    guardian_relation: str | None = internal(default=None, max_length=16)


class ConsentPublic(ConsentBase):
    id: int
    granted_at: dt.datetime
    revoked_at: dt.datetime | None
    guardian_relation: str | None = None


class FaceEncoding(SQLModel, table=True):
    """A face template, only ever stored encrypted, and only under a live 刷脸 consent."""

    __tablename__ = 'face_encoding'
    id: int | None = public(default=None, primary_key=True)
    citizen_id: int = internal(foreign_key='citizen.id', index=True)
    consent_id: int = internal(foreign_key='consent.id', index=True)
    encoding_enc: str = sensitive(max_length=4096)
    created_at: dt.datetime = internal()


class RateCounter(SQLModel, table=True):
    """An abuse-limit counter (app/services/limits.py) without Redis: key = limit, hashed subject, window."""

    __tablename__ = 'rate_counter'
    key: str = internal(max_length=160, primary_key=True)
    count: int = internal(default=0)
    expires_at: dt.datetime = internal(index=True)
