"""/me/login in NiceGUI's simulated browser: a phone, the texted code, then the cookie through the hand-over."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.responses import RedirectResponse
from nicegui.testing import User
from starlette.requests import Request

from app.api.citizen import CITIZEN_COOKIE
from app.services.principal import Principal
from app.settings import get_settings
from pages.citizen_session import citizen_of, require_citizen
from tests.bare_request import get_request
from tests.citizen_login import citizen_signed_in, texted_sign_in_code
from tests.factories import SmallHall
from tests.running import ready, root

PHONE = '13812345678'
PATIENT = 40  # retries of 0.1 s
LANDING = '/track/not-a-real-code'  # a page that opens for anyone: where `next` sends the signed-in citizen


@pytest.fixture
def phone_hall(ui_hall: SmallHall, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SmallHall:
    """The small hall, its texts recorded under the test's own folder (var/sms-outbox.jsonl)."""
    monkeypatch.setenv('VAR_DIR', str(tmp_path / 'var'))
    get_settings.cache_clear()
    return ui_hall


async def test_a_citizen_signs_in_with_the_texted_code_and_lands_on_next_with_the_cookie(
    phone_hall: SmallHall, user: User
) -> None:
    await user.open(f'/me/login?next={LANDING}')
    await user.should_see(marker='citizen-login')
    user.find(marker='citizen-phone').type('+86 138 1234 5678')
    user.find(marker='citizen-send-code').click()
    await user.should_see(marker='citizen-code-sent', content='138****5678', retries=PATIENT)
    await user.should_see('60秒后可重新获取')  # the button cools down
    user.find(marker='citizen-code').type(await texted_sign_in_code())
    user.find(marker='citizen-sign-in').click()
    await user.should_see(marker='track-error', retries=PATIENT)  # the hand-over set the cookie and went on
    token = user.http_client.cookies.get(CITIZEN_COOKIE)
    assert token is not None and token.startswith('c.')
    assert (await (await ready()).accounts.authenticate(token)).account_id is not None


async def test_a_wrong_code_is_refused_on_the_page_and_signs_in_nobody(phone_hall: SmallHall, user: User) -> None:
    await user.open('/me/login')
    user.find(marker='citizen-phone').type(PHONE)
    user.find(marker='citizen-send-code').click()
    await user.should_see(marker='citizen-code-sent', content='138****5678', retries=PATIENT)
    right = await texted_sign_in_code()
    user.find(marker='citizen-code').type(f'{(int(right) + 1) % 1_000_000:06d}')
    user.find(marker='citizen-sign-in').click()
    await user.should_see('验证码不正确或已失效', retries=PATIENT)
    await user.should_see(marker='citizen-login')
    assert user.http_client.cookies.get(CITIZEN_COOKIE) is None


async def test_a_number_that_is_no_mobile_is_refused_before_any_text(phone_hall: SmallHall, user: User) -> None:
    await user.open('/me/login')
    user.find(marker='citizen-phone').type('12345')
    user.find(marker='citizen-send-code').click()
    await user.should_see('请输入11位手机号', retries=PATIENT)
    assert not (await ready()).journey.sms.sent


async def test_a_signed_in_citizen_is_sent_on_and_an_ended_session_asks_again(
    phone_hall: SmallHall, user: User
) -> None:
    await citizen_signed_in(user, PHONE)
    await user.open(f'/me/login?next={LANDING}')
    await user.should_see(marker='track-error')
    rt = await ready()
    await rt.accounts.sign_out(user.http_client.cookies[CITIZEN_COOKIE], Principal.anonymous())
    await user.open('/me/login?reason=expired')
    await user.should_see(marker='citizen-login-reason', content='登录已失效')


def request_for(path: str, query: str = '', token: str | None = None) -> Request:
    return get_request(path, query, cookie=(CITIZEN_COOKIE, token) if token else None)


async def test_a_citizen_page_sends_an_anonymous_or_ended_visitor_to_sign_in_and_back(
    phone_hall: SmallHall, user: User
) -> None:
    await user.open('/me/login')  # the app is up
    started = root().started
    anonymous = await require_citizen(request_for('/me/bookings', 'day=2026-12-01'), started)
    assert isinstance(anonymous, RedirectResponse)
    assert anonymous.headers['location'] == '/me/login?next=/me/bookings%3Fday%3D2026-12-01'
    me = await citizen_signed_in(user, PHONE)
    token = user.http_client.cookies[CITIZEN_COOKIE]
    signed_in = await require_citizen(request_for('/me/bookings', token=token), started)
    assert isinstance(signed_in, Principal) and signed_in.account_id == me.account_id
    assert signed_in.address == '10.3.0.9'
    await (await ready()).accounts.sign_out(token, Principal.anonymous())
    ended = await require_citizen(request_for('/me/bookings', token=token), started)
    assert isinstance(ended, RedirectResponse) and ended.headers['location'].endswith('&reason=expired')
    forged = await citizen_of(request_for('/me', token='c.' + 'A' * 43), started)
    assert forged.account_id is None and forged.kind == 'anonymous'
