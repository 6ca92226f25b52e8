"""HALL_LANG=en: a refusal on a page is in English alone, from the same registry the API answers from
(tests/test_error_texts.py checks the API)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest
from nicegui import ui
from nicegui.testing import User

from app.models import TicketCreate
from app.services.error_texts import ERROR_TEXTS
from app.settings import get_settings
from tests import journeyhall
from tests.callers import DESK
from tests.factories import SmallHall
from tests.journeyhall import LOCAL_CITIZEN, JourneyHall
from tests.kiosk_hall import KIOSK, prepare_ui
from tests.running import ready

ui_journey_hall = journeyhall.ui_journey_hall_fixture
PATIENT = 40  # retries of 0.1 s: the machine is shared
CHINESE = re.compile(r'[\u4e00-\u9fff]')


@pytest.fixture
def english(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The hall speaks English (requested before `user`, so the app under test starts with it)."""
    monkeypatch.setenv('HALL_LANG', 'en')
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def english_only(text: str, key: str) -> None:
    assert text == ERROR_TEXTS[key][1], text
    assert not CHINESE.search(text), text


def shown(user: User, marker: str) -> str:
    (label,) = user.find(marker=marker, kind=ui.label).elements
    assert isinstance(label, ui.label)
    return label.text


async def test_a_wrong_tracking_code_and_a_wrong_texted_code_are_refused_in_english_alone(
    english: None, ui_journey_hall: JourneyHall, user: User
) -> None:
    await ready()
    await user.open('/track/not-a-real-code')
    await user.should_see(ERROR_TEXTS['tracking_refused'][1])
    english_only(shown(user, 'track-error'), 'tracking_refused')

    view = await (await ready()).queue.take_ticket(
        TicketCreate(service_code='SVC-C', id_number=LOCAL_CITIZEN, phone='13812345678'), caller=DESK
    )
    await user.open(f'/track/{view.ticket.code}')
    await user.should_see(marker='track-ticket')
    user.find(marker='track-code').type('000000')
    user.find(marker='track-verify').click()
    await user.should_see(ERROR_TEXTS['wrong_sms_code'][1], retries=PATIENT)
    english_only(shown(user, 'track-error'), 'wrong_sms_code')


@pytest.fixture
async def kiosk_hall(english: None, ui_hall: SmallHall, monkeypatch: pytest.MonkeyPatch) -> SmallHall:
    """The small hall with kiosk K01 (the kiosk tests' devices, waiting for connections), in English."""
    await prepare_ui(os.environ['DATABASE_URL'])
    monkeypatch.setenv('DEVICE_MODE', 'websocket')
    monkeypatch.setenv('HALL_SIMULATION', 'off')
    get_settings.cache_clear()
    return ui_hall


async def test_a_wrong_pairing_code_on_a_kiosk_screen_is_refused_in_english_alone(
    kiosk_hall: SmallHall, user: User
) -> None:
    await ready()
    response = await user.http_client.post('/kiosk/pair', data={'device': KIOSK, 'code': 'ABCD-EFGH'})
    assert response.status_code == 401
    notice = re.search(r'data-testid="kiosk-pair-error"[^>]*>([^<]*)</p>', response.text)
    assert notice is not None, response.text
    english_only(notice.group(1), 'pairing_refused')
