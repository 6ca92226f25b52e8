"""The material checklist of a service, personalised by a few answers (新房/二手房, 户籍 local or not).

Pure functions over the catalogue's own data (`ServiceItem.materials` and `.questions`), shared by the
kiosk (before the ticket), the window (during service) and cases (what to collect), so a citizen is
told the same list everywhere. A material whose condition hangs on an unanswered question is listed
as "depends" with the answer that would require it, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from app.services.errors import Invalid


class HasMaterials(Protocol):
    """What the checklist needs of a service (ServiceItem has it)."""

    materials: list[dict[str, Any]]
    questions: list[dict[str, Any]]


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    label_en: str


@dataclass(frozen=True)
class Question:
    code: str
    text: str
    text_en: str
    options: tuple[Option, ...]

    def option(self, value: str) -> Option | None:
        return next((o for o in self.options if o.value == value), None)


class Need(StrEnum):
    REQUIRED = 'required'
    DEPENDS = 'depends'  # an unanswered question decides


@dataclass(frozen=True)
class ChecklistItem:
    name: str
    name_en: str
    need: Need
    because: tuple[str, ...] = ()  # labels of the answers that require it (or would, for DEPENDS)
    because_en: tuple[str, ...] = ()


@dataclass(frozen=True)
class Checklist:
    items: tuple[ChecklistItem, ...]
    unanswered: tuple[Question, ...]
    answers: dict[str, str]

    @property
    def required(self) -> tuple[ChecklistItem, ...]:
        return tuple(i for i in self.items if i.need == Need.REQUIRED)

    @property
    def depends(self) -> tuple[ChecklistItem, ...]:
        return tuple(i for i in self.items if i.need == Need.DEPENDS)

    @property
    def complete(self) -> bool:
        """Every question answered: the list is exactly what to bring."""
        return not self.unanswered


def _text(value: Any) -> str:
    """YAML may hand over booleans or numbers where the seed meant text ('yes', '1')."""
    if isinstance(value, bool):
        return 'yes' if value else 'no'
    return str(value)


def questions(service: HasMaterials) -> list[Question]:
    return [
        Question(
            code=_text(q['code']),
            text=_text(q.get('text', '')),
            text_en=_text(q.get('text_en', '')),
            options=tuple(
                Option(_text(o['value']), _text(o.get('label', o['value'])), _text(o.get('label_en', '')))
                for o in q.get('options', [])
            ),
        )
        for q in service.questions or []
    ]


def clean_answers(service: HasMaterials, answers: Mapping[str, Any]) -> dict[str, str]:
    """Answers as text, each to a question of this service with one of its options; anything else is Invalid."""
    known = {q.code: q for q in questions(service)}
    cleaned: dict[str, str] = {}
    for code, raw in answers.items():
        question = known.get(code)
        if question is None:
            raise Invalid('unknown_question', code_value=code)
        value = _text(raw)
        if question.option(value) is None:
            raise Invalid('invalid_answer', text_value=question.text, value=value)
        cleaned[code] = value
    return cleaned


def known_answers(service: HasMaterials, answers: Mapping[str, Any]) -> dict[str, str]:
    """The answers that still fit the catalogue (stored answers outlive catalogue edits; the rest are dropped)."""
    known = {q.code: q for q in questions(service)}
    return {
        code: _text(value)
        for code, value in answers.items()
        if code in known and known[code].option(_text(value)) is not None
    }


def checklist(service: HasMaterials, answers: Mapping[str, Any] | None = None) -> Checklist:
    """What to bring: unconditional materials, those the answers require, and those still undecided."""
    asked = {q.code: q for q in questions(service)}
    given = clean_answers(service, answers or {})
    items: list[ChecklistItem] = []
    for material in service.materials or []:
        condition = {_text(k): _text(v) for k, v in (material.get('condition') or {}).items()}
        if any(code in given and given[code] != value for code, value in condition.items()):
            continue
        labels = [_label(asked.get(code), value) for code, value in condition.items()]
        decided = all(code in given for code in condition)
        items.append(
            ChecklistItem(
                name=_text(material.get('name', '')),
                name_en=_text(material.get('name_en', '')),
                need=Need.REQUIRED if decided else Need.DEPENDS,
                because=tuple(label[0] for label in labels),
                because_en=tuple(label[1] for label in labels),
            )
        )
    unanswered = tuple(q for code, q in asked.items() if code not in given)
    return Checklist(tuple(items), unanswered, given)


def _label(question: Question | None, value: str) -> tuple[str, str]:
    option = question.option(value) if question else None
    return (option.label, option.label_en or option.label) if option else (value, value)


def answer_labels(service: HasMaterials, answers: Mapping[str, Any]) -> list[tuple[Question, Option]]:
    """The answers as (question, chosen option), in the service's question order (for the window and cases)."""
    given = clean_answers(service, answers)
    return [(q, o) for q in questions(service) if q.code in given and (o := q.option(given[q.code])) is not None]
