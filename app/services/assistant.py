"""智能导服: a citizen asks in their own words, the assistant names the catalogue's services that fit and why.

Offline and in memory: the index (app/services/assistant_index.py) is built from the catalogue in the database
at start-up and again after every saved configuration change (the composition root wires both). Answers only
ever name services of the catalogue; what to bring, the steps, today's wait and the best time come from the
guide (`GuideService.guide`), the same rules /guide and the kiosk use, personalised by the kiosk questions the
words already answer (社保卡丢了 -> 丢失). When nothing fits, the reply says so and hands over to a person:
呼叫人工 at a kiosk, the hall's phone elsewhere. No login; questions are never stored (only counted per address,
like every public request that costs work).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

from app.services import materials
from app.services.assistant_index import AssistantIndex, Reason, Segmenter, ServiceText, vocabulary_words
from app.services.assistant_vocabulary import Vocabulary
from app.services.deps import Deps
from app.services.errors import Invalid
from app.services.guide import DayWaits, Guide, GuideService, read_catalogue
from app.services.limits import Limit
from app.services.principal import Principal
from app.services.uow import Service

MAX_QUESTION_CHARS = 100  # a question, not an essay: longer input is a mistake or an attack
QUESTIONS_PER_ADDRESS = Limit('assistant:address', 30, dt.timedelta(minutes=1), 'assistant_limited')


@dataclass(frozen=True)
class Answer:
    code: str
    name: str
    name_en: str
    score: float
    why: tuple[Reason, ...]
    answers: dict[str, str]  # kiosk questions the words answered: the checklist starts from them


@dataclass(frozen=True)
class Reply:
    question: str
    answers: tuple[Answer, ...]
    handoff: bool  # nothing fits well: offer a person (呼叫人工, the phone)
    phone: str | None
    phone_label: str
    phone_label_en: str
    elsewhere: str  # where a matter this hall does not handle is handled ('' when unknown or not asked)
    elsewhere_en: str


class AssistantService(Service):
    """One per process, built by the composition root; `rebuild` follows HallConfigChanged."""

    def __init__(self, deps: Deps, *, guide: GuideService, vocabulary: Vocabulary) -> None:
        super().__init__(deps)
        self.guide_service = guide
        self.vocabulary = vocabulary
        self._segmenter: Segmenter | None = None
        self._index: AssistantIndex | None = None
        self._names: dict[str, tuple[str, str]] = {}
        self._first: asyncio.Task[None] | None = None
        # The index is built on a thread of its own, not the event loop's default executor: a thread cannot be
        # cancelled, and a loop closing (a stopped app, each test's) waits for its default executor's threads, so
        # a jieba load still running at stop held every shutdown for seconds (17 s in a loaded test run).
        self._builder = ThreadPoolExecutor(max_workers=1, thread_name_prefix='assistant-index')

    def start(self) -> None:
        """Build the index in the background: the app serves at once, the first question waits for it."""
        self._first = asyncio.get_running_loop().create_task(self.rebuild(), name='assistant.index')

    async def stop(self) -> None:
        if self._first is not None and not self._first.done():
            self._first.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._first
        self._builder.shutdown(wait=False, cancel_futures=True)  # a build under way ends on its own, unawaited

    async def rebuild(self) -> None:
        """Read the catalogue and index it off the event loop (jieba's dictionary loads once, ~1 s)."""
        services = await self.catalogue()
        loop = asyncio.get_running_loop()
        if self._segmenter is None:
            words = vocabulary_words(self.vocabulary)
            build = partial(Segmenter, words, cache_dir=self.settings.var_dir / 'cache')
            self._segmenter = await loop.run_in_executor(self._builder, build)
        self._index = await loop.run_in_executor(
            self._builder, AssistantIndex, services, self.vocabulary, self._segmenter
        )
        self._names = {s.code: (s.name, s.name_en) for s in services}

    async def ask(self, question: str, *, caller: Principal) -> Reply:
        """The services that fit the question, best first (at most three), or a hand-over to a person."""
        text = question.strip()
        if len(text) > MAX_QUESTION_CHARS:
            raise Invalid('assistant_question_too_long', limit=MAX_QUESTION_CHARS)
        if not text:
            raise Invalid('assistant_question_empty')
        await self.limits.hit(QUESTIONS_PER_ADDRESS, caller.address)
        if self._index is None and self._first is not None and not self._first.done():
            await asyncio.shield(self._first)  # a question that goes away does not stop the build
        if self._index is None:
            await self.rebuild()
        assert self._index is not None
        ranking = self._index.rank(text)
        answers = tuple(
            Answer(hit.code, *self._names[hit.code], hit.score, hit.why, hit.answers) for hit in ranking.hits
        )
        away = ranking.elsewhere
        vocabulary = self.vocabulary
        return Reply(
            question=text,
            answers=answers,
            handoff=not answers,
            phone=vocabulary.phone,
            phone_label=vocabulary.phone_label,
            phone_label_en=vocabulary.phone_label_en,
            elsewhere=away.where if away else '',
            elsewhere_en=away.where_en if away else '',
        )

    async def guide(self, answer: Answer) -> Guide:
        """The answer's service as /guide shows it: checklist for the answered questions, steps, waits."""
        return await self.guide_service.guide(answer.code, answer.answers)

    async def expected_waits(self, shown: Guide) -> tuple[DayWaits, ...]:
        """The answer's coming days' waits, for its quiet hours (slow on a new hall hour: drawn after the rest)."""
        return await self.guide_service.expected_waits(shown.service_id)

    async def catalogue(self) -> list[ServiceText]:
        """The guide's catalogue (`guide.read_catalogue`) as the index reads it: same services, same order."""
        rows = await read_catalogue(self.db)
        return [
            ServiceText(
                code=service.code,
                name=service.name,
                name_en=service.name_en,
                description=service.description,
                department=department.name,
                department_en=department.name_en,
                materials=tuple(str(m.get('name', '')) for m in service.materials or []),
                materials_en=tuple(str(m.get('name_en', '')) for m in service.materials or []),
                questions=tuple(materials.questions(service)),
            )
            for service, department in rows
        ]
