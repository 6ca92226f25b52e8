"""刷脸 enrolment at a kiosk, on SQLite and PostgreSQL: card read, consent (本次 / 同类), a live capture, the template.

The template is a real one (scikit-image's astronaut through dlib), so the next visit's 刷脸 really matches.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

import numpy as np
import pytest
from skimage import data
from sqlmodel import func, select

from app import jobs
from app.bus import InProcessBus
from app.db import Database
from app.events import CardRead, DevicePayload, Event, FaceGalleryChanged, FaceMatched
from app.models import AuditEntry, Consent, ConsentScope, FaceEncoding
from app.models.citizen_account import CitizenAccount
from app.models.device import DeviceKind
from app.models.ticket import Ticket, TicketStatus
from app.security.crypto import FieldCipher
from app.services.consent import CURRENT_TEXT_VERSIONS, FACE_CONTEXT, ConsentService
from app.services.errors import DomainError, Forbidden, Invalid
from app.services.face_enrolment import FACE_ENROLLED, FaceCapture, FaceEnrolmentService
from app.services.face_liveness import BLINK, NO_CUE, STILL, TOO_FEW, TURN, judge
from app.services.kiosk import KioskService, KioskSession, Method, Step
from app.services.principal import Principal
from app.services.proxy import ProxyService
from app.settings import Settings
from devices.face import MATCH, NO_MATCH, FaceEngine, face_recognition
from devices.sim import face_motion
from tests.callers import deps_for
from tests.conftest import FakeClock
from tests.factories import SmallHall
from tests.idnumbers import make_id
from tests.kiosk_hall import CAMERA, KIOSK, READER

ADULT_ID = make_id(dt.date(1985, 3, 2))
CHILD_ID = make_id(dt.date(2016, 3, 2), sequence='321')
FACE_VERSION = CURRENT_TEXT_VERSIONS['face_ticket']
ONCE, SAME_KIND = ConsentScope.ONCE, ConsentScope.SAME_KIND


@dataclass
class Card:
    id_number: str
    name: str = '张敏'


class Reader:
    """The kiosk's card reader holding one read card."""

    def __init__(self, id_number: str) -> None:
        self.card: Card | None = Card(id_number)

    def take_card(self, reader_code: str) -> Card | None:
        card, self.card = self.card, None
        return card

    async def print_slip(self, printer_code: str, slip: object) -> str:
        raise AssertionError('nothing is printed here')

    async def capture_face(self, camera_code: str, session_id: str) -> bool:
        return True


@pytest.fixture(scope='module')
def astronaut() -> np.ndarray:
    return data.astronaut()


@pytest.fixture(scope='module')
def engine() -> FaceEngine:
    return FaceEngine()


@pytest.fixture(scope='module')
def template(engine: FaceEngine, astronaut: np.ndarray) -> bytes:
    (encoding,) = engine.encode(astronaut)[:1]
    return encoding.tobytes()


@pytest.fixture
def enrolment(
    db: Database, bus: InProcessBus, settings: Settings, cipher: FieldCipher, clock: FakeClock, hall: SmallHall
) -> FaceEnrolmentService:
    return FaceEnrolmentService(deps_for(db, bus, hall_id=hall.hall_id, settings=settings, clock=clock, cipher=cipher))


@pytest.fixture
async def gallery_events(bus: InProcessBus) -> list[Event]:
    seen: list[Event] = []
    bus.subscribe(seen.append, FaceGalleryChanged, name='test.gallery')
    return seen


async def card_read(kiosks: KioskService, id_number: str = ADULT_ID) -> KioskSession:
    """A session at K01 whose own reader just read a card."""
    session = KioskSession(await kiosks.kiosk(KIOSK), address='10.0.5.1')
    device = DevicePayload(device_id=1, code=READER, kind=DeviceKind.ID_READER)
    kiosks.card_read(session, CardRead(hall_id=1, device=device, valid=True), Reader(id_number))
    return session


def capture(cue: str, template: bytes) -> FaceCapture:
    return FaceCapture(face_motion.frames(cue, random.Random(7)), template)


async def count(db: Database, model: type) -> int:
    async with db.session() as s:
        return (await s.execute(select(func.count()).select_from(model))).scalar_one()


async def actions(db: Database) -> list[str]:
    async with db.session() as s:
        return list((await s.execute(select(AuditEntry.action).order_by(AuditEntry.id))).scalars())


# ---- liveness, one rule for every camera ----------------------------------------------------------------


