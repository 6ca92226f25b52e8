"""The SLA sweep: warn about case nodes close to (within the last 20% of) or past their deadline.

Run periodically by the job runner (app/jobs.py). Each warning is written once per node and level
(at risk, then overdue) as an outbox row with a unique dedupe key, and only a newly written one
publishes SlaAtRisk, so sweeps, restarts and several workers never repeat a warning.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from app.bus import Bus
from app.db import Database
from app.events import SlaAtRisk
from app.models.cases import Case, CaseNode
from app.models.hall import ServiceItem
from app.services import notifications
from app.services.case_views import node_level
from app.services.channels import PUSH
from app.services.messages import Template, message
from app.services.uow import unit_of_work
from app.services.workflow import ACTIVE, SlaLevel


async def sweep(db: Database, bus: Bus, *, hall_id: int, now: dt.datetime, tz: ZoneInfo) -> list[SlaAtRisk]:
    """The warnings this sweep gave (already published on the bus)."""
    statement = (
        select(CaseNode, Case, ServiceItem)
        .join(Case, col(Case.id) == CaseNode.case_id)
        .join(ServiceItem, col(ServiceItem.id) == Case.service_id)
        .where(
            Case.hall_id == hall_id,
            CaseNode.status == ACTIVE,
            col(CaseNode.due_at).is_not(None),
            col(CaseNode.started_at).is_not(None),
        )
    )
    async with db.read_session() as s:
        rows = (await s.execute(statement)).all()
    warnings = [(node, case, service, node_level(node, now, tz)) for node, case, service in rows]
    warnings = [item for item in warnings if item[3] != SlaLevel.OK]
    if not warnings:
        return []
    published: list[SlaAtRisk] = []
    async with unit_of_work(db, bus) as uow:
        for node, case, service, level in warnings:
            assert case.id is not None and node.due_at is not None
            overdue = level == SlaLevel.OVERDUE
            state = '已超期' if overdue else '即将到期'
            due = node.due_at.astimezone(tz).strftime('%m月%d日 %H:%M')
            created = await notifications.add(
                uow.session,
                hall_id=hall_id,
                key=f'sla:{node.id}:{level}',
                kind='sla_at_risk',
                message=message(Template.SLA_AT_RISK, service=service.name, step=node.name, state=state, due=due),
                now=now,
                case_id=case.id,
                channels=(PUSH,),
            )
            if created:
                event = SlaAtRisk(
                    hall_id=hall_id,
                    time=now,
                    case_id=case.id,
                    node=node.name,
                    department_id=node.department_id,
                    due_at=node.due_at,
                    node_id=node.id,
                    overdue=overdue,
                )
                uow.emit(event)
                published.append(event)
    return published
