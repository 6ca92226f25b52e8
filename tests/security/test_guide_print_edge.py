"""Attacker tests on a running app with the default seed: the printable guide `/guide/{code}/print` (no login).

It is plain HTML built from the catalogue and the link's answers: unknown codes are a 404 page in the
registry's words, refused answers are said as text, nothing from the URL ever becomes markup, and the page
opens no NiceGUI client (no socket to hold open for a printout).
"""

from __future__ import annotations

from collections.abc import Iterator
from html import escape
from urllib.parse import quote

import httpx
import pytest

from tests.apphost import AppProcess, PreparedDatabase, running_app

SCRIPT = '<script>alert(1)</script>'
IMAGE = '<img src=x onerror=alert(1)>'


@pytest.fixture(scope='module')
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    live: tuple[AppProcess, PreparedDatabase]
    with running_app(tmp_path_factory.mktemp('guide-print'), seed='default') as live, live[0].client() as http:
        yield http


def test_the_print_page_carries_the_checklist_steps_hours_and_a_qr_code_back_to_the_guide(
    client: httpx.Client,
) -> None:
    response = client.get('/guide/RE-TRANSFER/print', params={'property_type': 'second_hand', 'elder': '1'})
    assert response.status_code == 200 and response.headers['content-type'].startswith('text/html')
    page = response.text
    assert '<ul class="bring" data-testid="print-bring"><li>买卖双方身份证</li>' in page
    assert '原不动产权证书' in page and '购房合同备案' not in page  # the answer decided it
    assert '<li>权属核定、契税完税核验' in page and '办理时间' in page and '11号窗口' in page
    assert 'data-testid="print-qr"' in page and 'src="data:image/svg+xml;base64,' in page
    assert '/guide/RE-TRANSFER?property_type=second_hand' in page  # the QR's link keeps the answers, not the mode
    assert '@media print' in page and 'socket.io' not in page and 'nicegui' not in page.casefold()


CODES = ['NO-SUCH', 'RE-TRANSFER%00', quote(IMAGE, safe=''), '房' * 200, "RE-TRANSFER' OR '1'='1"]


@pytest.mark.parametrize('code', CODES)
def test_an_unknown_service_is_a_404_page_with_the_registrys_words_and_no_markup(
    client: httpx.Client, code: str
) -> None:
    response = client.get(f'/guide/{code}/print')
    assert response.status_code == 404
    assert '没有事项编码' in response.text
    assert IMAGE not in response.text and '<img' not in response.text


def test_answers_carrying_html_are_refused_as_text_and_the_guide_is_printed_without_them(client: httpx.Client) -> None:
    for value in (SCRIPT, IMAGE, "' OR 1=1 --"):
        response = client.get('/guide/RE-TRANSFER/print', params={'property_type': value})
        assert response.status_code == 200
        assert 'data-testid="print-error"' in response.text
        assert value not in response.text and escape(value) in response.text  # said as text, never markup
        assert '<li>买卖双方身份证</li>' in response.text
    unknown = client.get('/guide/RE-TRANSFER/print', params={SCRIPT: 'x'})
    assert unknown.status_code == 200 and SCRIPT not in unknown.text


def test_oversized_answers_are_said_refused_and_the_app_keeps_serving(client: httpx.Client) -> None:
    response = client.get('/guide/RE-TRANSFER/print', params={'property_type': 'x' * 5000})
    assert response.status_code == 200 and 'data-testid="print-error"' in response.text  # printed without them
    assert 'x' * 100 not in response.text and '<li>买卖双方身份证</li>' in response.text
    many = '&'.join(f'k{n}=v' for n in range(300))
    assert client.get(f'/guide/RE-TRANSFER/print?{many}').status_code == 200
    assert client.get('/guide/..%2F..%2Fetc%2Fpasswd/print').status_code == 404
    assert client.get('/guide/RE-TRANSFER/print').status_code == 200
