"""The hall description's shape and its checks: one definition for the seed folder and the live editor.

The seed loader reads a folder of YAML files into these specs (docs/hall-description.md), the admin console
edits one entry and an import reads a zip of the same files; all three check the whole description with
`check` before anything is written. Every problem is reported as `file:line: entry: problem` (the line from
the YAML node marks), one per line, so whoever edits the YAML finds each line at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from app.models import DeviceKind, Role, WindowState
from app.models.people import ACCOUNT_ROLES
from app.services.messages import Template
from app.services.window_hours import OpeningPeriod, check_periods
from app.services.workflow import NodeSpec, SourceName, check_workflow

REQUIRED_PROMPTS = ('long_wait_comfort', 'device_usage_high', 'off_peak_citizen', 'off_peak_manager')
_YAML_BOOLEAN_HINT = ' (YAML reads unquoted yes/no/on/off as true/false: quote the value)'

Code = Annotated[str, StringConstraints(pattern=r'^[A-Za-z0-9_-]{1,32}$')]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class SeedError(ValueError):
    """The seed is unusable; the message names the file and the entry at fault."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra='forbid', frozen=True)


class Prompt(_Spec):
    """A text the app shows, Chinese and English; {braces} are filled in at run time."""

    zh: Text
    en: Text


class ZoneSpec(_Spec):
    """A zone of the floor plan (window area, waiting area, rest area): a rectangle inside the hall."""

    code: Code
    name: Name
    name_en: Name
    x: float = Field(ge=0)
    y: float = Field(ge=0)
    width: float = Field(gt=0)
    height: float = Field(gt=0)

    def contains(self, x: float, y: float) -> bool:
        return self.x <= x <= self.x + self.width and self.y <= y <= self.y + self.height

    def overlaps(self, other: ZoneSpec) -> bool:
        """Shared edges are fine; shared area is not."""
        return (
            self.x < other.x + other.width
            and other.x < self.x + self.width
            and self.y < other.y + other.height
            and other.y < self.y + self.height
        )


class HallSpec(_Spec):
    """hall.yaml: the hall, its floor plan (origin top-left) and zones, and its prompts."""

    code: Code
    name: Name
    name_en: Name
    width: float = Field(gt=0)
    height: float = Field(gt=0)
    zones: list[ZoneSpec] = Field(min_length=1)
    prompts: dict[str, Prompt]
    sms_templates: dict[str, Code] = Field(
        default_factory=dict,
        description='The SMS provider template code (模板CODE / 模板ID) per message kind (app/services/messages.py).',
    )
    synthetic_history: bool = Field(
        default=False,
        description='Invent a year of arrivals (for the forecast) while the hall has none: for demos only.',
    )


class DepartmentSpec(_Spec):
    """A department with staff in the hall (departments.yaml)."""

    code: Code
    name: Name
    name_en: Name


class OptionSpec(_Spec):
    """One answer to a kiosk question; `value` is what conditions and 秒批 rules name."""

    value: Code
    label: Name
    label_en: Name


class QuestionSpec(_Spec):
    """A question the kiosk asks, so the checklist shows only the materials this citizen needs."""

    code: Code
    text: Text
    text_en: Text
    options: list[OptionSpec] = Field(min_length=2)


class MaterialSpec(_Spec):
    """A material on the checklist; `condition` ({question: value}) shows it only for that answer."""

    name: Name
    name_en: Name
    condition: dict[str, str] = Field(default_factory=dict)
    source: SourceName | None = None  # 零材料: the department data that can stand in for it (with consent)


class ServiceSpec(_Spec):
    """A service (事项) citizens queue for (services.yaml), with its own one-letter ticket prefix."""

    code: Code
    name: Name
    name_en: Name
    description: Text
    department: Code
    ticket_prefix: Annotated[str, StringConstraints(pattern=r'^[A-Z]$')]
    sla_days: int = Field(ge=0)
    avg_handling_minutes: float = Field(gt=0)
    queue_alert_threshold: int = Field(ge=1)
    questions: list[QuestionSpec] = Field(default_factory=list)
    materials: list[MaterialSpec] = Field(min_length=1)
    workflow: list[NodeSpec] = Field(default_factory=list)  # empty: 受理 -> 审批 -> 办结 (app/services/workflow.py)

    def row_values(self, department_id: int | None) -> dict[str, Any]:
        """The service_item row's columns, as the seed loader and the admin console both write them;
        materials always carry `condition` ({} = always needed), so readers need no special case."""
        values = self.model_dump(exclude={'department', 'questions', 'materials', 'workflow'})
        values['department_id'] = department_id
        values['materials'] = [material.model_dump() for material in self.materials]
        values['questions'] = [question.model_dump() for question in self.questions]
        values['workflow'] = [node.model_dump(exclude_none=True) for node in self.workflow]
        return values


