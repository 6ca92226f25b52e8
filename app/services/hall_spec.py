"""The hall description's shape and its checks: one definition for the seed folder and the live editor.

The seed loader reads a folder of YAML files into these specs, the admin console edits one entry and an
import reads a zip of the same files; all three check the whole description with `check` before anything
is written. Every problem is reported as `file: entry: problem`, so whoever edits the YAML finds the line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
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
from app.models.people import STAFF_ROLES
from app.services.workflow import NodeSpec, SourceName, check_workflow

REQUIRED_PROMPTS = ('long_wait_comfort', 'device_usage_high', 'off_peak_citizen', 'off_peak_manager')
_YAML_BOOLEAN_HINT = ' (YAML reads unquoted yes/no/on/off as true/false: quote the value)'

Code = Annotated[str, StringConstraints(pattern=r'^[A-Za-z0-9_-]{1,32}$')]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class SeedError(ValueError):
    """The description is unusable; the message names the file and the entry at fault."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra='forbid', frozen=True)


class Prompt(_Spec):
    zh: Text
    en: Text


class ZoneSpec(_Spec):
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
    code: Code
    name: Name
    name_en: Name
    width: float = Field(gt=0)
    height: float = Field(gt=0)
    zones: list[ZoneSpec] = Field(min_length=1)
    prompts: dict[str, Prompt]


class DepartmentSpec(_Spec):
    code: Code
    name: Name
    name_en: Name


class OptionSpec(_Spec):
    value: Code
    label: Name
    label_en: Name


class QuestionSpec(_Spec):
    code: Code
    text: Text
    text_en: Text
    options: list[OptionSpec] = Field(min_length=2)


class MaterialSpec(_Spec):
    name: Name
    name_en: Name
    condition: dict[str, str] = Field(default_factory=dict)
    source: SourceName | None = None  # 零材料: the department data that can stand in for it (with consent)


class ServiceSpec(_Spec):
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


class WindowServiceSpec(_Spec):
    code: Code
    priority: int = Field(ge=1, le=9)


class WindowSpec(_Spec):
    number: int = Field(ge=1)
    name: Name
    zone: Code
    x: float
    y: float
    state: WindowState
    services: list[WindowServiceSpec] = Field(min_length=1)


class StaffSpec(_Spec):
    username: Annotated[str, StringConstraints(pattern=r'^[a-z][a-z0-9_]{1,63}$')]
    display_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    role: Role
    window: int | None = None
    department: Code | None = None

    @field_validator('role')
    @classmethod
    def _staff_role(cls, role: Role) -> Role:
        if role not in STAFF_ROLES:
            raise ValueError(f'must be one of {", ".join(STAFF_ROLES)}')
        return role


class DeviceSpec(_Spec):
    code: Code
    kind: DeviceKind
    name: Name
    zone: Code
    x: float
    y: float
    attached_to: Code | None = None
    window: int | None = None


@dataclass(frozen=True)
class Seed:
    """A whole hall description; the live configuration an admin exports or imports has no staff (`[]`)."""

    hall: HallSpec
    departments: list[DepartmentSpec]
    services: list[ServiceSpec]
    windows: list[WindowSpec]
    staff: list[StaffSpec]
    devices: list[DeviceSpec]