def test_a_blink_or_a_head_turn_is_live_and_a_still_photo_is_not() -> None:
    rng = random.Random(3)
    assert judge(face_motion.frames(face_motion.BLINK, rng)).reason == BLINK
    assert judge(face_motion.frames(face_motion.TURN, rng)).reason == TURN
    still = judge(face_motion.frames(face_motion.STILL, rng))
    assert not still.live and still.reason == STILL
    assert judge(face_motion.frames(face_motion.BLINK, rng)[:2]).reason == TOO_FEW


def test_a_photo_waved_in_front_of_the_camera_without_a_blink_or_turn_is_refused() -> None:
    rng = random.Random(5)
    waved = [face_motion.frame(jitter=3.0, rng=rng) for _ in range(6)]
    verdict = judge(waved)
    assert not verdict.live and verdict.reason == NO_CUE


def test_a_real_photo_held_still_is_refused_from_dlibs_own_landmarks(astronaut: np.ndarray) -> None:
    landmarks = face_recognition.face_landmarks(astronaut)[0]
    verdict = judge([landmarks] * 4)
    assert not verdict.live and verdict.reason == STILL


# ---- enrolment at the kiosk ------------------------------------------------------------------------------


async def test_enrol_with_a_blink_stores_the_template_encrypted_with_consent_and_audit(
    kiosks: KioskService,
    enrolment: FaceEnrolmentService,
    db: Database,
    cipher: FieldCipher,
    template: bytes,
    gallery_events: list[Event],
    bus: InProcessBus,
) -> None:
    session = await card_read(kiosks)
    caller = session.caller
    assert enrolment.offer(caller, session) == FACE_VERSION and session.step == Step.ENROL_CONSENT
    consent_id = await enrolment.agree(caller, session, SAME_KIND, text_version=FACE_VERSION)
    assert session.step == Step.ENROL
    verdict = await enrolment.enrol(caller, session, capture(face_motion.BLINK, template))
    assert verdict.live and verdict.reason == BLINK
    assert session.step == Step.SERVICE and session.identity is not None  # carries on with the card
    async with db.session() as s:
        face = (await s.execute(select(FaceEncoding))).scalar_one()
        consent = await s.get(Consent, consent_id)
    assert consent is not None and consent.scope == SAME_KIND and consent.channel == 'kiosk'
    assert face.consent_id == consent_id and face.citizen_id == consent.citizen_id
    assert template not in face.encoding_enc.encode()
    assert cipher.decrypt_bytes(face.encoding_enc, context=FACE_CONTEXT) == template
    assert (await actions(db))[-2:] == ['consent_granted', FACE_ENROLLED]
    await bus.drain()
    assert [event.reason for event in gallery_events] == [FACE_ENROLLED]


async def test_a_still_photo_is_refused_with_its_reason_and_nothing_is_stored(
    kiosks: KioskService,
    enrolment: FaceEnrolmentService,
    db: Database,
    template: bytes,
    gallery_events: list[Event],
    bus: InProcessBus,
) -> None:
    session = await card_read(kiosks)
    enrolment.offer(session.caller, session)
    await enrolment.agree(session.caller, session, ONCE, text_version=FACE_VERSION)
    with pytest.raises(Invalid) as error:
        await enrolment.enrol(session.caller, session, capture(face_motion.STILL, template))
    assert error.value.code == 'not_live' and '照片' in error.value.message
    assert await count(db, FaceEncoding) == 0 and FACE_ENROLLED not in await actions(db)
    await bus.drain()
    assert session.step == Step.ENROL and gallery_events == []  # the citizen may try again or carry on
    assert (await enrolment.enrol(session.caller, session, capture(face_motion.TURN, template))).reason == TURN


async def test_the_next_visits_face_ticket_matches_the_enrolled_citizen(
    kiosks: KioskService,
    enrolment: FaceEnrolmentService,
    db: Database,
    cipher: FieldCipher,
    clock: FakeClock,
    engine: FaceEngine,
    astronaut: np.ndarray,
    template: bytes,
) -> None:
    session = await card_read(kiosks)
    enrolment.offer(session.caller, session)
    consent_id = await enrolment.agree(session.caller, session, SAME_KIND, text_version=FACE_VERSION)
    await enrolment.enrol(session.caller, session, capture(face_motion.BLINK, template))
    clock.advance(60 * 24 * 7)  # a week later
    engine.load_gallery(await ConsentService(deps_for(db, clock=clock, cipher=cipher)).face_gallery())
    result = engine.identify(astronaut)
    async with db.session() as s:
        consent = await s.get(Consent, consent_id)
    assert consent is not None and result.outcome == MATCH and result.citizen_id == consent.citizen_id
    visit = KioskSession(await kiosks.kiosk(KIOSK))
    kiosks.begin_face(visit)
    kiosks.agree_face(visit, FACE_VERSION, ConsentScope.ONCE)
    camera = DevicePayload(device_id=2, code=CAMERA, kind=DeviceKind.CAMERA)
    matched = FaceMatched(hall_id=1, device=camera, outcome=result.outcome, citizen_id=result.citizen_id)
    identity = await kiosks.face_matched(visit, matched)
    assert identity is not None and identity.id_number == ADULT_ID and visit.method == Method.FACE
    assert await count(db, FaceEncoding) == 1  # 同类: kept for the visits after this one too


