"""长辈模式 and the kiosk's voice in chromium: the toggle is remembered, ?elder sets it, the sizes meet the
工信部 适老化 numbers, and the kiosk says each step and the ticket in Mandarin.

Speech is recorded, not played: an init script puts a recorder in place of window.speechSynthesis.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.apphost import AppProcess, PreparedDatabase, running_app
from tests.kioskpairing import pair_page

ELDER_CLASS = re.compile(r'(^|\s)elder(\s|$)')
SPEECH_RECORDER = """
window.__spoken = [];
const recorder = {
  speaking: false, pending: false, paused: false,
  speak(utterance) { window.__spoken.push({ text: utterance.text, lang: utterance.lang }); },
  cancel() { window.__spoken.push({ cancel: true }); },
  getVoices() { return []; }, pause() {}, resume() {},
  addEventListener() {}, removeEventListener() {},
};
Object.defineProperty(window, 'speechSynthesis', { value: recorder, configurable: true });
"""

# Every visible text in the page's main part: its font size and line height; every control: its box.
MEASURE = """(root) => {
  const seen = [];
  for (const el of document.querySelectorAll(root + ' *')) {
    const rect = el.getBoundingClientRect();
    if (!rect.width || !rect.height) continue;
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.closest('.q-icon, .material-icons, [aria-hidden=true]')) continue;  // icons are not text
    const style = getComputedStyle(el);
    const size = parseFloat(style.fontSize);
    const line = style.lineHeight === 'normal' ? size * 1.2 : parseFloat(style.lineHeight);
    seen.push({ text: el.textContent.trim().slice(0, 30), size, line });
  }
  const targets = [...document.querySelectorAll(
    root + ' button, ' + root + ' a, ' + root + ' .q-radio, [data-testid=elder-toggle], [data-testid=elder-read]'
  )].filter((el) => el.getBoundingClientRect().width > 0)
    .map((el) => ({ text: el.textContent.trim().slice(0, 30), width: el.getBoundingClientRect().width,
                    height: el.getBoundingClientRect().height }));
  return { texts: seen, targets };
}"""


@pytest.fixture(scope='module')
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    with running_app(tmp_path_factory.mktemp('elder'), seed='default') as (app, prepared):
        yield app, prepared


def is_elder(page: Page) -> bool:
    return bool(page.evaluate("document.body.classList.contains('elder')"))


def toggle_pressed(page: Page, pressed: bool) -> None:
    expect(page.get_by_test_id('elder-toggle')).to_have_attribute('aria-pressed', 'true' if pressed else 'false')
    assert is_elder(page) is pressed


def test_the_elder_toggle_is_remembered_across_reloads_and_pages(
    page: Page, seeded: tuple[AppProcess, PreparedDatabase]
) -> None:
    app, _ = seeded
    page.set_viewport_size({'width': 360, 'height': 800})
    page.goto(f'{app.base_url}/guide')
    toggle = page.get_by_test_id('elder-toggle')
    expect(toggle).to_contain_text('长辈模式')
    toggle_pressed(page, False)
    toggle.click()
    toggle_pressed(page, True)
    page.reload()
    toggle_pressed(page, True)
    for path in ('/display', '/guide/RE-TRANSFER', '/track/not-a-real-code', '/me/login'):
        page.goto(f'{app.base_url}{path}')
        toggle_pressed(page, True)
    page.get_by_test_id('elder-toggle').click()
    toggle_pressed(page, False)
    page.goto(f'{app.base_url}/guide')
    toggle_pressed(page, False)


def test_a_link_with_elder_1_or_0_sets_the_mode_and_it_stays(
    page: Page, seeded: tuple[AppProcess, PreparedDatabase]
) -> None:
    app, _ = seeded
    page.goto(f'{app.base_url}/guide?elder=1')
    toggle_pressed(page, True)
    page.goto(f'{app.base_url}/guide/RE-TRANSFER')
    toggle_pressed(page, True)
    expect(page.get_by_test_id('guide-error')).to_have_count(0)  # the switch is not taken as an answer
    page.goto(f'{app.base_url}/guide?elder=0')
    toggle_pressed(page, False)
    page.goto(f'{app.base_url}/guide')
    toggle_pressed(page, False)


@pytest.mark.parametrize('width', [360, 1366])
def test_in_elder_mode_text_is_18px_or_more_with_line_height_and_targets_48px(
    page: Page, seeded: tuple[AppProcess, PreparedDatabase], width: int
) -> None:
    app, _ = seeded
    page.set_viewport_size({'width': width, 'height': 900})
    page.goto(f'{app.base_url}/guide/RE-TRANSFER?elder=1')
    expect(page.get_by_test_id('guide-materials')).to_be_visible()
    found: dict[str, Any] = page.evaluate(MEASURE, '.elder-scope')
    assert len(found['texts']) > 30
    small = [t for t in found['texts'] if t['size'] < 18]
    assert small == []
    cramped = [t for t in found['texts'] if t['line'] < 1.3 * t['size'] - 0.5]
    assert cramped == []
    tiny = [t for t in found['targets'] if t['height'] < 48 or t['width'] < 48]
    assert tiny == []
    assert page.get_by_test_id('elder-read').is_visible()
    page.goto(f'{app.base_url}/guide/RE-TRANSFER?elder=0')
    expect(page.get_by_test_id('elder-read')).to_be_hidden()


def test_the_read_aloud_button_reads_the_page_in_mandarin(
    page: Page, seeded: tuple[AppProcess, PreparedDatabase]
) -> None:
    app, _ = seeded
    page.add_init_script(SPEECH_RECORDER)
    page.goto(f'{app.base_url}/guide/RE-TRANSFER?elder=1')
    expect(page.get_by_test_id('guide-materials')).to_be_visible()
    page.get_by_test_id('elder-read').click()
    spoken = [s for s in page.evaluate('window.__spoken') if 'text' in s]
    texts = [s['text'] for s in spoken]
    assert '不动产转移登记' in texts and '买卖双方身份证' in texts
    assert '长辈模式' not in texts  # the page's own content, not the toolbar
    assert {s['lang'] for s in spoken} == {'zh-CN'}


def test_the_kiosk_speaks_each_step_and_the_ticket_and_remembers_its_elder_mode(
    page: Page, seeded: tuple[AppProcess, PreparedDatabase]
) -> None:
    app, prepared = seeded
    page.add_init_script(SPEECH_RECORDER)
    page.set_viewport_size({'width': 1080, 'height': 1920})
    pair_page(page, app.base_url, prepared.url, 'K01')

    def said(text: str) -> None:
        page.wait_for_function(
            'text => window.__spoken.some(s => s.text && s.text.includes(text))', arg=text, timeout=10_000
        )

    said('请刷身份证')
    page.get_by_test_id('kiosk-start-manual').click()
    said('请选择要办理的事项')
    page.get_by_test_id('kiosk-service-HUKOU-IN').click()
    page.get_by_test_id('kiosk-answer-hukou_local-no').click()
    said('户口迁移证')  # the materials the answer requires
    page.get_by_test_id('kiosk-take').click()
    expect(page.get_by_test_id('kiosk-ticket-number')).to_have_text('H001')
    said('您的号码是 H001')
    said('下一位就是您')  # the first number of the day
    spoken: list[dict[str, Any]] = page.evaluate('window.__spoken')
    assert {s['lang'] for s in spoken if 'text' in s} == {'zh-CN'}
    before = len(spoken)
    assert any('cancel' in s for s in spoken)  # each new step cuts the last one short
    page.get_by_test_id('kiosk-repeat').click()  # 再听一遍
    again = page.evaluate('window.__spoken')[before:]
    assert any('您的号码是 H001' in s.get('text', '') for s in again)

    page.get_by_test_id('kiosk-ticket-done').click()
    root = page.get_by_test_id('kiosk-root')
    expect(root).not_to_have_class(ELDER_CLASS)
    page.get_by_test_id('elder-toggle').click()
    expect(root).to_have_class(ELDER_CLASS)
    page.reload()
    expect(page.get_by_test_id('kiosk-root')).to_have_class(ELDER_CLASS)  # remembered by this kiosk
    toggle_pressed(page, True)
    size = page.evaluate("parseFloat(getComputedStyle(document.querySelector('[data-testid=kiosk-root]')).fontSize)")
    assert size >= 24