class WindowServiceSpec(_Spec):
    """A service a window serves: priority 1 is its main service, 2 and up when no main ticket waits."""

    code: Code
    priority: int = Field(ge=1, le=9)


class WindowSpec(_Spec):
    """A window (windows.yaml); `state` is written only when the window is first created."""

    number: int = Field(ge=1)
    name: Name
    zone: Code
    x: float
    y: float
    state: WindowState
    services: list[WindowServiceSpec] = Field(min_length=1)
    hours: list[OpeningPeriod] = Field(
        default_factory=list,
        description="The window's own opening periods inside the hall's hours (none: the hall's hours).",
    )

    @field_validator('hours')
    @classmethod
    def _periods_apart(cls, hours: list[OpeningPeriod]) -> list[OpeningPeriod]:
        check_periods(hours)
        return hours


class StaffSpec(_Spec):
    """A staff account created on the first load (staff.yaml, optional); its password is printed once."""

    username: Annotated[str, StringConstraints(pattern=r'^[a-z][a-z0-9_]{1,63}$')]
    display_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    role: Role
    window: int | None = None
    department: Code | None = None

    @field_validator('role')
    @classmethod
    def _staff_role(cls, role: Role) -> Role:
        if role not in ACCOUNT_ROLES:
            raise ValueError(f'must be one of {", ".join(ACCOUNT_ROLES)}')
        return role


class DeviceSpec(_Spec):
    """A device (devices.yaml, optional); its credential comes from SECRET_KEY, never from here."""

    code: Code
    kind: DeviceKind
    name: Name
    zone: Code
    x: float
    y: float
    attached_to: Code | None = None
    window: int | None = None

    def row_values(self, zone_id: int | None, window_id: int | None) -> dict[str, Any]:
        """The device row's described columns, as the seed loader and the admin console both write them
        (the code, hall and credential are theirs to set)."""
        values = self.model_dump(include={'kind', 'name', 'x', 'y', 'attached_to'})
        return values | {'zone_id': zone_id, 'window_id': window_id}


@dataclass(frozen=True)
class Seed:
    hall: HallSpec
    departments: list[DepartmentSpec]
    services: list[ServiceSpec]
    windows: list[WindowSpec]
    staff: list[StaffSpec]
    devices: list[DeviceSpec]


class Marks:
    """Each file's YAML node tree, so a problem found in the typed specs can name its line."""

    def __init__(self) -> None:
        self.nodes: dict[str, yaml.Node | None] = {}

    def at(self, file: str, *path: int | str) -> str:
        """`file:line` of the deepest node the path reaches (pydantic's loc, or an entry's index)."""
        node = self.nodes.get(file)
        if node is None:
            return file
        line = node.start_mark.line
        for step in path:
            node = _child(node, step)
            if node is None:
                break
            line = node.start_mark.line
        return f'{file}:{line + 1}'


def _child(node: yaml.Node, step: int | str) -> yaml.Node | None:
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
        return node.value[step]
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == str(step):
                return value
    return None


def parse(file: str, text: str, shape: Any, marks: Marks | None = None, *, optional: bool = False) -> Any:
    """One file's YAML text as `shape` (a spec or a list of specs); SeedError names the file, line and entry.

    `marks` keeps the file's node tree, so `check` can name lines too; an `optional` file may be empty (`[]`).
    """
    marks = marks if marks is not None else Marks()
    try:
        marks.nodes[file] = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, 'problem_mark', None)
        where = f'{file}:{mark.line + 1}' if mark is not None else file
        problem = getattr(error, 'problem', None) or 'not valid YAML'
        raise SeedError(f'{where}: not valid YAML: {problem}') from None
    if raw is None and optional:
        return []
    return validate(file, raw, shape, marks)


def validate(file: str, raw: Any, shape: Any, marks: Marks | None = None) -> Any:
    """Already-parsed data (a form's fields, a YAML document) as `shape`; SeedError names each problem."""
    try:
        return TypeAdapter(shape).validate_python(raw)
    except ValidationError as error:
        marks = marks if marks is not None else Marks()
        raise SeedError('\n'.join(_problem(file, raw, marks, problem) for problem in error.errors())) from None


