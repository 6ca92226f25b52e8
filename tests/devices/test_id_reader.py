"""ID-card reader: validated number -> age -> green channel; invalid numbers are error events; nothing raw leaks."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from app.events import CardRead
from app.security.masking import mask_id_number
from tests.devices.hubharness import HubHarness
from tests.idnumbers import make_id

TODAY = dt.date(2026, 11, 28)  # the FakeClock's day in the hall


async def test_a_valid_card_gives_age_and_green_channel_and_the_kiosk_claims_it_once(
    harness: HubHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    elderly, adult = make_id(dt.date(1950, 3, 1)), make_id(dt.date(1990, 12, 1))
    client = harness.client('K01-ID')
    await client.connected.wait()
    await client.send('card_read', {'id_number': elderly, 'name': '王芳', 'session_id': 'k1'})
    await client.send('card_read', {'id_number': adult, 'name': '李伟'})
    await harness.bus.drain()
    first, second = harness.events_of(CardRead)
    assert (first.valid, first.age, first.green_channel, first.session_id) == (True, 76, True, 'k1')
    assert (second.valid, second.age, second.green_channel) == (True, 35, False)
    assert first.id_number_masked == mask_id_number(elderly) and elderly not in first.to_json()
    card = harness.service.take_card('K01-ID')
    assert card is not None and (card.id_number, card.name, card.green_channel) == (adult, '李伟', False)
    assert harness.service.take_card('K01-ID') is None  # once only
    assert elderly not in caplog.text and adult not in caplog.text


@pytest.mark.parametrize(
    ('number', 'why'),
    [
        ('110105195003011234', '校验位'),  # checksum
        ('11010519500301123', '18位'),  # length
        (make_id(dt.date(2030, 1, 1)), '出生日期'),  # born in the future
    ],
)
async def test_an_invalid_number_is_an_error_event_not_a_citizen(harness: HubHarness, number: str, why: str) -> None:
    client = harness.client('K01-ID')
    await client.connected.wait()
    await client.send('card_read', {'id_number': number, 'name': '张三'})
    await harness.bus.drain()
    (event,) = harness.events_of(CardRead)
    assert not event.valid and why in event.reason and event.age is None
    assert number not in event.to_json()
    assert harness.service.take_card('K01-ID') is None
    await harness.service.recorder.flush()
