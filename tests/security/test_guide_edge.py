"""Attacker tests on a running app with the default seed: the public guide API and pages (no login).

Unknown codes are 404 with the registry's words; oversized and odd query strings get a clear 4xx (never
a 500, and the app keeps answering); answers carrying HTML are refused or shown as text, never markup.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

from tests.apphost import AppProcess, PreparedDatabase, running_app
from tests.security.browser import open_page
from tests.security.routes import assert_error

SCRIPT = '<script>alert(1)</script>'
IMAGE = '<img src=x onerror=alert(1)>'


@pytest.fixture(scope='module')
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    with running_app(tmp_path_factory.mktemp('guide'), seed='default') as (app, prepared):
        yield app, prepared


@pytest.fixture
def client(live: tuple[AppProcess, PreparedDatabase]) -> Iterator[httpx.Client]:
    with live[0].client() as http:
        yield http


def test_the_catalogue_and_a_guide_need_no_login(client: httpx.Client) -> None:
    listed = client.get('/api/services')
    assert listed.status_code == 200
    assert {'code', 'name', 'name_en', 'department', 'description'} <= set(listed.json()[0])
    found = client.get('/api/services', params={'q': '二手房'}).json()
    assert [s['code'] for s in found] == ['RE-TRANSFER']
    guide = client.get('/api/services/RE-TRANSFER/guide', params={'property_type': 'second_hand'})
    assert guide.status_code == 200, guide.text
    body = guide.json()
    assert {'description', 'questions', 'checklist', 'steps', 'best_times', 'live_wait_minutes'} <= set(body)
    assert body['questions'][0]['answer'] == 'second_hand'
    assert [s['department'] for s in body['steps'][2]['steps']] == ['REALTY', 'TAX']
    assert [(w['number'], w['hours']) for w in body['windows']][:2] == [(11, []), (12, [])]


@pytest.mark.parametrize('code', ['NO-SUCH', 'RE-TRANSFER%00', quote(IMAGE, safe=''), '二手房', 'x' * 300])
def test_an_unknown_service_is_404_with_the_registrys_words(client: httpx.Client, code: str) -> None:
    body = assert_error(client.get(f'/api/services/{code}/guide'), 404, 'unknown_service')
    assert '没有事项编码' in body['message']


def test_a_path_that_climbs_out_finds_nothing(client: httpx.Client) -> None:
    assert client.get('/api/services/..%2F..%2Fetc%2Fpasswd/guide').status_code == 404


def test_answers_that_are_not_options_are_refused_and_echoed_as_json_text(client: httpx.Client) -> None:
    for value in (SCRIPT, IMAGE, "' OR 1=1 --"):
        response = client.get('/api/services/RE-TRANSFER/guide', params={'property_type': value})
        assert_error(response, 422, 'invalid_answer')  # JSON with the registry's words, never a page
    assert_error(client.get('/api/services/RE-TRANSFER/guide', params={SCRIPT: 'new'}), 422, 'unknown_question')


def test_oversized_and_odd_query_strings_get_a_clear_refusal(client: httpx.Client) -> None:
    assert_error(client.get('/api/services', params={'q': '房' * 65}), 422, 'guide_query_too_long')
    assert client.get('/api/services', params={'q': 'x' * 5000}).status_code == 422
    assert_error(
        client.get('/api/services/RE-TRANSFER/guide', params={'property_type': 'x' * 5000}),
        422,
        'guide_answer_too_long',
    )
    many = '&'.join(f'k{n}=v' for n in range(300))
    assert_error(client.get(f'/api/services/RE-TRANSFER/guide?{many}'), 422, 'unknown_question')
    for odd in ('property_type', 'property_type=&property_type=new', '%ff%fe=%00', '&&&=', 'q=' + '%' * 20):
        assert client.get(f'/api/services/RE-TRANSFER/guide?{odd}').status_code in (200, 422), odd
    huge = client.get('/api/services/RE-TRANSFER/guide?' + 'a' * 60_000)  # httpx sends at most 64 KiB of URL
    assert 400 <= huge.status_code < 500, huge.status_code
    assert client.get('/api/services').status_code == 200  # still serving


def test_html_in_page_answers_and_searches_is_shown_as_text(live: tuple[AppProcess, PreparedDatabase]) -> None:
    app, _ = live

    async def pages() -> None:
        page = await open_page(app.base_url, f'/guide/RE-TRANSFER?property_type={quote(IMAGE)}')
        error = page.elements[page.element('guide-error')]
        assert IMAGE in error['text'] and error['tag'] == 'div'
        _no_markup(page.elements, IMAGE)
        page = await open_page(app.base_url, f'/guide?q={quote(SCRIPT)}')
        assert page.elements[page.element('guide-search')]['props']['value'] == SCRIPT
        _no_markup(page.elements, SCRIPT)
        page = await open_page(app.base_url, f'/guide/{quote(IMAGE, safe="")}')
        assert IMAGE in page.elements[page.element('guide-error')]['text']
        _no_markup(page.elements, IMAGE)

    asyncio.run(pages())


def _no_markup(elements: dict[int, dict[str, object]], payload: str) -> None:
    """No element renders the payload as HTML (ui.html / ui.markdown carry it in `innerHTML`/`content`)."""
    for element in elements.values():
        props = element.get('props', {})
        assert isinstance(props, dict)
        for key in ('innerHTML', 'content'):
            assert payload not in str(props.get(key, '')), element
