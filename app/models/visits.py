"""上门服务: a home visit for a citizen who cannot come to the hall; its steps and deadlines live on its case."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import JSON
from sqlmodel import SQLModel

from app.models.fields import internal, public, sensitive


class VisitStatus(StrEnum):
    REQUESTED = 'requested'
    SCHEDULED = 'scheduled'
    ASSIGNED = 'assigned'
    DONE = 'done'


OPEN_VISITS = (VisitStatus.REQUESTED, VisitStatus.SCHEDULED, VisitStatus.ASSIGNED)


class HomeVisit(SQLModel, table=True):
    """One requested visit: where (encrypted), for which service, when, and who goes."""

    __tablename__ = 'home_visit'
    id: int | None = public(default=None, primary_key=True)
    hall_id: int = public(foreign_key='hall.id', index=True)
    case_id: int = internal(foreign_key='case.id', unique=True)
    service_id: int = public(foreign_key='service_item.id')
    department_id: int = public(foreign_key='department.id', index=True)
    citizen_id: int | None = internal(default=None, foreign_key='citizen.id', index=True)
    account_id: int | None = internal(default=None, foreign_key='citizen_account.id', index=True)
    grant_id: int | None = internal(default=None, foreign_key='proxy_grant.id', index=True)  # asked by a relative
    address_enc: str = sensitive(max_length=1000)
    status: str = public(default=VisitStatus.REQUESTED, max_length=16, index=True)
    slot_start: dt.datetime | None = public(default=None)
    slot_end: dt.datetime | None = public(default=None)
    assignees: list[int] = internal(default_factory=list, sa_type=JSON)  # staff_user ids
    requested_by: str = internal(max_length=64)
    requested_at: dt.datetime = public()
    visited_at: dt.datetime | None = public(default=None)
