"""开通刷脸 on `/kiosk/{device}` as a citizen uses it: after a card read, the offer, the consent with its scope,
a still photo refused, a blink enrolled, the number still taken with the card."""

from __future__ import annotations

import random

import numpy as np
import pytest
from nicegui import ui
from nicegui.testing import User
from sqlmodel import select

from app.models import Consent, FaceEncoding
from app.services.face_enrolment import FaceCapture
from devices import protocol
from devices.drivers.id_reader import IdReaderDriver
from devices.sim import face_motion
from tests import running
from tests.factories import SmallHall
from tests.kiosk_hall import CAMERA, KIOSK, READER
from tests.running import parts, ready
from tests.test_kiosk_page import ELDER_ID, PATIENT, click, kiosk_ui, open_kiosk

__all__ = ['kiosk_ui']  # the fixture, shared with the kiosk page's tests

TEMPLATE = np.random.default_rng(9).random(128).tobytes()


async def read_card() -> None:
    service = running.root().devices.service
    assert service is not None
    card = protocol.CardReadData(id_number=ELDER_ID, name='王老伯')
    await service.driver(READER, IdReaderDriver).on_card_read(protocol.Frame('frame-1', 'card_read', card))


async def test_after_a_card_read_a_citizen_enrols_with_a_blink_and_a_photo_is_refused(
    kiosk_ui: SmallHall, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    devices = (await parts()).kiosk_devices
    shown: list[str] = []

    async def capture_enrolment(camera_code: str, session_id: str) -> FaceCapture:
        assert (camera_code, session_id) == (CAMERA, KIOSK)
        cue = face_motion.STILL if not shown else face_motion.BLINK
        shown.append(cue)
        return FaceCapture(face_motion.frames(cue, random.Random(1)), TEMPLATE)

    monkeypatch.setattr(devices, 'capture_enrolment', capture_enrolment)
    await open_kiosk(user)
    await user.should_not_see(marker='kiosk-enrol-offer')  # never before a card read
    await read_card()
    await user.should_see(marker='kiosk-enrol-offer', retries=PATIENT)
    click(user, 'kiosk-enrol-open')
    await user.should_see('用途：只用于在本大厅自助机刷脸取号', retries=PATIENT)
    await user.should_see('仅本次（今天办完即删除）')
    scope = next(iter(user.find(marker='kiosk-enrol-scope').elements))
    assert isinstance(scope, ui.radio) and scope.value == 'once'
    scope.value = 'same_kind'
    click(user, 'kiosk-enrol-agree')  # not ticked: nothing recorded
    await user.should_not_see(marker='kiosk-enrol-capture')
    click(user, 'kiosk-enrol-check')
    click(user, 'kiosk-enrol-agree')
    await user.should_see(marker='kiosk-enrol-capture', retries=PATIENT)
    click(user, 'kiosk-enrol-capture')
    await user.should_see('画面静止，疑似照片', retries=PATIENT)
    await user.should_see(marker='kiosk-enrol-fallback')
    click(user, 'kiosk-enrol-capture')
    await user.should_see('已开通刷脸取号', retries=PATIENT)
    await user.should_see(marker='kiosk-service-SVC-C', retries=PATIENT)  # carries on taking a number
    rt = await ready()
    async with rt.db.read_session() as s:
        consent = (await s.execute(select(Consent))).scalar_one()
        faces = list((await s.execute(select(FaceEncoding))).scalars())
    assert consent.scope == 'same_kind' and consent.channel == 'kiosk'
    assert [face.consent_id for face in faces] == [consent.id] and shown == ['still', 'blink']


async def test_declining_enrolment_stores_nothing_and_keeps_the_card(kiosk_ui: SmallHall, user: User) -> None:
    await open_kiosk(user)
    await read_card()
    await user.should_see(marker='kiosk-enrol-offer', retries=PATIENT)
    click(user, 'kiosk-enrol-open')
    await user.should_see(marker='kiosk-enrol-decline', retries=PATIENT)
    click(user, 'kiosk-enrol-decline')
    await user.should_see(marker='kiosk-service-SVC-C', retries=PATIENT)
    await user.should_see(marker='kiosk-identity')
    rt = await ready()
    async with rt.db.read_session() as s:
        assert list((await s.execute(select(Consent))).scalars()) == []
