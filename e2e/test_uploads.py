"""A real browser's upload passes the guards meant for others: same browser, within the element's limit.

The upload route refuses other browsers and bodies over the element's `max_file_size` (see
tests/security/test_body_limits.py); chromium's own multipart upload, with the page's cookies, must
still reach the page, for an anonymous citizen and for a logged-in member of staff alike.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from app.services.certificates import MAX_PRESENTED_BYTES
from e2e.test_security import W01, login
from tests.apphost import AppProcess, PreparedDatabase

VERIFY = '/verify/HT20260101-0000000000'


@pytest.mark.parametrize('who', ['citizen', 'staff'])
def test_the_browser_that_opened_the_page_can_upload_to_it(
    page: Page, live_hall: tuple[AppProcess, PreparedDatabase], tmp_path: Path, who: str
) -> None:
    app, _ = live_hall
    if who == 'staff':
        login(page, app.base_url, W01)
        expect(page).to_have_url(f'{app.base_url}/')
    page.goto(f'{app.base_url}{VERIFY}')
    page.wait_for_function('window.did_handshake === true && window.socket.connected')
    not_json = tmp_path / 'not-json.json'
    not_json.write_text('x' * (MAX_PRESENTED_BYTES - 100))  # near the limit: the multipart wrapping still fits
    page.locator('input[type=file]').set_input_files(not_json)
    expect(page.get_by_test_id('verify-error')).to_contain_text('not a certificate JSON file')
