"""智能导服: answers come from the catalogue alone, with the words that matched; nothing fitting hands over.

The default seed's catalogue is written as the seed loader writes it, and the assistant is asked through its
service, as the API, /guide and the kiosk ask it. The question set (tests/assistant_questions.yaml) measures it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlmodel import select

from app.db import Database
from app.models import Department, ServiceItem
from app.services.assistant import MAX_QUESTION_CHARS, QUESTIONS_PER_ADDRESS, AssistantService, Reply
from app.services.errors import Invalid
from app.services.guide import GuideService
from app.services.limits import TooManyRequests
from app.services.principal import Principal
from app.services.uow import unit_of_work
from app.settings import Settings
from seed import SeedReport, loader, read_seed
from seed.schema import SeedError, read_vocabulary
from tests.callers import deps_for

QUESTIONS = Path(__file__).with_name('assistant_questions.yaml')
TOP1_TARGET = 0.90
REFUSAL_TARGET = 0.90


@pytest.fixture
async def assistant(sqlite_db: Database, settings: Settings) -> AssistantService:
    async with unit_of_work(sqlite_db) as uow:
        upsert = loader._Upsert(uow.session, SeedReport())
        seed = read_seed('default')
        await loader._services(upsert, seed.services, await loader._departments(upsert, seed.departments))
    deps = deps_for(sqlite_db, settings=settings)
    service = AssistantService(deps, guide=GuideService(deps, live=lambda: None), vocabulary=read_vocabulary('default'))
    await service.rebuild()
    return service


def _addresses() -> Iterator[str]:
    """A fresh address per question: the per-address limit is tested on its own."""
    n = 0
    while True:
        n += 1
        yield f'10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}'


async def _ask(assistant: AssistantService, question: str, address: str = '198.51.100.7') -> Reply:
    return await assistant.ask(question, caller=Principal.anonymous(address))


async def test_a_colloquial_question_finds_its_service_with_the_words_that_matched(
    assistant: AssistantService,
) -> None:
    reply = await _ask(assistant, '开奶茶店要办什么')
    assert not reply.handoff
    assert reply.answers[0].code == 'BIZ-INDIV'
    assert ('奶茶店', '个体工商户') in {(r.word, r.term) for r in reply.answers[0].why}
    card = await _ask(assistant, '社保卡丢了怎么办')
    assert card.answers[0].code == 'SI-CARD'
    assert card.answers[0].answers == {'reason': 'lost'}  # the kiosk question its words answer


async def test_the_matter_is_what_the_question_names_last_and_a_mere_context_names_none(
    assistant: AssistantService,
) -> None:
    assert (await _ask(assistant, '个体户能开发票吗')).answers[0].code == 'TAX-INVOICE'  # not 个体户's BIZ-INDIV
    assert (await _ask(assistant, '扯证需要户口本吗')).answers[0].code == 'MARRIAGE'  # 户口本 is asked for
    lost_phone = await _ask(assistant, '手机丢了怎么办')  # 丢了 says how, not what: a person answers
    assert lost_phone.handoff and lost_phone.answers == ()
    shop = await _ask(assistant, '想开一家卖凉皮的店')  # the pattern 开*店, with words nobody listed
    assert shop.answers[0].code == 'BIZ-INDIV'
    assert ('开一家卖凉皮的店', '个体工商户') in {(r.word, r.term) for r in shop.answers[0].why}


async def test_the_answer_carries_the_personalised_guide(assistant: AssistantService) -> None:
    reply = await _ask(assistant, '社保卡坏了刷不了')
    shown = await assistant.guide(reply.answers[0])
    assert shown.checklist.answers == {'reason': 'damaged'}
    assert [item.name for item in shown.checklist.required] == ['本人身份证', '损坏的原社保卡']
    assert shown.stages  # the steps as cases run them


async def test_answers_only_name_services_of_the_catalogue(assistant: AssistantService) -> None:
    async with assistant.db.read_session() as s:
        codes = set((await s.execute(select(ServiceItem.code))).scalars())
    for question in ('房子', '公积金', '老人', '证明', '登记'):
        reply = await _ask(assistant, question)
        assert {a.code for a in reply.answers} <= codes
        assert len(reply.answers) <= 3


async def test_a_matter_handled_elsewhere_hands_over_with_the_phone_and_where_to_go(
    assistant: AssistantService,
) -> None:
    reply = await _ask(assistant, '护照过期了怎么办')
    assert reply.handoff and reply.answers == ()
    assert reply.phone == '12345' and reply.elsewhere == '出入境管理部门'
    unknown = await _ask(assistant, '食堂几点开饭')
    assert unknown.handoff and unknown.answers == () and unknown.elsewhere == ''


@pytest.mark.parametrize('question', ['', '   ', '房' * (MAX_QUESTION_CHARS + 1)])
async def test_an_empty_or_overlong_question_is_refused_and_counts_nothing(
    assistant: AssistantService, question: str
) -> None:
    with pytest.raises(Invalid) as refused:
        await _ask(assistant, question)
    assert refused.value.code in ('assistant_question_empty', 'assistant_question_too_long')
    assert await assistant.limits.count(QUESTIONS_PER_ADDRESS, '198.51.100.7') == 0


async def test_more_questions_than_the_limit_from_one_address_are_refused(assistant: AssistantService) -> None:
    for _ in range(QUESTIONS_PER_ADDRESS.max):
        await _ask(assistant, '社保卡丢了', address='203.0.113.9')
    with pytest.raises(TooManyRequests) as refused:
        await _ask(assistant, '社保卡丢了', address='203.0.113.9')
    assert refused.value.code == 'assistant_limited'
    assert (await _ask(assistant, '社保卡丢了', address='203.0.113.10')).answers  # another address still asks


async def test_a_rebuild_finds_what_the_catalogue_now_says(assistant: AssistantService) -> None:
    async with unit_of_work(assistant.db) as uow:
        service = (await uow.session.execute(select(ServiceItem).where(ServiceItem.code == 'RE-QUERY'))).scalar_one()
        service.description = '游艇、帆船的登记资料也在这里查询。'
    assert (await _ask(assistant, '游艇帆船')).handoff  # the index is the catalogue as last built
    await assistant.rebuild()
    assert (await _ask(assistant, '游艇帆船')).answers[0].code == 'RE-QUERY'


async def test_the_assistant_and_the_guide_read_the_same_catalogue_in_the_same_order(
    assistant: AssistantService,
) -> None:
    guide = assistant.guide_service

    async def both() -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
        told = [(s.code, s.name, s.department) for s in await assistant.catalogue()]
        listed = [(e.code, e.name, e.department.name) for e in await guide.catalogue()]
        return told, listed

    told, listed = await both()
    assert told == listed and len(told) == len(read_seed('default').services)
    async with unit_of_work(assistant.db) as uow:
        first = (await uow.session.execute(select(Department).order_by(Department.id))).scalars().first()
        assert first is not None and first.id is not None
        uow.session.add(ServiceItem(code='AAA-YACHT', name='游艇登记', ticket_prefix='Y', department_id=first.id))
    told, listed = await both()  # neither keeps rows of its own: a change shows in both at the next read
    assert told == listed and told[0] == ('AAA-YACHT', '游艇登记', first.name)


async def test_the_question_set_covers_every_service_and_meets_the_targets(assistant: AssistantService) -> None:
    questions = yaml.safe_load(QUESTIONS.read_text(encoding='utf-8'))
    in_scope: dict[str, list[str]] = questions['in_scope']
    out_of_scope: list[str] = questions['out_of_scope']
    assert set(in_scope) == {s.code for s in read_seed('default').services}  # every service of the seed
    assert sum(len(v) for v in in_scope.values()) >= 150 and len(out_of_scope) >= 30
    assert min(len(v) for v in in_scope.values()) >= 5
    addresses = _addresses()
    top1 = 0
    for code, asked in in_scope.items():
        for question in asked:
            reply = await _ask(assistant, question, next(addresses))
            top1 += bool(reply.answers) and reply.answers[0].code == code
    refused = 0
    for question in out_of_scope:
        refused += (await _ask(assistant, question, next(addresses))).handoff
    total = sum(len(v) for v in in_scope.values())
    assert top1 / total >= TOP1_TARGET, f'top-1 {top1}/{total}'
    assert refused / len(out_of_scope) >= REFUSAL_TARGET, f'refused {refused}/{len(out_of_scope)}'


def test_a_bad_vocabulary_is_named_by_file_and_line_and_a_missing_one_is_empty(tmp_path: Path) -> None:
    assert read_vocabulary(str(tmp_path)).synonyms == []
    (tmp_path / 'assistant.yaml').write_text("phone: '12345'\nsynonyms:\n  - {say: [], means: [户籍]}\n")
    with pytest.raises(SeedError) as refused:
        read_vocabulary(str(tmp_path))
    assert 'assistant.yaml:3: synonyms > entry #1 > say' in str(refused.value)
