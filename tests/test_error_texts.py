"""Domain errors speak from one registry: every raise names a text that exists, with the parameters it uses,
and the API answers in the hall's language."""

from __future__ import annotations

import ast
import datetime as dt
import string
from pathlib import Path

import pytest

from app.models.security import ConsentPurpose
from app.services import errors
from app.services.consent import consent_required
from app.services.error_texts import ERROR_TEXTS
from app.services.errors import Conflict, DomainError, Invalid, NotFound, StorageUnavailable
from app.services.identity import parse_id_number
from app.storage import Failure
from tests.apphost import running_app

ROOT = Path(__file__).resolve().parents[1]
ERROR_TYPES = {
    name for name, value in vars(errors).items() if isinstance(value, type) and issubclass(value, DomainError)
}


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _raises() -> list[tuple[str, str, set[str]]]:
    """(where, text key, keyword names) of every domain error built from the registry in app/."""
    found = []
    for path in sorted((ROOT / 'app').rglob('*.py')):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ERROR_TYPES):
                continue
            if len(node.args) != 1:
                continue  # a run-time message passed whole
            keywords = {k.arg: k.value for k in node.keywords if k.arg}
            text = keywords.pop('text', None)
            if isinstance(text, ast.Constant):
                key = text.value
            elif text is None and isinstance(node.args[0], ast.Constant):
                key = node.args[0].value
            else:
                continue  # a code or text chosen at run time: test_texts_picked_at_run_time_exist_for_every_case
            found.append((f'{path.relative_to(ROOT)}:{node.lineno}', key, set(keywords)))
    return found


def test_every_raise_names_a_registered_text_and_gives_each_of_its_parameters() -> None:
    raises = _raises()
    assert len(raises) > 100  # the scan sees the services' raises
    for where, key, given in raises:
        assert key in ERROR_TEXTS, f'{where}: no text {key!r} in app/services/error_texts.py'
        zh, en = ERROR_TEXTS[key]
        assert _fields(zh) | _fields(en) <= given, f'{where}: {key!r} needs {_fields(zh) | _fields(en) - given}'


def _named_in_code() -> tuple[set[str], set[str]]:
    """Every string constant in app/ (a text key picked from a table or an enum) and every f-string's constant
    start (a family of keys, 'consent_required.' + purpose)."""
    names: set[str] = set()
    families: set[str] = set()
    for path in sorted((ROOT / 'app').rglob('*.py')):
        if path.name == 'error_texts.py':
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.add(node.value)
            elif isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
                families.add(str(node.values[0].value))
    return names, families


def test_every_registered_text_is_used_and_has_both_languages() -> None:
    names, families = _named_in_code()
    used = {key for _, key, _ in _raises()} | (set(ERROR_TEXTS) & names)
    used |= {key for key in ERROR_TEXTS if any(key.startswith(f) for f in families if f.endswith('.'))}
    assert set(ERROR_TEXTS) - used == set()
    assert all(zh.strip() and en.strip() and zh != en for zh, en in ERROR_TEXTS.values())


def test_an_error_renders_chinese_first_or_english_alone() -> None:
    error = Conflict('ticket_not_waiting', number='A007')
    assert error.render('zh-CN') == error.message == 'A007 当前不在等候中 / ticket is not waiting'
    assert error.render('en') == 'ticket is not waiting'
    assert (error.code, error.status, error.params) == ('ticket_not_waiting', 409, {'number': 'A007'})


def test_a_run_time_message_keeps_its_two_halves() -> None:
    error = Invalid('invalid_id_number', '校验位不正确 / the check digit is wrong')
    assert error.render('zh-CN') == '校验位不正确 / the check digit is wrong'
    assert error.render('en') == 'the check digit is wrong'


def test_an_unregistered_text_is_a_programming_error_at_once() -> None:
    with pytest.raises(KeyError, match='no_such_text'):
        NotFound('no_such_text')


@pytest.mark.parametrize(
    ('lang', 'expected'), [('en', 'unknown service'), ('zh-CN', "没有事项编码 'NOPE' / unknown service")]
)
def test_the_api_answers_in_the_halls_language(tmp_path: Path, lang: str, expected: str) -> None:
    with running_app(tmp_path, extra_env={'HALL_LANG': lang}) as (app, _), app.client() as client:
        response = client.post('/api/tickets', json={'service_code': 'NOPE'})
    assert response.status_code == 404, response.text
    assert response.json() == {'code': 'unknown_service', 'message': expected}


def test_texts_picked_at_run_time_exist_for_every_case() -> None:
    for purpose in ConsentPurpose:
        assert consent_required(purpose).render('en')
    for failure in Failure:
        assert StorageUnavailable(failure.value).render('en')
    for raw, reason in (
        ('1101051990030', 'must have 18 characters'),
        ('11010519900307X21X', 'invalid characters'),
        ('110105199003071234', 'checksum is wrong'),
    ):
        with pytest.raises(Invalid) as refused:
            parse_id_number(raw, today=dt.date(2026, 12, 4))
        assert reason in refused.value.render('en') and refused.value.code == 'invalid_id_number'


def test_every_rate_limit_has_its_words() -> None:
    names = [
        node.args[0].value
        for path in sorted((ROOT / 'app').rglob('*.py'))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == 'Limit' and node.args
        if isinstance(node.args[0], ast.Constant)
    ]
    assert len(names) >= 10
    for name in names:
        assert f'limit.{name}' in ERROR_TEXTS, name
        assert _fields(ERROR_TEXTS[f'limit.{name}'][0]) == {'minutes'}
