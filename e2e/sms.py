"""The citizen's phone in browser tests: the code the hall texted, read from the app's SMS outbox file.

In development and tests the SMS gateway records each text in var/sms-outbox.jsonl (number masked);
a browser test reads the newest one-time code there, as the citizen reads it on their phone.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.apphost import AppProcess

CODE = re.compile(r'验证码为(\d{6})')


def outbox(app: AppProcess) -> Path:
    return app.tmp_dir / 'var' / 'sms-outbox.jsonl'


def texts(app: AppProcess) -> list[dict[str, str]]:
    path = outbox(app)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding='utf-8').splitlines() if line.strip()]


def texted_code(app: AppProcess, *, after: int, timeout: float = 15.0) -> str:
    """The one-time code in the first text written after the first `after` lines (waits for it to arrive)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for text in texts(app)[after:]:
            found = CODE.search(text['text'])
            if found:
                return found.group(1)
        time.sleep(0.1)
    raise AssertionError(f'no one-time code texted within {timeout} s: {texts(app)[after:]}')


def verify_on_phone(phone: Page, app: AppProcess) -> None:
    """On an open /track page: ask for the code, read it from the texts, type it; the person's sections open."""
    before = len(texts(app))
    phone.get_by_test_id('track-send-code').click()
    expect(phone.get_by_test_id('track-sent')).to_contain_text('验证码已发送')
    phone.get_by_test_id('track-code').fill(texted_code(app, after=before))
    phone.get_by_test_id('track-verify').click()
    expect(phone.get_by_test_id('track-verified')).to_be_visible()