def _problem(file: str, raw: Any, marks: Marks, problem: Any) -> str:
    loc = problem['loc']
    hint = _YAML_BOOLEAN_HINT if isinstance(problem.get('input'), bool) else ''
    return f'{marks.at(file, *loc)}: {_location(raw, loc)}: {problem["msg"]}{hint}'


def _location(raw: Any, loc: tuple[int | str, ...]) -> str:
    """pydantic's (3, 'zone') as 'entry #4 (number=4) > zone', naming list entries by their key."""
    parts: list[str] = []
    node = raw
    for step in loc:
        if isinstance(step, int) and isinstance(node, list) and step < len(node):
            node = node[step]
            parts.append(f'entry #{step + 1}{_label(node)}')
        else:
            node = node.get(step) if isinstance(node, dict) else None
            parts.append(str(step))
    return ' > '.join(parts) or 'top level'


def _label(entry: Any) -> str:
    if isinstance(entry, dict):
        for key in ('code', 'number', 'username', 'value', 'name'):
            if key in entry:
                return f' ({key}={entry[key]})'
    return ''


def check(seed: Seed, marks: Marks | None = None) -> None:
    """Cross-check the whole description (codes unique, references resolved, every service served): every
    problem across the files, one per line, so one run shows them all."""
    marks = marks if marks is not None else Marks()
    problems = [
        *_check_hall(seed.hall, marks),
        *_check_services(seed, marks),
        *_check_windows(seed, marks),
        *_check_staff(seed, marks),
        *_check_devices(seed, marks),
    ]
    if problems:
        raise SeedError('\n'.join(problems))


_T = TypeVar('_T')


def _unique(where: Callable[[int], str], items: Iterable[_T], key: Callable[[_T], Any], what: str) -> Iterator[str]:
    seen: set[Any] = set()
    for index, item in enumerate(items):
        value = key(item)
        if value in seen:
            yield f'{where(index)}: duplicate {what} {value!r}'
        seen.add(value)


def _check_hall(hall: HallSpec, marks: Marks) -> Iterator[str]:
    yield from _unique(lambda i: marks.at('hall.yaml', 'zones', i), hall.zones, lambda z: z.code, 'zone code')
    for index, zone in enumerate(hall.zones):
        where = f'{marks.at("hall.yaml", "zones", index)}: zone {zone.code}'
        if zone.x + zone.width > hall.width or zone.y + zone.height > hall.height:
            yield f'{where}: lies partly outside the hall'
        for other in hall.zones[index + 1 :]:
            if zone.overlaps(other):
                yield f'{where}: overlaps zone {other.code}'
    missing = [key for key in REQUIRED_PROMPTS if key not in hall.prompts]
    if missing:
        yield f'{marks.at("hall.yaml", "prompts")}: prompts: missing {", ".join(missing)}'
    unknown = sorted(set(hall.sms_templates) - {str(kind) for kind in Template})
    if unknown:
        yield f'{marks.at("hall.yaml", "sms_templates")}: sms_templates: no message kind {", ".join(unknown)}'


def _check_services(seed: Seed, marks: Marks) -> Iterator[str]:
    yield from _unique(lambda i: marks.at('departments.yaml', i), seed.departments, lambda d: d.code, 'department code')
    yield from _unique(lambda i: marks.at('services.yaml', i), seed.services, lambda s: s.code, 'service code')
    departments = {department.code for department in seed.departments}
    owners: dict[str, str] = {}
    for index, service in enumerate(seed.services):
        where = f'{marks.at("services.yaml", index)}: service {service.code}'
        if service.department not in departments:
            yield f'{where}: department {service.department!r} is not in departments.yaml'
        if service.ticket_prefix in owners:
            owner = owners[service.ticket_prefix]
            yield f'{where}: ticket_prefix {service.ticket_prefix!r} is already used by {owner}'
        owners[service.ticket_prefix] = service.code
        yield from _check_materials(marks, index, service)
        yield from _check_workflow(marks, index, service, departments)


