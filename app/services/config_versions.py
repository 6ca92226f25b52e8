"""Saving a configuration change as a version: one row per save, counted per thing, audited with it.

Every editor of the live hall (services, windows, zones, workflows, hall rules, imports) saves through
`save_version` inside its own transaction, so the version, the audit row and the change itself commit
together, and `HallConfigChanged` goes out only after the commit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func
from sqlmodel import select

from app.events import HallConfigChanged
from app.models.config_version import ConfigVersion
from app.models.people import Role
from app.services import audit
from app.services.principal import Principal
from app.services.uow import Service, UnitOfWork

KINDS = ('service', 'window', 'zone', 'workflow', 'rules', 'import')


async def save_version(
    uow: UnitOfWork,
    caller: Principal,
    *,
    hall_id: int,
    kind: str,
    subject: str,
    data: dict[str, Any],
    now: dt.datetime,
) -> ConfigVersion:
    """Store `data` as the next version of (kind, subject), audit it as the caller's act and announce it."""
    if kind not in KINDS:
        raise ValueError(f'unknown configuration kind {kind!r}')
    s = uow.session
    latest = (
        await s.execute(
            select(func.max(ConfigVersion.version)).where(
                ConfigVersion.hall_id == hall_id, ConfigVersion.kind == kind, ConfigVersion.subject == subject
            )
        )
    ).scalar_one_or_none()
    row = ConfigVersion(
        hall_id=hall_id,
        kind=kind,
        subject=subject,
        version=(latest or 0) + 1,
        data=data,
        actor=caller.name,
        created_at=now,
    )
    s.add(row)
    await s.flush()
    await audit.record_for(s, caller, action=f'config.{kind}', target=subject, detail={'version': row.version}, now=now)
    uow.emit(HallConfigChanged(hall_id=hall_id, kind=kind, subject=subject, version=row.version, actor=caller.name))
    return row


class ConfigHistory(Service):
    """What was saved, newest first: admins read it in the console to see who changed what and when."""

    async def versions(
        self, caller: Principal, *, kind: str | None = None, subject: str | None = None, limit: int = 50
    ) -> list[ConfigVersion]:
        caller.require(Role.ADMIN)
        query = select(ConfigVersion).where(ConfigVersion.hall_id == self.hall_id)
        if kind is not None:
            query = query.where(ConfigVersion.kind == kind)
        if subject is not None:
            query = query.where(ConfigVersion.subject == subject)
        query = query.order_by(ConfigVersion.created_at.desc(), ConfigVersion.id.desc()).limit(max(1, min(limit, 500)))
        async with self.db.read_session() as s:
            return list((await s.execute(query)).scalars())