async def test_revoking_deletes_the_template_at_once_and_tells_every_gallery(
    kiosks: KioskService,
    enrolment: FaceEnrolmentService,
    db: Database,
    cipher: FieldCipher,
    clock: FakeClock,
    engine: FaceEngine,
    astronaut: np.ndarray,
    template: bytes,
    bus: InProcessBus,
    gallery_events: list[Event],
) -> None:
    session = await card_read(kiosks)
    enrolment.offer(session.caller, session)
    consent_id = await enrolment.agree(session.caller, session, SAME_KIND, text_version=FACE_VERSION)
    await enrolment.enrol(session.caller, session, capture(face_motion.BLINK, template))
    consents = ConsentService(deps_for(db, bus, clock=clock, cipher=cipher))
    async with db.session() as s:
        citizen_id = (await s.get(Consent, consent_id)).citizen_id  # type: ignore[union-attr]
    await consents.revoke(consent_id, citizen_id=citizen_id)
    assert await count(db, FaceEncoding) == 0
    await bus.drain()
    assert [event.reason for event in gallery_events] == [FACE_ENROLLED, 'revoked']
    engine.load_gallery(await consents.face_gallery())
    assert engine.identify(astronaut).outcome == NO_MATCH


async def test_a_this_visit_template_is_deleted_when_the_day_ends_and_a_same_kind_one_stays(
    kiosks: KioskService,
    enrolment: FaceEnrolmentService,
    db: Database,
    clock: FakeClock,
    template: bytes,
) -> None:
    for id_number, scope in ((ADULT_ID, ONCE), (make_id(dt.date(1979, 8, 9), sequence='654'), SAME_KIND)):
        session = await card_read(kiosks, id_number)
        enrolment.offer(session.caller, session)
        await enrolment.agree(session.caller, session, scope, text_version=FACE_VERSION)
        await enrolment.enrol(session.caller, session, capture(face_motion.BLINK, template))
    system = Principal.system('face_expiry')
    assert await enrolment.expire_visits(system) == 0  # the same day: the visit may still use it
    clock.advance(60 * 24)
    assert await jobs.expire_face_visits({'faces': enrolment}) == 1
    async with db.session() as s:
        scopes = list((await s.execute(select(Consent.scope).join(FaceEncoding))).scalars())
    assert scopes == [SAME_KIND]
    with pytest.raises(Forbidden):
        await enrolment.expire_visits(session.caller)


# ---- as an attacker would try it ---------------------------------------------------------------------------


async def test_enrolment_without_a_card_read_at_this_kiosk_is_refused(
    kiosks: KioskService,
    enrolment: FaceEnrolmentService,
    db: Database,
) -> None:
    by_hand = KioskSession(await kiosks.kiosk(KIOSK))
    by_hand.start_by_hand()
    typed = KioskSession(await kiosks.kiosk(KIOSK))
    typed.start_by_hand()
    typed.identified(kiosks.identify(ADULT_ID), Method.TYPED_ID)
    faced = KioskSession(await kiosks.kiosk(KIOSK))
    faced.begin_face()
    for session in (by_hand, typed, faced):
        with pytest.raises(Forbidden) as error:
            enrolment.offer(session.caller, session)
        assert error.value.code == 'enrolment_needs_card'
        with pytest.raises(Forbidden):
            await enrolment.agree(session.caller, session, SAME_KIND, text_version=FACE_VERSION)
    assert await count(db, Consent) == 0


