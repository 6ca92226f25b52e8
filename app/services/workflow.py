"""A service's workflow (ServiceItem.workflow): its nodes, stages, SLAs and 秒批 rules, and how a case moves.

The seed validates workflows with these same models, so what the YAML says is what a case runs.
Nodes that share a `stage` run in parallel (一件事一次办: several departments approve at once); a
stage starts only when every node of the stage before it is finished.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, Literal, Protocol
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, model_validator

from app.services import workdays

NodeKind = Literal['accept', 'review', 'approve', 'conclude', 'certify', 'pickup', 'disburse']
SourceName = Literal['identity', 'household', 'social_insurance', 'property']

DECIDED_KINDS = ('review', 'approve')  # a reviewer approves or returns these (or a 秒批 rule approves)
CONFIRMED_KINDS = ('pickup', 'disburse')  # the department confirms these happened (领取 / 放款)
SYSTEM_KINDS = ('conclude', 'certify')  # done by the system the moment they start
DEFAULT_SLA_HOURS = 4.0

PENDING = 'pending'
ACTIVE = 'active'
APPROVED = 'approved'
DONE = 'done'
RETURNED = 'returned'
FINISHED = (APPROVED, DONE)

CASE_OPEN = 'open'
CASE_RETURNED = 'returned'
CASE_COMPLETED = 'completed'

Code = Annotated[str, StringConstraints(pattern=r'^[A-Za-z0-9_-]{1,32}$')]
RuleName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra='forbid', frozen=True)


class AutoRule(_Spec):
    """秒批: the node is approved by the system when every stated condition holds; `rule` is recorded on the node.

    `sources`: department data that must confirm the applicant (fetched with the citizen's consent).
    `answers`: kiosk answers that must match. `facts`: fields of that data, as `source.field: value`.
    """

    rule: RuleName
    description: Name
    sources: list[SourceName] = Field(default_factory=list)
    answers: dict[str, str] = Field(default_factory=dict)
    facts: dict[str, str | bool | int] = Field(default_factory=dict)

    @model_validator(mode='after')
    def _facts_name_sources(self) -> AutoRule:
        for key in self.facts:
            source, _, field = key.partition('.')
            if not field or source not in self.sources:
                raise ValueError(f'fact {key!r} must be "<source>.<field>" of a source listed in sources')
        return self


class NodeSpec(_Spec):
    stage: int = Field(ge=0, le=20)
    kind: NodeKind
    name: Name
    department: Code | None = None  # None: the service's own department
    sla_hours: float | None = Field(default=None, gt=0, le=2000)
    sla_days: int | None = Field(default=None, ge=0, le=365)
    auto: AutoRule | None = None
    certificate: Name | None = None  # for kind certify: the e-certificate issued (电子证照)

    @model_validator(mode='after')
    def _consistent(self) -> NodeSpec:
        if self.sla_hours is not None and self.sla_days is not None:
            raise ValueError('give sla_hours or sla_days, not both')
        if self.auto is not None and self.kind not in DECIDED_KINDS:
            raise ValueError('an auto rule (秒批) only fits review or approve nodes')
        if (self.kind == 'certify') != (self.certificate is not None):
            raise ValueError('a certify node names its certificate, and only a certify node does')
        return self


WORKFLOW = TypeAdapter(list[NodeSpec])


def check_workflow(nodes: Sequence[NodeSpec]) -> None:
    """Stages run 0, 1, 2, ... without gaps; stage 0 is the window's 受理 (accept) alone."""
    if not nodes:
        return
    stages = sorted({node.stage for node in nodes})
    if stages != list(range(len(stages))):
        raise ValueError(f'stages must be numbered 0, 1, 2, ... without gaps (found {stages})')
    first = [node for node in nodes if node.stage == 0]
    if len(first) != 1 or first[0].kind != 'accept':
        raise ValueError('stage 0 must be one accept (受理) node')
    if any(node.kind == 'accept' for node in nodes if node.stage > 0):
        raise ValueError('accept (受理) belongs to stage 0 only')
    names = [(node.stage, node.name) for node in nodes]
    if len(names) != len(set(names)):
        raise ValueError('node names must be unique within a stage')


def parse_workflow(raw: Iterable[Mapping[str, Any]]) -> list[NodeSpec]:
    nodes = WORKFLOW.validate_python(list(raw))
    check_workflow(nodes)
    return nodes


def default_workflow(service_name: str, sla_days: int) -> list[NodeSpec]:
    """For a service without its own workflow: 即办件 (sla_days 0) are accepted and concluded at the window."""
    nodes = [NodeSpec(stage=0, kind='accept', name='受理', sla_hours=1)]
    if sla_days > 0:
        nodes.append(NodeSpec(stage=1, kind='approve', name=f'{service_name}审批', sla_days=sla_days))
    nodes.append(NodeSpec(stage=len(nodes), kind='conclude', name='办结', sla_hours=1))
    return nodes


def node_due(spec: NodeSpec, start: dt.datetime, tz: ZoneInfo) -> dt.datetime | None:
    """The node's deadline in working time; system nodes get none (they finish the moment they start)."""
    if spec.kind in SYSTEM_KINDS or spec.kind == 'accept':
        return None
    if spec.sla_days is not None:
        return workdays.close_of_working_days(start, spec.sla_days, tz)
    return workdays.add_working_hours(start, spec.sla_hours or DEFAULT_SLA_HOURS, tz)


class NodeLike(Protocol):
    id: int | None
    stage: int
    name: str
    status: str


def _groups(nodes: Iterable[NodeLike], stage: int) -> dict[str, list[NodeLike]]:
    """A stage's nodes by name: a returned node and the retry added for it form one group."""
    groups: dict[str, list[NodeLike]] = defaultdict(list)
    for node in sorted((n for n in nodes if n.stage == stage), key=lambda n: n.id or 0):
        groups[node.name].append(node)
    return groups


def stage_finished(nodes: Iterable[NodeLike], stage: int) -> bool:
    """Every node of the stage is finished (a returned one only once its retry is); all must pass to move on."""
    groups = _groups(nodes, stage)
    return bool(groups) and all(group[-1].status in FINISHED for group in groups.values())


def current_stage(nodes: Sequence[NodeLike]) -> int | None:
    """The first stage not finished yet (None when every stage is)."""
    for stage in sorted({node.stage for node in nodes}):
        if not stage_finished(nodes, stage):
            return stage
    return None


def to_retry(nodes: Sequence[NodeLike], stage: int) -> list[NodeLike]:
    """The returned nodes of a stage that still wait for a retry (the newest of their group is returned)."""
    return [group[-1] for group in _groups(nodes, stage).values() if group[-1].status == RETURNED]


def rule_holds(rule: AutoRule, *, answers: Mapping[str, Any], confirmed: Mapping[str, Mapping[str, Any]]) -> bool:
    """Does every stated condition of a 秒批 rule hold? `confirmed`: department data per source (consented)."""
    if any(source not in confirmed for source in rule.sources):
        return False
    if any(str(answers.get(code, '')) != value for code, value in rule.answers.items()):
        return False
    for key, expected in rule.facts.items():
        source, _, field = key.partition('.')
        if confirmed[source].get(field) != expected:
            return False
    return True


class SlaLevel:
    """How close a running node is to its deadline (the sweep warns at AT_RISK and again at OVERDUE)."""

    OK = 'ok'
    AT_RISK = 'at_risk'
    OVERDUE = 'overdue'


def sla_level(
    started: dt.datetime, due: dt.datetime, now: dt.datetime, tz: ZoneInfo, *, warn_fraction: float = 0.2
) -> str:
    """At risk when no more than `warn_fraction` of the node's working time is left; overdue after the deadline."""
    if now >= due:
        return SlaLevel.OVERDUE
    total = workdays.working_seconds_between(started, due, tz)
    left = workdays.working_seconds_between(now, due, tz)
    if total <= 0 or left <= warn_fraction * total:
        return SlaLevel.AT_RISK
    return SlaLevel.OK
