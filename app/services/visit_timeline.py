"""A home visit's case: its steps as case nodes, so /me, /proxy and /track show them with the case timeline, and
the SLA sweep (app/services/sla.py) warns on the ones that run late."""

from __future__ import annotations

import datetime as dt

from app.models.cases import CaseNode
from app.services.workflow import ACTIVE, DONE, PENDING

CASE_KIND = 'home_visit'
STEPS = (
    ('accept', '受理上门申请'),
    ('schedule', '预约上门时间'),
    ('assign', '指派上门人员'),
    ('visit', '上门办理'),
    ('conclude', '办结'),
)
SCHEDULE_WITHIN_DAYS = 2  # working days to agree a slot with the citizen
CASE_WITHIN_DAYS = 5  # working days from the request to the visit, on top of the service's own time limit
NOTE_MAX = 300


def new_nodes(case_id: int) -> list[CaseNode]:
    """Every step pending, one stage each: a visit runs strictly in order."""
    return [
        CaseNode(case_id=case_id, stage=stage, kind=kind, name=name, status=PENDING)
        for stage, (kind, name) in enumerate(STEPS)
    ]


def step(nodes: list[CaseNode], kind: str) -> CaseNode:
    return next(node for node in nodes if node.kind == kind)


def start(node: CaseNode, *, now: dt.datetime, due: dt.datetime | None) -> None:
    node.status, node.started_at, node.due_at = ACTIVE, now, due


def finish(node: CaseNode, *, actor: str, note: str, now: dt.datetime) -> None:
    if node.started_at is None:
        node.started_at = now
    node.status, node.finished_at = DONE, now
    node.actor, node.note = actor[:64], note[:NOTE_MAX]