async def test_enrolment_from_anyone_but_the_paired_kiosk_itself_is_refused(
    kiosks: KioskService,
    enrolment: FaceEnrolmentService,
    db: Database,
    template: bytes,
) -> None:
    session = await card_read(kiosks)
    for stranger in (Principal.anonymous('10.0.9.9'), Principal.kiosk('K02'), Principal.citizen(1)):
        with pytest.raises(Forbidden):
            enrolment.offer(stranger, session)
    enrolment.offer(session.caller, session)
    with pytest.raises(Forbidden):
        await enrolment.agree(Principal.kiosk('K02'), session, SAME_KIND, text_version=FACE_VERSION)
    await enrolment.agree(session.caller, session, SAME_KIND, text_version=FACE_VERSION)
    with pytest.raises(Forbidden):
        await enrolment.enrol(Principal.anonymous(), session, capture(face_motion.BLINK, template))
    assert await count(db, FaceEncoding) == 0


async def test_a_capture_without_consent_recorded_first_is_refused(
    kiosks: KioskService,
    enrolment: FaceEnrolmentService,
    db: Database,
    template: bytes,
) -> None:
    session = await card_read(kiosks)
    with pytest.raises(Forbidden) as error:
        await enrolment.enrol(session.caller, session, capture(face_motion.BLINK, template))
    assert error.value.code == 'consent_required'
    enrolment.offer(session.caller, session)  # the consent screen is showing, nothing agreed
    with pytest.raises(Forbidden):
        await enrolment.enrol(session.caller, session, capture(face_motion.BLINK, template))
    with pytest.raises(Invalid):
        await enrolment.agree(session.caller, session, SAME_KIND, text_version='1999.1')
    assert await count(db, FaceEncoding) == 0 and await count(db, Consent) == 0


async def test_a_child_cannot_enrol_alone_at_the_kiosk(
    kiosks: KioskService,
    enrolment: FaceEnrolmentService,
    db: Database,
) -> None:
    session = await card_read(kiosks, CHILD_ID)
    enrolment.offer(session.caller, session)
    with pytest.raises(DomainError) as error:
        await enrolment.agree(session.caller, session, SAME_KIND, text_version=FACE_VERSION)
    assert error.value.code == 'guardian_required' and await count(db, Consent) == 0


async def test_the_ticket_taken_next_carries_the_consent_and_its_end_ends_a_this_visit_template(
    kiosks: KioskService,
    enrolment: FaceEnrolmentService,
    db: Database,
    template: bytes,
) -> None:
    session = await card_read(kiosks)
    enrolment.offer(session.caller, session)
    consent_id = await enrolment.agree(session.caller, session, ONCE, text_version=FACE_VERSION)
    await enrolment.enrol(session.caller, session, capture(face_motion.BLINK, template))
    kiosks.choose_service(session, await kiosks.catalogue(), 'SVC-A')
    view = await kiosks.take_ticket(session)
    async with db.session() as s:
        consent = await s.get(Consent, consent_id)
    assert consent is not None and consent.ticket_id == view.ticket.id  # /track lists it, and can revoke it
    system = Principal.system('face_expiry')
    assert await enrolment.expire_visits(system) == 0  # still waiting: the visit goes on
    async with db.session() as s, s.begin():
        ticket = await s.get(Ticket, view.ticket.id)
        assert ticket is not None
        ticket.status = TicketStatus.COMPLETED
    assert await enrolment.expire_visits(system) == 1
    assert await count(db, FaceEncoding) == 0


async def test_withdrawing_on_me_deletes_the_template_at_once_and_tells_every_gallery(
    kiosks: KioskService,
    enrolment: FaceEnrolmentService,
    db: Database,
    cipher: FieldCipher,
    clock: FakeClock,
    template: bytes,
    bus: InProcessBus,
    gallery_events: list[Event],
    hall: SmallHall,
) -> None:
    session = await card_read(kiosks)
    enrolment.offer(session.caller, session)
    consent_id = await enrolment.agree(session.caller, session, SAME_KIND, text_version=FACE_VERSION)
    await enrolment.enrol(session.caller, session, capture(face_motion.BLINK, template))
    async with db.session() as s, s.begin():
        consent = await s.get(Consent, consent_id)
        assert consent is not None
        account = CitizenAccount(phone_hash='1' * 64, phone_enc='x', citizen_id=consent.citizen_id, created_at=clock())
        s.add(account)
        await s.flush()
    deps = deps_for(db, bus, hall_id=hall.hall_id, clock=clock, cipher=cipher)
    me = Principal.account(account.id or 0, citizen_id=consent.citizen_id)
    await ProxyService(deps, ConsentService(deps)).withdraw_by_account(me, consent_id)
    assert await count(db, FaceEncoding) == 0
    await bus.drain()
    assert [event.reason for event in gallery_events] == [FACE_ENROLLED, 'revoked']
