"""Reading cases: a case with its nodes, materials and certificates, and the nodes waiting for a department.

Read-only functions over a session, shared by CaseService (its `view`, `views_for_ticket`, `pending_for`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.models.cases import Case, CaseMaterial, CaseNode, Certificate
from app.models.hall import Department, ServiceItem
from app.services.workflow import ACTIVE, CONFIRMED_KINDS, DECIDED_KINDS, RETURNED, SlaLevel, sla_level

MATERIAL_REQUIRED = 'required'
MATERIAL_SATISFIED = 'satisfied'  # a listed material the departments already hold (零材料)
MATERIAL_VERIFIED = 'verified'  # department data a 秒批 rule checked (not a listed material)
MATERIAL_PREPARED = 'prepared'  # a relative (亲情代办) said it is ready, and the citizen confirmed


@dataclass(frozen=True)
class CaseView:
    case: Case
    service: ServiceItem
    nodes: list[CaseNode]
    materials: list[CaseMaterial]
    departments: dict[int, str]
    certificates: list[Certificate]
    consent_missing: bool = False

    @property
    def id(self) -> int:
        return self.case.id or 0

    @property
    def code(self) -> str:
        """The case's tracking code (/track/{code} opens it with the citizen's second factor)."""
        return self.case.code

    def department_name(self, department_id: int | None) -> str:
        return self.departments.get(department_id or 0, '')


@dataclass(frozen=True)
class PendingNode:
    """A node waiting for a department (for /review): what it is, whose case, how close to its deadline."""

    node: CaseNode
    case: Case
    service_name: str
    level: str
    materials: list[CaseMaterial]
    returned_before: bool


def node_level(node: CaseNode, now: dt.datetime, tz: ZoneInfo) -> str:
    """OK, at risk or overdue, measured in working time (nodes without a deadline are always OK)."""
    if node.started_at is None or node.due_at is None:
        return SlaLevel.OK
    return sla_level(node.started_at, node.due_at, now, tz)


async def nodes(s: AsyncSession, case_id: int) -> list[CaseNode]:
    statement = select(CaseNode).where(CaseNode.case_id == case_id).order_by(CaseNode.stage, col(CaseNode.id))
    return list((await s.execute(statement)).scalars())


async def load(s: AsyncSession, case: Case, *, consent_missing: bool = False) -> CaseView:
    service = await s.get(ServiceItem, case.service_id)
    assert service is not None and case.id is not None
    materials = (
        await s.execute(select(CaseMaterial).where(CaseMaterial.case_id == case.id).order_by(col(CaseMaterial.id)))
    ).scalars()
    issued = (
        await s.execute(select(Certificate).where(Certificate.case_id == case.id).order_by(col(Certificate.id)))
    ).scalars()
    departments = {d.id: d.name for d in (await s.execute(select(Department))).scalars() if d.id is not None}
    return CaseView(case, service, await nodes(s, case.id), list(materials), departments, list(issued), consent_missing)


async def for_ticket(s: AsyncSession, ticket_id: int) -> list[CaseView]:
    statement = select(Case).where(Case.ticket_id == ticket_id).order_by(col(Case.id))
    return [await load(s, case) for case in (await s.execute(statement)).scalars()]


async def pending(
    s: AsyncSession, hall_id: int, department_id: int | None, *, now: dt.datetime, tz: ZoneInfo
) -> list[PendingNode]:
    """Active nodes a department decides or confirms, by deadline (department None: every department)."""
    statement = (
        select(CaseNode, Case, ServiceItem)
        .join(Case, col(Case.id) == CaseNode.case_id)
        .join(ServiceItem, col(ServiceItem.id) == Case.service_id)
        .where(
            Case.hall_id == hall_id,
            CaseNode.status == ACTIVE,
            col(CaseNode.kind).in_(DECIDED_KINDS + CONFIRMED_KINDS),
        )
        .order_by(col(CaseNode.due_at), col(CaseNode.id))
    )
    if department_id is not None:
        statement = statement.where(CaseNode.department_id == department_id)
    rows = (await s.execute(statement)).all()
    case_ids = {case.id for _, case, _ in rows}
    materials: dict[int, list[CaseMaterial]] = {}
    returned: set[tuple[int, str]] = set()
    if case_ids:
        for material in (
            await s.execute(select(CaseMaterial).where(col(CaseMaterial.case_id).in_(case_ids)))
        ).scalars():
            materials.setdefault(material.case_id, []).append(material)
        earlier = select(CaseNode).where(col(CaseNode.case_id).in_(case_ids), CaseNode.status == RETURNED)
        returned = {(old.case_id, old.name) for old in (await s.execute(earlier)).scalars()}
    return [
        PendingNode(
            node=node,
            case=case,
            service_name=service.name,
            level=node_level(node, now, tz),
            materials=materials.get(case.id or 0, []),
            returned_before=(node.case_id, node.name) in returned,
        )
        for node, case, service in rows
    ]
