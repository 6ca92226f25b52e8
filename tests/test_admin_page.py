"""/admin in NiceGUI's simulated browser: an admin pairs and unpairs kiosk screens."""

from __future__ import annotations

import os

import httpx
import pytest
from nicegui import core, ui
from nicegui.testing import User

from app.api.kiosk_pairing import KIOSK_COOKIE
from app.api.web_session import SESSION_COOKIE
from app.runtime import Runtime
from app.services.errors import Unauthorized
from app.services.principal import Principal
from app.settings import get_settings
from components.kiosk_ticket import qr_data_uri
from tests import totp
from tests.admin_ui import add_admin, open_admin
from tests.factories import SmallHall
from tests.kiosk_hall import BARE_KIOSK, KIOSK, prepare_ui
from tests.running import ready

PATIENT = 50


@pytest.fixture
async def admin_ui(ui_hall: SmallHall, monkeypatch: pytest.MonkeyPatch) -> SmallHall:
    """The small hall with kiosks K01 (with peripherals) and K02, and an admin account."""
    url = os.environ['DATABASE_URL']
    await prepare_ui(url)
    await add_admin(url)
    monkeypatch.setenv('HALL_SIMULATION', 'off')
    get_settings.cache_clear()
    return ui_hall


async def as_admin(user: User) -> Runtime:
    return await open_admin(user)


def kiosk_browser() -> httpx.AsyncClient:
    """Another browser: the kiosk's own screen."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(core.app), base_url='http://test')


def shown_code(user: User) -> str:
    (label,) = user.find(marker='admin-pair-code').elements
    assert isinstance(label, ui.label)
    return str(label.text)


async def test_an_admin_shows_a_code_with_its_qr_and_the_kiosk_pairs_with_it(admin_ui: SmallHall, user: User) -> None:
    await as_admin(user)
    await user.should_see(marker=f'admin-kiosk-{KIOSK}-state', content='未配对')
    await user.should_see(marker=f'admin-kiosk-{BARE_KIOSK}-state', content='未配对')
    await user.should_not_see(marker=f'admin-kiosk-{KIOSK}-revoke')
    user.find(marker=f'admin-kiosk-{KIOSK}-issue').click()
    await user.should_see(marker='admin-pair-code', retries=PATIENT)
    await user.should_see(marker='admin-pair-expiry', content='有效至')
    code = shown_code(user)
    assert len(code) == 9 and code[4] == '-'
    (qr,) = user.find(marker='admin-pair-qr').elements
    assert isinstance(qr, ui.image) and qr.source == qr_data_uri(code.replace('-', ''))  # what a scanner types
    await user.should_see(marker=f'admin-kiosk-{KIOSK}-pending', retries=PATIENT)

    async with kiosk_browser() as kiosk:
        paired = await kiosk.post('/kiosk/pair', data={'device': KIOSK, 'code': code})
        assert paired.status_code == 303 and kiosk.cookies.get(KIOSK_COOKIE)
    await user.should_see(marker=f'admin-kiosk-{KIOSK}-state', content='已配对', retries=PATIENT)  # pushed
    await user.should_see('配对于', retries=PATIENT)
    await user.should_see('由 adm01 发码')
    await user.should_not_see(marker='admin-pair-code')  # the used code's dialog closed by itself
    await user.should_see(marker=f'admin-kiosk-{BARE_KIOSK}-state', content='未配对')


async def test_an_admin_unpairs_a_screen_and_its_credential_stops(admin_ui: SmallHall, user: User) -> None:
    rt = await as_admin(user)
    user.find(marker=f'admin-kiosk-{KIOSK}-issue').click()
    await user.should_see(marker='admin-pair-code', retries=PATIENT)
    async with kiosk_browser() as kiosk:
        assert (await kiosk.post('/kiosk/pair', data={'device': KIOSK, 'code': shown_code(user)})).status_code == 303
        token = kiosk.cookies[KIOSK_COOKIE]
        await user.should_see(marker=f'admin-kiosk-{KIOSK}-revoke', retries=PATIENT)
        user.find(marker=f'admin-kiosk-{KIOSK}-revoke').click()
        await user.should_see(marker='admin-revoke-dialog', retries=PATIENT)
        user.find(marker='admin-revoke-confirm').click()
        await user.should_see(marker=f'admin-kiosk-{KIOSK}-state', content='未配对', retries=PATIENT)
        await user.should_see('已解除配对')
        with pytest.raises(Unauthorized):
            await rt.pairing.authenticate(KIOSK, token)
        assert (await kiosk.get(f'/kiosk/{KIOSK}')).status_code == 403


async def test_other_roles_are_refused_and_anonymous_sent_to_login(admin_ui: SmallHall, user: User) -> None:
    rt = await ready()
    anonymous = await user.http_client.get('/admin')
    assert anonymous.status_code == 303 and anonymous.headers['location'] == '/login?next=/admin'
    for who in (('boss', 'Manager-01-pass'), ('w01', 'Window-01-pass')):
        user.http_client.cookies.set(SESSION_COOKIE, (await totp.login(rt.auth, *who)).token)
        refused = await user.http_client.get('/admin')
        assert refused.status_code == 403 and '无权访问' in refused.text
    kiosks = await rt.pairing.kiosks(Principal.system('test'))
    assert [(kiosk.paired, kiosk.code_expires_at) for kiosk in kiosks] == [(False, None), (False, None)]
