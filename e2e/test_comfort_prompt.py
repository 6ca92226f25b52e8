"""The long-wait comfort prompt reaches the citizen's /track page by push: the real app, chromium on a phone.

Half an hour cannot pass in a test, so the ticket's taken_at is moved back in the app's own database while
the page is open; the app's one sweep (a periodic job) then pushes the hall's words to the open page, and a
page opened afterwards shows them at once.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.apphost import AppProcess, PreparedDatabase
from tests.security.routes import sqlite_path

PROMPT = {
    'zh': '您已等候超过30分钟，辛苦了！可到右侧休息区喝杯水、歇一歇。',
    'en': 'You have been waiting for over 30 minutes. Feel free to rest in the Rest Area.',
}
SHOTS = Path('/tmp/shots-messages')
SWEEP_SECONDS = 30  # app/jobs.py: the comfort sweep's period


def execute(url: str, statement: str, *values: object) -> None:
    with closing(sqlite3.connect(sqlite_path(url))) as db, db:
        db.execute(statement, values)


def test_a_ticket_waiting_thirty_minutes_sees_the_halls_comfort_prompt_pushed_to_its_track_page(
    page: Page, live_hall: tuple[AppProcess, PreparedDatabase]
) -> None:
    app, prepared = live_hall
    execute(prepared.url, 'UPDATE hall SET prompts = ?', json.dumps({'long_wait_comfort': PROMPT}, ensure_ascii=False))
    with app.client() as client:
        taken = client.post('/api/tickets', json={'service_code': 'SVC-A'})
        assert taken.status_code == 201, taken.text
        code = taken.json()['code']
    page.set_viewport_size({'width': 390, 'height': 844})
    page.goto(f'{app.base_url}/track/{code}')
    expect(page.get_by_test_id('track-number')).to_be_visible()
    expect(page.get_by_test_id('track-comfort')).to_be_hidden()

    execute(prepared.url, "UPDATE ticket SET taken_at = datetime(taken_at, '-31 minutes') WHERE code = ?", code)
    expect(page.get_by_test_id('track-comfort')).to_have_text(PROMPT['zh'], timeout=(SWEEP_SECONDS + 15) * 1000)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / 'track-comfort-390.png'), full_page=True)
    assert page.evaluate('document.documentElement.scrollWidth') <= 390

    page.reload()  # opened after the 30 minutes: shown at once, no push needed
    expect(page.get_by_test_id('track-comfort')).to_have_text(PROMPT['zh'], timeout=10_000)
