"""The personalised checklist: unconditional items, items the answers require, and items still undecided."""

from __future__ import annotations

import itertools
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from app.services import materials
from app.services.errors import Invalid
from app.services.materials import Need

SERVICES = yaml.safe_load((Path(__file__).parent.parent / 'seed' / 'default' / 'services.yaml').read_text())


def service(code: str) -> Any:
    raw = next(s for s in SERVICES if s['code'] == code)
    return SimpleNamespace(materials=raw.get('materials', []), questions=raw.get('questions', []))


def names(checklist: materials.Checklist, need: Need | None = None) -> list[str]:
    return [item.name for item in checklist.items if need is None or item.need == need]


def test_without_answers_conditional_items_are_listed_as_depending_on_the_answer() -> None:
    checklist = materials.checklist(service('RE-TRANSFER'))
    assert names(checklist, Need.REQUIRED) == ['买卖双方身份证', '不动产登记申请书', '完税凭证']
    depends = {item.name: item.because for item in checklist.depends}
    assert depends == {'购房合同备案': ('新房',), '原不动产权证书': ('二手房',)}
    assert [q.code for q in checklist.unanswered] == ['property_type'] and not checklist.complete


@pytest.mark.parametrize(
    ('answer', 'needed', 'not_needed'),
    [('new', '购房合同备案', '原不动产权证书'), ('second_hand', '原不动产权证书', '购房合同备案')],
)
def test_new_or_second_hand_home_changes_the_list(answer: str, needed: str, not_needed: str) -> None:
    checklist = materials.checklist(service('RE-TRANSFER'), {'property_type': answer})
    assert needed in names(checklist, Need.REQUIRED) and not_needed not in names(checklist)
    assert checklist.complete and not checklist.depends
    assert next(i for i in checklist.items if i.name == needed).because_en[0] in {'New home', 'Second-hand home'}


def test_household_registration_local_or_not() -> None:
    local = materials.checklist(service('HUKOU-IN'), {'hukou_local': 'yes'})
    moving_in = materials.checklist(service('HUKOU-IN'), {'hukou_local': 'no'})
    assert '本人户口簿' in names(local) and '户口迁移证' not in names(local)
    assert '户口迁移证' in names(moving_in) and '本人户口簿' not in names(moving_in)


def test_yaml_booleans_count_as_the_words_the_seed_meant() -> None:
    odd = SimpleNamespace(
        questions=[
            {'code': 'q', 'text': '?', 'options': [{'value': True, 'label': '是'}, {'value': 'no', 'label': '否'}]}
        ],
        materials=[{'name': 'A', 'condition': {'q': True}}],
    )
    assert names(materials.checklist(odd, {'q': 'yes'})) == ['A']
    assert names(materials.checklist(odd, {'q': True})) == ['A']
    assert names(materials.checklist(odd, {'q': 'no'})) == []


def test_a_service_without_questions_is_complete_at_once() -> None:
    checklist = materials.checklist(service('RE-QUERY'))
    assert checklist.complete and names(checklist, Need.REQUIRED) == ['查询人身份证']


def test_materials_with_two_conditions_need_both_answers() -> None:
    two = SimpleNamespace(
        questions=[
            {'code': 'a', 'text': 'A?', 'options': [{'value': 'x', 'label': 'X'}, {'value': 'y', 'label': 'Y'}]},
            {'code': 'b', 'text': 'B?', 'options': [{'value': 'x', 'label': 'X'}, {'value': 'y', 'label': 'Y'}]},
        ],
        materials=[{'name': 'both', 'condition': {'a': 'x', 'b': 'y'}}],
    )
    assert materials.checklist(two, {'a': 'x'}).items[0].need == Need.DEPENDS
    assert materials.checklist(two, {'a': 'x', 'b': 'y'}).items[0].need == Need.REQUIRED
    assert materials.checklist(two, {'a': 'y'}).items == ()


@pytest.mark.parametrize(
    ('answers', 'code'),
    [({'nope': 'new'}, 'unknown_question'), ({'property_type': 'castle'}, 'invalid_answer')],
)
def test_answers_outside_the_catalogue_are_refused(answers: dict[str, str], code: str) -> None:
    with pytest.raises(Invalid) as error:
        materials.checklist(service('RE-TRANSFER'), answers)
    assert error.value.code == code


def test_stored_answers_that_no_longer_fit_are_dropped_not_fatal() -> None:
    stale = {'property_type': 'castle', 'removed_question': 'x', 'hukou': 'y'}
    assert materials.known_answers(service('RE-TRANSFER'), stale | {'property_type': 'new'}) == {'property_type': 'new'}
    assert materials.known_answers(service('RE-TRANSFER'), stale) == {}


def test_answer_labels_follow_the_question_order() -> None:
    labels = materials.answer_labels(service('RE-TRANSFER'), {'property_type': 'second_hand'})
    assert [(q.code, o.label) for q, o in labels] == [('property_type', '二手房')]


@pytest.mark.parametrize('raw', SERVICES, ids=[s['code'] for s in SERVICES])
def test_every_seeded_answer_combination_gives_a_complete_list(raw: dict[str, Any]) -> None:
    """Each combination of answers to a seeded service leaves nothing undecided and keeps unconditional items."""
    svc = service(raw['code'])
    questions = materials.questions(svc)
    always = [m['name'] for m in raw.get('materials', []) if not m.get('condition')]
    for combination in itertools.product(*[[o.value for o in q.options] for q in questions]):
        checklist = materials.checklist(svc, dict(zip([q.code for q in questions], combination, strict=True)))
        assert checklist.complete and not checklist.depends
        assert set(always) <= set(names(checklist))
