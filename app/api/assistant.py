"""智能导服 over JSON (no login): a citizen's question in, the catalogue's services that fit (and why) out.

`handoff: true` means nothing fits well: a client offers a person (the hall's `phone`) instead of guessing.
Each answer's `answers` are the service's kiosk questions the words already answer: pass them to
`GET /api/services/{code}/guide` for the personalised checklist, steps, today's wait and the best time.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from app.api.callers import address_of
from app.api.deps import RuntimeDep
from app.services.assistant import Answer, AssistantService, Reply
from app.services.principal import Principal

router = APIRouter()


class ReasonOut(BaseModel):
    word: str  # the citizen's word
    term: str  # the catalogue's word it reached (the same word, or through the hall's synonym table)
    field: str  # name / description / materials / questions / department


class AnswerOut(BaseModel):
    service_code: str
    name: str
    name_en: str
    score: float  # BM25 relevance; answers below the calibrated threshold are never returned
    why: list[ReasonOut]
    answers: dict[str, str]  # kiosk question code -> option value, as the question's words answer them

    @classmethod
    def of(cls, answer: Answer) -> AnswerOut:
        return cls(
            service_code=answer.code,
            name=answer.name,
            name_en=answer.name_en,
            score=answer.score,
            why=[ReasonOut(word=r.word, term=r.term, field=r.field) for r in answer.why],
            answers=answer.answers,
        )


class AssistantOut(BaseModel):
    answers: list[AnswerOut]
    handoff: bool  # nothing fits well: offer a person
    phone: str | None  # the hall's phone for a person's help (assistant.yaml)
    elsewhere: str  # where a matter this hall does not handle is handled, when the hall says so

    @classmethod
    def of(cls, reply: Reply) -> AssistantOut:
        return cls(
            answers=[AnswerOut.of(a) for a in reply.answers],
            handoff=reply.handoff,
            phone=reply.phone,
            elsewhere=reply.elsewhere,
        )


def _assistant(rt: RuntimeDep) -> AssistantService:
    assert rt.assistant is not None, 'the composition root builds the assistant'
    return rt.assistant


@router.get('/assistant', response_model=AssistantOut, tags=['guide'])
async def ask(request: Request, rt: RuntimeDep, q: str = '') -> AssistantOut:
    """Ask in your own words (`q`, at most 100 characters): the services that fit, best first, with the words
    that matched. No login; 30 questions a minute per address."""
    caller = Principal.anonymous(address_of(request, rt.settings.trusted_proxies))
    return AssistantOut.of(await _assistant(rt).ask(q, caller=caller))
