"""智能导服 in chromium: asked on /guide (360 px phone) and through the kiosk's 问一问, on the default seed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.apphost import AppProcess, PreparedDatabase, running_app
from tests.kioskpairing import pair_page


@pytest.fixture
def seeded_hall(tmp_path: Path) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    with running_app(tmp_path, seed='default') as (app, prepared):
        yield app, prepared


def test_the_guide_box_answers_with_the_reason_and_the_personalised_checklist(
    page: Page, seeded_hall: tuple[AppProcess, PreparedDatabase]
) -> None:
    app, _ = seeded_hall
    page.set_viewport_size({'width': 360, 'height': 740})
    page.goto(f'{app.base_url}/guide')
    page.get_by_test_id('assistant-question').fill('社保卡丢了怎么办')
    page.get_by_test_id('assistant-ask').click()
    answer = page.get_by_test_id('assistant-answer-SI-CARD')
    expect(answer).to_be_visible()
    expect(page.get_by_test_id('assistant-why')).to_contain_text('社保卡')
    expect(page.get_by_test_id('assistant-materials')).to_contain_text('本人身份证')
    expect(page.get_by_test_id('assistant-materials')).not_to_contain_text('损坏的原社保卡')  # 丢了: lost, not damaged
    expect(page.get_by_test_id('assistant-full')).to_have_attribute('href', '/guide/SI-CARD?reason=lost')
    assert page.evaluate('document.documentElement.scrollWidth') <= 360

    page.get_by_test_id('assistant-question').fill('护照过期了怎么办')
    page.get_by_test_id('assistant-ask').click()
    expect(page.get_by_test_id('assistant-handoff')).to_contain_text('出入境')
    expect(page.get_by_test_id('assistant-call')).to_have_attribute('href', 'tel:12345')


def test_the_kiosks_question_takes_a_number_for_the_answered_service(
    page: Page, seeded_hall: tuple[AppProcess, PreparedDatabase]
) -> None:
    app, prepared = seeded_hall
    page.set_viewport_size({'width': 1080, 'height': 1920})
    pair_page(page, app.base_url, prepared.url, 'K01')
    page.get_by_test_id('kiosk-ask').click()
    page.get_by_test_id('kiosk-ask-question').fill('护照过期了怎么办')
    page.get_by_test_id('kiosk-ask-submit').click()
    expect(page.get_by_test_id('kiosk-ask-handoff')).to_contain_text('12345')
    expect(page.get_by_test_id('kiosk-ask-help')).to_be_visible()

    page.get_by_test_id('kiosk-ask-question').fill('社保卡坏了刷不了')
    page.get_by_test_id('kiosk-ask-submit').click()
    page.get_by_test_id('kiosk-ask-take-SI-CARD').click()
    expect(page.get_by_test_id('kiosk-chosen-service')).to_have_text('社保卡补换')
    expect(page.get_by_test_id('kiosk-materials')).to_contain_text('损坏的原社保卡')  # 坏了: the answer is given
    page.get_by_test_id('kiosk-take').click()
    expect(page.get_by_test_id('kiosk-ticket-number')).to_have_text(re.compile(r'^K\d{3}$'))
