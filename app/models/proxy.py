"""亲情代办: a citizen lets a relative follow a ticket or case and help with it, from the relative's own phone.

A grant is the citizen's invitation: scoped to one ticket (and the cases opened from it) or one case,
time-limited, revocable, and backed by a PROXY consent. A proposal is what the relative suggests
(a material is ready); it changes nothing until the citizen confirms it.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import SQLModel

from app.models.fields import internal, public


class ProxyGrantBase(SQLModel):
    relation: str = public(max_length=16)  # 子女 / 配偶 / 亲友 ...
    can_fill: bool = public(default=False)  # may suggest changes (the citizen confirms each), not only watch
    created_at: dt.datetime = public()
    expires_at: dt.datetime = public()
    revoked_at: dt.datetime | None = public(default=None)
    joined_at: dt.datetime | None = public(default=None)


class ProxyGrant(ProxyGrantBase, table=True):
    __tablename__ = 'proxy_grant'
    id: int | None = public(default=None, primary_key=True)
    citizen_id: int = internal(foreign_key='citizen.id', index=True)
    consent_id: int = internal(foreign_key='consent.id', index=True)
    ticket_id: int | None = internal(default=None, foreign_key='ticket.id')
    case_id: int | None = internal(default=None, foreign_key='case.id')
    token_hash: str = internal(max_length=64, unique=True, index=True)  # the invitation link's token, hashed


class ProxyGrantPublic(ProxyGrantBase):
    id: int


class ProxyProposal(SQLModel, table=True):
    """A relative's suggestion (a required material is ready); applied only when the citizen accepts it."""

    __tablename__ = 'proxy_proposal'
    id: int | None = public(default=None, primary_key=True)
    grant_id: int = internal(foreign_key='proxy_grant.id', index=True)
    case_id: int = internal(foreign_key='case.id')
    material_id: int = internal(foreign_key='case_material.id')
    kind: str = public(default='material_ready', max_length=24)
    status: str = public(default='pending', max_length=16)  # pending / accepted / rejected
    created_at: dt.datetime = public()
    decided_at: dt.datetime | None = public(default=None)
