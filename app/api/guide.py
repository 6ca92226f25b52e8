"""The service guide over JSON (no login): the catalogue, and one service's guide for given answers.

The answers are the query string itself (`?property_type=second_hand`): each key a question of the
service, each value one of its options; anything else is refused by the checklist rule (400).
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from app.api.deps import RuntimeDep
from app.services.guide import CatalogueEntry, DayWaits, Guide, GuideService, Stage
from app.services.materials import Need, Question

router = APIRouter()


class ServiceListItem(BaseModel):
    code: str
    name: str
    name_en: str
    department: str  # the department's code
    department_name: str
    description: str

    @classmethod
    def of(cls, entry: CatalogueEntry) -> ServiceListItem:
        return cls(
            code=entry.code,
            name=entry.name,
            name_en=entry.name_en,
            department=entry.department.code,
            department_name=entry.department.name,
            description=entry.description,
        )


class OptionOut(BaseModel):
    value: str
    label: str
    label_en: str


class QuestionOut(BaseModel):
    code: str
    text: str
    text_en: str
    options: list[OptionOut]
    answer: str | None  # the answer given in this request

    @classmethod
    def of(cls, question: Question, answers: dict[str, str]) -> QuestionOut:
        options = [OptionOut(value=o.value, label=o.label, label_en=o.label_en) for o in question.options]
        return cls(
            code=question.code,
            text=question.text,
            text_en=question.text_en,
            options=options,
            answer=answers.get(question.code),
        )


class MaterialOut(BaseModel):
    name: str
    name_en: str
    need: Need  # required, or depends (an unanswered question decides)
    because: list[str]  # the answers that require it (or would)
    department_data: bool  # 零材料: department data can stand in for it, with the citizen's consent


class StepOut(BaseModel):
    kind: str
    name: str
    department: str
    department_name: str
    sla_days: int | None
    sla_hours: float | None
    instant: bool  # 秒批
    instant_rule: str
    zero_materials: bool  # 零材料
    certificate: str | None


class StageOut(BaseModel):
    stage: int
    parallel: bool
    steps: list[StepOut]

    @classmethod
    def of(cls, stage: Stage) -> StageOut:
        return cls(
            stage=stage.number,
            parallel=stage.parallel,
            steps=[
                StepOut(
                    kind=s.kind,
                    name=s.name,
                    department=s.department.code,
                    department_name=s.department.name,
                    sla_days=s.sla_days,
                    sla_hours=s.sla_hours,
                    instant=s.instant,
                    instant_rule=s.instant_rule,
                    zero_materials=s.zero_materials,
                    certificate=s.certificate,
                )
                for s in stage.steps
            ],
        )


class HourOut(BaseModel):
    start: dt.datetime
    expected_arrivals: float
    wait_minutes: float
    quiet: bool
    book_at: dt.datetime | None  # its first booking slot not yet begun (null: none left to book)


class DayOut(BaseModel):
    day: dt.date
    hours: list[HourOut]

    @classmethod
    def of(cls, day: DayWaits) -> DayOut:
        return cls(
            day=day.day,
            hours=[
                HourOut(
                    start=h.start,
                    expected_arrivals=h.arrivals,
                    wait_minutes=h.wait_minutes,
                    quiet=h.quiet,
                    book_at=h.book_at,
                )
                for h in day.hours
            ],
        )


class PeriodOut(BaseModel):
    start: str  # HH:MM, hall time
    end: str
    days: list[int]  # ISO weekdays (1 = Monday); empty: every day the hall opens


class WindowOut(BaseModel):
    number: int
    name: str
    hours: list[PeriodOut]  # empty: the hall's opening hours


class GuideOut(BaseModel):
    service: ServiceListItem
    description: str
    questions: list[QuestionOut]
    checklist: list[MaterialOut]
    complete: bool  # every question answered: the checklist is exactly what to bring
    steps: list[StageOut]
    best_times: list[DayOut]
    hall_open: bool  # the hall issues numbers now
    live_wait_minutes: float | None
    windows: list[WindowOut]  # the windows serving it, with their own hours

    @classmethod
    def of(cls, guide: Guide, waits: tuple[DayWaits, ...]) -> GuideOut:
        answers = guide.checklist.answers
        return cls(
            service=ServiceListItem.of(guide.entry),
            description=guide.entry.description,
            questions=[QuestionOut.of(q, answers) for q in guide.questions],
            checklist=[
                MaterialOut(
                    name=i.name,
                    name_en=i.name_en,
                    need=i.need,
                    because=list(i.because),
                    department_data=i.name in guide.exempt,
                )
                for i in guide.checklist.items
            ],
            complete=guide.checklist.complete,
            steps=[StageOut.of(stage) for stage in guide.stages],
            best_times=[DayOut.of(day) for day in waits],
            hall_open=guide.hall_open,
            live_wait_minutes=guide.live_wait_minutes,
            windows=[
                WindowOut(
                    number=w.number,
                    name=w.name,
                    hours=[PeriodOut(start=p.start, end=p.end, days=list(p.days)) for p in w.hours],
                )
                for w in guide.windows
            ],
        )


def _guide(rt: RuntimeDep) -> GuideService:
    assert rt.guide is not None, 'the composition root builds the guide'
    return rt.guide


@router.get('/services', response_model=list[ServiceListItem], tags=['guide'])
async def services(rt: RuntimeDep, q: str = Query(default='', max_length=200)) -> list[ServiceListItem]:
    """The service catalogue (办事指南), optionally searched: `q` matches names (zh/en), codes and descriptions,
    name hits first. No login."""
    return [ServiceListItem.of(entry) for entry in await _guide(rt).search(q)]


@router.get('/services/{code}/guide', response_model=GuideOut, tags=['guide'])
async def service_guide(code: str, request: Request, rt: RuntimeDep) -> GuideOut:
    """One service: description, questions, the checklist for the answers given as query parameters
    (`?property_type=second_hand`), the workflow's steps (流程模拟), the expected wait per opening hour for the
    coming days with the quietest hours marked, and the live wait of a number taken now. No login."""
    service = _guide(rt)
    shown = await service.guide(code, dict(request.query_params))
    return GuideOut.of(shown, await service.expected_waits(shown.service_id))