def _check_materials(marks: Marks, index: int, service: ServiceSpec) -> Iterator[str]:
    def at(*path: int | str) -> str:
        return f'{marks.at("services.yaml", index, *path)}: service {service.code}'

    yield from _unique(lambda i: at('questions', i), service.questions, lambda q: q.code, 'question code')
    answers = {question.code: {option.value for option in question.options} for question in service.questions}
    for number, material in enumerate(service.materials):
        for code, answer in material.condition.items():
            where = f'{at("materials", number, "condition", code)}: material {material.name}'
            if code not in answers:
                yield f'{where}: condition on unknown question {code!r}'
            elif answer not in answers[code]:
                yield f'{where}: {answer!r} is not an option of question {code!r}'


def _check_workflow(marks: Marks, index: int, service: ServiceSpec, departments: set[str]) -> Iterator[str]:
    where = f'service {service.code}'
    try:
        check_workflow(service.workflow)
    except ValueError as error:
        yield f'{marks.at("services.yaml", index, "workflow")}: {where}: workflow: {error}'
    answers = {question.code: {option.value for option in question.options} for question in service.questions}
    for number, node in enumerate(service.workflow):
        at = f'{marks.at("services.yaml", index, "workflow", number)}: {where}: workflow node {node.name}'
        if node.department is not None and node.department not in departments:
            yield f'{at}: department {node.department!r} is not in departments.yaml'
        for code, answer in (node.auto.answers if node.auto else {}).items():
            if answer not in answers.get(code, set()):
                yield f'{at}: {code}={answer!r} is not an option of a kiosk question'


def _check_windows(seed: Seed, marks: Marks) -> Iterator[str]:
    yield from _unique(lambda i: marks.at('windows.yaml', i), seed.windows, lambda w: w.number, 'window number')
    zones = {zone.code: zone for zone in seed.hall.zones}
    services = {service.code for service in seed.services}
    for index, window in enumerate(seed.windows):
        where = f'{marks.at("windows.yaml", index)}: window {window.number}'
        yield from _check_place(where, zones, window.zone, window.x, window.y)
        yield from _unique(lambda _, at=where: at, window.services, lambda s: s.code, 'service')
        for served in window.services:
            if served.code not in services:
                yield f'{where}: service {served.code!r} is not in services.yaml'
    served_codes = {served.code for window in seed.windows for served in window.services}
    for index, service in enumerate(seed.services):
        if service.code not in served_codes:
            where = marks.at('services.yaml', index)
            yield f'{where}: service {service.code}: no window in windows.yaml serves it'


def _check_place(where: str, zones: dict[str, ZoneSpec], zone_code: str, x: float, y: float) -> Iterator[str]:
    zone = zones.get(zone_code)
    if zone is None:
        yield f'{where}: zone {zone_code!r} is not a zone in hall.yaml'
    elif not zone.contains(x, y):
        yield f'{where}: ({x}, {y}) lies outside its zone {zone_code}'


def _check_staff(seed: Seed, marks: Marks) -> Iterator[str]:
    yield from _unique(lambda i: marks.at('staff.yaml', i), seed.staff, lambda s: s.username, 'username')
    windows = {window.number for window in seed.windows}
    departments = {department.code for department in seed.departments}
    for index, person in enumerate(seed.staff):
        where = f'{marks.at("staff.yaml", index)}: {person.username}'
        if person.role == Role.STAFF and person.window is None:
            yield f'{where}: role staff needs a window'
        if person.role == Role.REVIEWER and person.department is None:
            yield f'{where}: role reviewer needs a department'
        if person.window is not None and person.window not in windows:
            yield f'{where}: window {person.window} is not in windows.yaml'
        if person.department is not None and person.department not in departments:
            yield f'{where}: department {person.department!r} is not in departments.yaml'


def _check_devices(seed: Seed, marks: Marks) -> Iterator[str]:
    yield from _unique(lambda i: marks.at('devices.yaml', i), seed.devices, lambda d: d.code, 'device code')
    zones = {zone.code: zone for zone in seed.hall.zones}
    codes = {device.code for device in seed.devices}
    windows = {window.number for window in seed.windows}
    for index, device in enumerate(seed.devices):
        where = f'{marks.at("devices.yaml", index)}: device {device.code}'
        yield from _check_place(where, zones, device.zone, device.x, device.y)
        if device.attached_to is not None and device.attached_to not in codes - {device.code}:
            yield f'{where}: attached_to {device.attached_to!r} names no other device in this file'
        if device.window is not None and device.window not in windows:
            yield f'{where}: window {device.window} is not in windows.yaml'
