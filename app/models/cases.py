"""Cases (办件), their workflow nodes and materials, certificates, notifications, evaluations (好差评)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON
from sqlmodel import SQLModel

from app.models.fields import internal, personal, public, sensitive


class CaseBase(SQLModel):
    status: str = public(default='open', max_length=16)
    bundle: str | None = public(default=None, max_length=32)
    created_at: dt.datetime = public()
    due_at: dt.datetime | None = public(default=None)
    completed_at: dt.datetime | None = public(default=None)
    outcome: str = public(default='', max_length=32)


class Case(CaseBase, table=True):
    id: int | None = public(default=None, primary_key=True)
    hall_id: int = public(foreign_key='hall.id', index=True)
    code: str = internal(max_length=64, unique=True, index=True)
    service_id: int = public(foreign_key='service_item.id')
    ticket_id: int | None = internal(default=None, foreign_key='ticket.id', index=True)
    citizen_id: int | None = internal(default=None, foreign_key='citizen.id', index=True)
    answers: dict[str, Any] = internal(default_factory=dict, sa_type=JSON)
    created_by: str = internal(default='', max_length=64)
    kind: str = public(default='application', max_length=16)  # 'home_visit': a 上门服务 (app/services/home_visits.py)
    # the workflow as it was when the case opened: an edited workflow applies to the next case, not this one
    workflow: list[dict[str, Any]] = internal(default_factory=list, sa_type=JSON)
    # a business's address for its case notices (accepted, 补正, done), AES-GCM; '' when none was left
    contact_email_enc: str = personal(default='', max_length=400)


class CasePublic(CaseBase):
    id: int
    code: str


class CaseNode(SQLModel, table=True):
    """One step of a case; nodes sharing `stage` run in parallel (一件事一次办's department approvals)."""

    __tablename__ = 'case_node'
    id: int | None = public(default=None, primary_key=True)
    case_id: int = public(foreign_key='case.id', index=True)
    stage: int = public(ge=0)
    kind: str = public(max_length=16)
    name: str = public(max_length=100)
    department_id: int | None = public(default=None, foreign_key='department.id', index=True)
    status: str = public(default='pending', max_length=16)
    due_at: dt.datetime | None = public(default=None)
    started_at: dt.datetime | None = public(default=None)
    finished_at: dt.datetime | None = public(default=None)
    actor: str = internal(default='', max_length=64)
    note: str = internal(default='', max_length=300)
    rule: str = internal(default='', max_length=64)


class CaseMaterial(SQLModel, table=True):
    __tablename__ = 'case_material'
    id: int | None = public(default=None, primary_key=True)
    case_id: int = public(foreign_key='case.id', index=True)
    name: str = public(max_length=100)
    status: str = public(default='required', max_length=16)
    source: str = public(default='', max_length=32)


class DepartmentRecord(SQLModel, table=True):
    """Data a department already holds about a citizen (零材料): found by keyed hash, stored encrypted."""

    __tablename__ = 'department_record'
    id: int | None = public(default=None, primary_key=True)
    source: str = public(max_length=32, index=True)
    id_number_hash: str = sensitive(max_length=64, index=True)
    data_enc: str = sensitive(max_length=4000)
    updated_at: dt.datetime = internal()


class Certificate(SQLModel, table=True):
    """An e-certificate (电子证照): its content hash is in the audit chain, so /verify can tell genuine from altered."""

    id: int | None = public(default=None, primary_key=True)
    case_id: int = public(foreign_key='case.id', index=True)
    number: str = public(max_length=64, unique=True, index=True)
    kind: str = public(max_length=64)
    holder_masked: str = public(default='', max_length=64)
    content_hash: str = internal(max_length=64)
    issued_at: dt.datetime = public()
    revoked_at: dt.datetime | None = public(default=None)
    audit_entry_id: int | None = internal(default=None, foreign_key='audit_entry.id')


class Notification(SQLModel, table=True):
    """The outbox: written in the transaction that causes it, delivered by a job; `dedupe_key` makes retries safe."""

    id: int | None = public(default=None, primary_key=True)
    hall_id: int = public(foreign_key='hall.id', index=True)
    dedupe_key: str = internal(max_length=128, unique=True)
    channel: str = public(max_length=16)
    kind: str = public(max_length=32)
    ticket_id: int | None = internal(default=None, foreign_key='ticket.id', index=True)
    case_id: int | None = internal(default=None, foreign_key='case.id', index=True)
    citizen_id: int | None = internal(default=None, foreign_key='citizen.id')
    account_id: int | None = internal(default=None, foreign_key='citizen_account.id')  # texts to an online account
    text: str = personal(max_length=500)
    sms_params: str = personal(default='', max_length=500)  # SMS only: the template and its parameters (JSON)
    status: str = public(default='pending', max_length=16, index=True)
    attempts: int = internal(default=0)
    next_attempt_at: dt.datetime = internal(index=True)
    last_error: str = internal(default='', max_length=300)
    created_at: dt.datetime = internal()
    sent_at: dt.datetime | None = internal(default=None)


class Evaluation(SQLModel, table=True):
    """A rating (好差评) of one served ticket; a re-rating after rectification links to the one it replaces."""

    id: int | None = public(default=None, primary_key=True)
    hall_id: int = public(foreign_key='hall.id', index=True)
    ticket_id: int = internal(foreign_key='ticket.id', index=True)
    case_id: int | None = internal(default=None, foreign_key='case.id')
    window_id: int | None = public(default=None, foreign_key='window.id', index=True)
    staff_user_id: int | None = internal(default=None, foreign_key='staff_user.id', index=True)
    department_id: int | None = public(default=None, foreign_key='department.id', index=True)
    scale: str = public(max_length=8)
    level: str = public(max_length=16)
    score: int = public(ge=1, le=5)
    satisfied: bool = public()
    tags: list[str] = internal(default_factory=list, sa_type=JSON)
    comment: str = personal(default='', max_length=500)
    created_at: dt.datetime = public()
    replaces_id: int | None = internal(default=None, foreign_key='evaluation.id')


class Rectification(SQLModel, table=True):
    """The loop a dissatisfied rating opens: department, deadline in working days, callback, fix, re-rating, appeal."""

    id: int | None = public(default=None, primary_key=True)
    evaluation_id: int = internal(foreign_key='evaluation.id', unique=True)
    department_id: int | None = public(default=None, foreign_key='department.id', index=True)
    status: str = public(default='open', max_length=16, index=True)
    deadline: dt.date = public()
    created_at: dt.datetime = public()
    callback_at: dt.datetime | None = internal(default=None)
    callback_note: str = internal(default='', max_length=500)
    fixed_at: dt.datetime | None = internal(default=None)
    fix_note: str = internal(default='', max_length=500)
    appeal_reason: str = internal(default='', max_length=500)
    appeal_decision: str = internal(default='', max_length=16)
    decided_by: str = internal(default='', max_length=64)
    closed_at: dt.datetime | None = internal(default=None)
