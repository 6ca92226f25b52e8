"""Seeing a citizen's data in full: only with a reason, only for a role and task that need it, always audited.

Everyone else sees masked values (app/security/masking.py). Window staff may unmask only the citizen
whose ticket is at their window right now; reviewers, managers and admins may unmask anyone. Every
attempt, allowed or refused, is written to the audit chain with the fields and the reason, never
the values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from app.db import Database
from app.models.hall import Window
from app.models.people import Citizen, Role
from app.models.ticket import Ticket
from app.security.crypto import FieldCipher
from app.services import audit
from app.services.errors import Forbidden, Invalid, NotFound
from app.services.principal import Principal
from app.services.reasons import checked_reason
from app.services.uow import unit_of_work

Field = Literal['name', 'id_number', 'phone']
_COLUMNS: dict[str, tuple[str, str]] = {
    'name': ('name_enc', 'citizen.name'),
    'id_number': ('id_number_enc', 'citizen.id_number'),
    'phone': ('phone_enc', 'citizen.phone'),
}


async def unmask_citizen(
    db: Database,
    cipher: FieldCipher,
    principal: Principal,
    citizen_id: int,
    *,
    fields: Sequence[Field],
    reason: str,
    now: dt.datetime,
    client_address: str = '',
) -> dict[str, str]:
    """The requested fields in clear; Forbidden (and an audit row saying so) when the task does not need them."""
    reason = checked_reason(reason, required=True)
    unknown = set(fields) - set(_COLUMNS)
    if unknown or not fields:
        raise Invalid('unknown_field', value=sorted(unknown) or 'nothing')
    detail = {'fields': sorted(fields), 'reason': reason}
    async with unit_of_work(db) as uow:
        s = uow.session
        citizen = await s.get(Citizen, citizen_id)
        allowed = citizen is not None and await _task_needs_it(s, principal, citizen_id)
        await audit.record(
            s,
            actor=principal.name,
            role=principal.role,
            action=audit.UNMASK,
            target=f'citizen:{citizen_id}',
            outcome=audit.OUTCOME_OK if allowed else audit.OUTCOME_DENIED,
            detail=detail,
            client_address=client_address,
            now=now,
        )
    if citizen is None:
        raise NotFound('unknown_citizen')
    if not allowed:
        raise Forbidden('unmask_denied')
    values: dict[str, str] = {}
    for field in fields:
        column, context = _COLUMNS[field]
        token = getattr(citizen, column)
        values[field] = cipher.decrypt(token, context=context) if token else ''
    return values


async def _task_needs_it(s: AsyncSession, principal: Principal, citizen_id: int) -> bool:
    if principal.has_role(Role.REVIEWER, Role.MANAGER):
        return True
    if principal.role != Role.STAFF or principal.window_id is None:
        return False
    statement = (
        select(Ticket.citizen_id)
        .join(Window, Window.current_ticket_id == Ticket.id)
        .where(Window.id == principal.window_id)
    )
    return (await s.execute(statement)).scalar_one_or_none() == citizen_id