def parse(file: str, text: str, shape: Any) -> Any:
    """One file's YAML text as `shape` (a spec or a list of specs); SeedError names the file and entry."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise SeedError(f'{file}: not valid YAML: {" ".join(str(error).split())}') from None
    return validate(file, raw, shape)


def validate(file: str, raw: Any, shape: Any) -> Any:
    """Already-parsed data (a form's fields, a YAML document) as `shape`; SeedError names the file and entry."""
    try:
        return TypeAdapter(shape).validate_python(raw)
    except ValidationError as error:
        first = error.errors()[0]
        hint = _YAML_BOOLEAN_HINT if isinstance(first.get('input'), bool) else ''
        raise SeedError(f'{file}: {_location(raw, first["loc"])}: {first["msg"]}{hint}') from None


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


def check(seed: Seed) -> None:
    """Cross-check the whole description: codes unique, references resolved, every service served."""
    _check_hall(seed.hall)
    _check_services(seed)
    _check_windows(seed)
    _check_staff(seed)
    _check_devices(seed)


_T = TypeVar('_T')


def _unique(file: str, items: Iterable[_T], key: Callable[[_T], Any], what: str) -> None:
    seen: set[Any] = set()
    for item in items:
        value = key(item)
        if value in seen:
            raise SeedError(f'{file}: duplicate {what} {value!r}')
        seen.add(value)


def _check_hall(hall: HallSpec) -> None:
    _unique('hall.yaml', hall.zones, lambda z: z.code, 'zone code')
    for index, zone in enumerate(hall.zones):
        if zone.x + zone.width > hall.width or zone.y + zone.height > hall.height:
            raise SeedError(f'hall.yaml: zone {zone.code}: lies partly outside the hall')
        for other in hall.zones[index + 1 :]:
            if zone.overlaps(other):
                raise SeedError(f'hall.yaml: zone {zone.code}: overlaps zone {other.code}')
    missing = [key for key in REQUIRED_PROMPTS if key not in hall.prompts]
    if missing:
        raise SeedError(f'hall.yaml: prompts: missing {", ".join(missing)}')


def _check_services(seed: Seed) -> None:
    _unique('departments.yaml', seed.departments, lambda d: d.code, 'department code')
    _unique('services.yaml', seed.services, lambda s: s.code, 'service code')
    departments = {department.code for department in seed.departments}
    owners: dict[str, str] = {}
    for service in seed.services:
        where = f'services.yaml: service {service.code}'
        if service.department not in departments:
            raise SeedError(f'{where}: department {service.department!r} is not in departments.yaml')
        if service.ticket_prefix in owners:
            owner = owners[service.ticket_prefix]
            raise SeedError(f'{where}: ticket_prefix {service.ticket_prefix!r} is already used by {owner}')
        owners[service.ticket_prefix] = service.code
        _check_materials(where, service)
        _check_workflow(where, service, departments)


def _check_materials(where: str, service: ServiceSpec) -> None:
    _unique(where, service.questions, lambda q: q.code, 'question code')
    answers = {question.code: {option.value for option in question.options} for question in service.questions}
    for material in service.materials:
        for code, answer in material.condition.items():
            if code not in answers:
                raise SeedError(f'{where}: material {material.name}: condition on unknown question {code!r}')
            if answer not in answers[code]:
                raise SeedError(f'{where}: material {material.name}: {answer!r} is not an option of question {code!r}')


def _check_workflow(where: str, service: ServiceSpec, departments: set[str]) -> None:
    try:
        check_workflow(service.workflow)
    except ValueError as error:
        raise SeedError(f'{where}: workflow: {error}') from None
    answers = {question.code: {option.value for option in question.options} for question in service.questions}
    for node in service.workflow:
        at = f'{where}: workflow node {node.name}'
        if node.department is not None and node.department not in departments:
            raise SeedError(f'{at}: department {node.department!r} is not in departments.yaml')
        for code, answer in (node.auto.answers if node.auto else {}).items():
            if answer not in answers.get(code, set()):
                raise SeedError(f'{at}: {code}={answer!r} is not an option of a kiosk question')


def _check_windows(seed: Seed) -> None:
    _unique('windows.yaml', seed.windows, lambda w: w.number, 'window number')
    zones = {zone.code: zone for zone in seed.hall.zones}
    services = {service.code for service in seed.services}
    for window in seed.windows:
        where = f'windows.yaml: window {window.number}'
        _check_place(where, zones, window.zone, window.x, window.y)
        _unique(where, window.services, lambda s: s.code, 'service')
        for served in window.services:
            if served.code not in services:
                raise SeedError(f'{where}: service {served.code!r} is not in services.yaml')
    served_codes = {served.code for window in seed.windows for served in window.services}
    unserved = [service.code for service in seed.services if service.code not in served_codes]
    if unserved:
        raise SeedError(f'windows.yaml: no window serves {", ".join(unserved)}')


def _check_place(where: str, zones: dict[str, ZoneSpec], zone_code: str, x: float, y: float) -> None:
    zone = zones.get(zone_code)
    if zone is None:
        raise SeedError(f'{where}: zone {zone_code!r} is not a zone in hall.yaml')
    if not zone.contains(x, y):
        raise SeedError(f'{where}: ({x}, {y}) lies outside its zone {zone_code}')


def _check_staff(seed: Seed) -> None:
    _unique('staff.yaml', seed.staff, lambda s: s.username, 'username')
    windows = {window.number for window in seed.windows}
    departments = {department.code for department in seed.departments}
    for person in seed.staff:
        where = f'staff.yaml: {person.username}'
        if person.role == Role.STAFF and person.window is None:
            raise SeedError(f'{where}: role staff needs a window')
        if person.role == Role.REVIEWER and person.department is None:
            raise SeedError(f'{where}: role reviewer needs a department')
        if person.window is not None and person.window not in windows:
            raise SeedError(f'{where}: window {person.window} is not in windows.yaml')
        if person.department is not None and person.department not in departments:
            raise SeedError(f'{where}: department {person.department!r} is not in departments.yaml')


def _check_devices(seed: Seed) -> None:
    _unique('devices.yaml', seed.devices, lambda d: d.code, 'device code')
    zones = {zone.code: zone for zone in seed.hall.zones}
    codes = {device.code for device in seed.devices}
    windows = {window.number for window in seed.windows}
    for device in seed.devices:
        where = f'devices.yaml: device {device.code}'
        _check_place(where, zones, device.zone, device.x, device.y)
        if device.attached_to is not None and device.attached_to not in codes - {device.code}:
            raise SeedError(f'{where}: attached_to {device.attached_to!r} names no other device in this file')
        if device.window is not None and device.window not in windows:
            raise SeedError(f'{where}: window {device.window} is not in windows.yaml')
