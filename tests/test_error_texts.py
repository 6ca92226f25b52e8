"""Domain errors speak from one registry: every raise names a text that exists, with the parameters it uses,
and the API answers in the hall's language."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest

from app.services import errors
from app.services.error_texts import ERROR_TEXTS
from app.services.errors import Conflict, DomainError, Invalid, NotFound
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
            elif isinstance(node.args[0], ast.Constant):
                key = node.args[0].value
            else:
                continue  # a code chosen at run time, without a text key: nothing to check statically
            found.append((f'{path.relative_to(ROOT)}:{node.lineno}', key, set(keywords)))
    return found


def test_every_raise_names_a_registered_text_and_gives_each_of_its_parameters() -> None:
    raises = _raises()
    assert len(raises) > 100  # the scan sees the services' raises
    for where, key, given in raises:
        assert key in ERROR_TEXTS, f'{where}: no text {key!r} in app/services/error_texts.py'
        zh, en = ERROR_TEXTS[key]
        assert _fields(zh) | _fields(en) <= given, f'{where}: {key!r} needs {_fields(zh) | _fields(en) - given}'


def test_every_registered_text_is_used_and_has_both_languages() -> None:
    used = {key for _, key, _ in _raises()}
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
