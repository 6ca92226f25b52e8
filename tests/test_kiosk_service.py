"""Kiosk flows as domain logic: by hand, by ID (card, or typed with a clerk assisting), 刷脸 after consent,
appointments, print, help."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from sqlmodel import select

from app.bus import InProcessBus
from app.db import Database
from app.events import CardRead, DevicePayload, Event, FaceMatched, HelpRequested, QrScanned
from app.models import Appointment, AuditEntry, AuthSession, ServiceItem, Ticket, TicketCreate
from app.models.appointment import AppointmentStatus
from app.models.citizen_account import CitizenAccount
from app.models.device import DeviceKind
from app.models.security import Consent, ConsentPurpose, ConsentScope
from app.models.ticket import Channel, PriorityClass, TicketEvent
from app.security import codes
from app.security.crypto import FieldCipher
from app.services import audit, citizens, kiosk_tickets
from app.services.consent import CURRENT_TEXT_VERSIONS, ConsentService, Guardian
from app.services.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    StorageUnavailable,
    Unauthorized,
)
from app.services.identity import parse_id_number
from app.services.kiosk import KioskService, KioskSession, Method, Step, TicketSlip, answers_for
from app.services.principal import Principal
from app.services.queue import QueueService
from app.settings import Settings
from tests import totp
from tests.callers import deps_for
from tests.conftest import FakeClock, audited
from tests.factories import SmallHall
from tests.idnumbers import make_id
from tests.kiosk_hall import BARE_KIOSK, CAMERA, KIOSK, PRINTER, READER, SCANNER

ELDER_ID = make_id(dt.date(1956, 5, 1))  # 70 on the fake clock's day (2026-11-28)
YOUNG_ID = make_id(dt.date(1990, 5, 1), sequence='456')
FACE_VERSION = CURRENT_TEXT_VERSIONS[ConsentPurpose.FACE_TICKET]
CLERK = ('w01', 'Window-01-pass')
KIOSK_ADDRESS = '10.0.5.1'


@dataclass
class Card:
    id_number: str
    name: str = '王老伯'


class FakeDevices:
    """The kiosk's hardware: a card waiting at the reader, a printer that works or fails."""

    def __init__(self, card: Card | None = None, failure: Exception | None = None) -> None:
        self.card = card
        self.failure = failure
        self.printed: list[tuple[str, TicketSlip]] = []
        self.captures: list[tuple[str, str]] = []

    async def capture_face(self, camera_code: str, session_id: str) -> bool:
        self.captures.append((camera_code, session_id))
        return True

    def take_card(self, reader_code: str) -> Card | None:
        card, self.card = self.card, None
        return card

    async def print_slip(self, printer_code: str, slip: TicketSlip) -> str:
        if self.failure is not None:
            raise self.failure
        self.printed.append((printer_code, slip))
        return 'job-1'


async def session(kiosks: KioskService, code: str = KIOSK) -> KioskSession:
    return KioskSession(await kiosks.kiosk(code), address=KIOSK_ADDRESS)


async def assisted(kiosks: KioskService, code: str = KIOSK) -> KioskSession:
    """A session with clerk w01 signed in at the kiosk (工作人员协助)."""
    s = await session(kiosks, code)
    await kiosks.start_assist(s, *CLERK)
    return s


def payload(code: str, kind: DeviceKind) -> DevicePayload:
    return DevicePayload(device_id=1, code=code, kind=kind)


# ---- the kiosk and its catalogue ----------------------------------------------------------------


async def test_a_kiosk_knows_its_peripherals_and_other_codes_are_not_kiosks(kiosks: KioskService) -> None:
    kiosk = await kiosks.kiosk(KIOSK)
    assert kiosk.peripherals == {'id_reader': READER, 'qr_scanner': SCANNER, 'camera': CAMERA, 'printer': PRINTER}
    assert (await kiosks.kiosk(BARE_KIOSK)).peripherals == {}
    for code in ('NOPE', READER):
        with pytest.raises(NotFound) as error:
            await kiosks.kiosk(code)
        assert error.value.code == 'unknown_kiosk'


async def test_catalogue_offers_served_services_by_department_with_windows_and_elder_first(
    kiosks: KioskService,
) -> None:
    catalogue = await kiosks.catalogue()
    assert [card.code for card in catalogue.cards] == ['SVC-A', 'SVC-B', 'SVC-C']
    assert catalogue.groups[0].department == '测试局'
    assert catalogue.card('SVC-A').windows == (1, 3) and catalogue.card('SVC-A').window_hint == '1、3号窗口'
    assert catalogue.card('SVC-A').description == '甲类事项的通俗说明。'
    assert catalogue.elder_codes == ('SVC-C',)
    with pytest.raises(NotFound):
        catalogue.card('SVC-Z')


# ---- by hand ---------------------------------------------------------------------------------------


async def test_by_hand_choose_answer_and_take_a_ticket_keeps_the_answers(kiosks: KioskService, db: Database) -> None:
    s = await session(kiosks)
    catalogue = await kiosks.catalogue()
    kiosks.choose_service(s, catalogue, 'SVC-A')
    assert s.step == Step.CHECKLIST and not kiosks.checklist(s, catalogue).complete
    checklist = kiosks.answer(s, catalogue, 'property_type', 'second_hand')
    assert [i.name for i in checklist.items] == ['买卖双方身份证', '原不动产权证书']
    view = await kiosks.take_ticket(s)
    assert (view.ticket.number, view.ticket.channel, view.position) == ('A001', Channel.KIOSK, 1)
    assert s.step == Step.TICKET and s.ticket is view and not s.elder
    assert await answers_for(db, view.ticket.id or 0) == {'property_type': 'second_hand'}
    with pytest.raises(Conflict) as error:
        await kiosks.take_ticket(s)
    assert error.value.code == 'ticket_taken'


async def test_a_failure_writing_the_answers_leaves_neither_ticket_nor_answers(
    kiosks: KioskService, db: Database, bus: InProcessBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Event] = []
    bus.subscribe(seen.append, name='test')

    def broken(*args: object, **kwargs: object) -> TicketEvent:
        raise StorageUnavailable('storage_unavailable', 'disk full')

    monkeypatch.setattr(kiosk_tickets, 'answers_event', broken)
    s = await session(kiosks)
    catalogue = await kiosks.catalogue()
    kiosks.choose_service(s, catalogue, 'SVC-A')
    kiosks.answer(s, catalogue, 'property_type', 'second_hand')
    with pytest.raises(StorageUnavailable):
        await kiosks.take_ticket(s)
    await bus.drain()
    async with db.read_session() as r:
        assert (await r.execute(select(Ticket))).scalars().all() == []
        assert (await r.execute(select(TicketEvent))).scalars().all() == []
    assert seen == [] and s.step == Step.CHECKLIST and s.ticket is None
    monkeypatch.undo()
    view = await kiosks.take_ticket(s)  # the citizen tries again: one ticket, with its answers
    assert view.ticket.number == 'A001'
    assert await answers_for(db, view.ticket.id or 0) == {'property_type': 'second_hand'}


async def test_a_wrong_answer_is_refused_and_the_answers_stay(kiosks: KioskService) -> None:
    s = await session(kiosks)
    catalogue = await kiosks.catalogue()
    kiosks.choose_service(s, catalogue, 'SVC-A')
    kiosks.answer(s, catalogue, 'property_type', 'new')
    with pytest.raises(Invalid):
        kiosks.answer(s, catalogue, 'property_type', 'castle')
    assert s.answers == {'property_type': 'new'}


async def test_no_ticket_without_a_service(kiosks: KioskService) -> None:
    with pytest.raises(Conflict) as error:
        await kiosks.take_ticket(await session(kiosks))
    assert error.value.code == 'no_service'


# ---- by ID number ----------------------------------------------------------------------------------


async def test_a_typed_id_of_a_70_year_old_gives_elder_mode_and_the_green_channel(
    kiosks: KioskService, db: Database
) -> None:
    s = await assisted(kiosks)
    identity = kiosks.enter_id_number(s, ELDER_ID.lower())
    assert (identity.age, identity.elderly, s.elder, s.step) == (70, True, True, Step.SERVICE)
    assert identity.masked == ELDER_ID[:6] + '********' + ELDER_ID[-4:]
    assert ELDER_ID not in repr(identity) and ELDER_ID not in repr(s)
    kiosks.choose_service(s, await kiosks.catalogue(), 'SVC-B')
    view = await kiosks.take_ticket(s)
    assert view.ticket.priority_class == PriorityClass.GREEN and view.ticket.citizen_id is not None


async def test_younger_citizens_keep_the_standard_layout(kiosks: KioskService) -> None:
    s = await assisted(kiosks)
    assert not kiosks.enter_id_number(s, YOUNG_ID).elderly and not s.elder


async def test_a_bad_id_number_is_refused_and_changes_nothing(kiosks: KioskService) -> None:
    s = await assisted(kiosks)
    with pytest.raises(Invalid) as error:
        kiosks.enter_id_number(s, ELDER_ID[:-1] + ('0' if ELDER_ID[-1] != '0' else '1'))
    assert error.value.code == 'invalid_id_number' and s.step == Step.START and s.identity is None


async def test_an_id_given_after_choosing_a_service_joins_the_visit(kiosks: KioskService) -> None:
    s = await assisted(kiosks)
    kiosks.choose_service(s, await kiosks.catalogue(), 'SVC-A')
    kiosks.enter_id_number(s, ELDER_ID)
    assert (s.step, s.service_code, s.elder) == (Step.CHECKLIST, 'SVC-A', True)


async def test_card_read_at_the_kiosk_reader_claims_the_full_number(kiosks: KioskService) -> None:
    s = await session(kiosks)
    event = CardRead(hall_id=1, device=payload(READER, DeviceKind.ID_READER), valid=True, age=70, green_channel=True)
    identity = kiosks.card_read(s, event, FakeDevices(Card(ELDER_ID)))
    assert identity.elderly and identity.name == '王老伯' and s.method == Method.ID_CARD and s.step == Step.SERVICE
    kiosks.choose_service(s, await kiosks.catalogue(), 'SVC-A')
    view = await kiosks.take_ticket(s)
    assert view.ticket.channel == Channel.ID_CARD and view.ticket.priority_class == PriorityClass.GREEN


@pytest.mark.parametrize(
    ('code', 'valid', 'devices', 'error'),
    [
        (READER, False, FakeDevices(Card(ELDER_ID)), 'invalid_card'),
        (READER, True, FakeDevices(None), 'card_expired'),
        (READER, True, None, 'card_expired'),
        ('K02-ID', True, FakeDevices(Card(ELDER_ID)), 'foreign_reader'),
    ],
)
async def test_card_reads_that_cannot_be_used_are_explained(
    kiosks: KioskService, code: str, valid: bool, devices: FakeDevices | None, error: str
) -> None:
    s = await session(kiosks)
    event = CardRead(hall_id=1, device=payload(code, DeviceKind.ID_READER), valid=valid, reason='读卡失败')
    with pytest.raises(DomainError) as raised:
        kiosks.card_read(s, event, devices)
    assert raised.value.code == error and s.identity is None and s.step == Step.START


# ---- staff assist --------------------------------------------------------------------------------------


async def sessions_of(db: Database) -> list[AuthSession]:
    async with db.read_session() as s:
        return list((await s.execute(select(AuthSession).order_by(AuthSession.id))).scalars())


async def test_typing_an_id_number_or_a_priority_need_needs_a_clerk_signed_in_here(kiosks: KioskService) -> None:
    s = await session(kiosks)
    for attempt in (
        lambda: kiosks.enter_id_number(s, ELDER_ID),
        lambda: kiosks.set_priority(s, disability=True, pregnancy=False),
    ):
        with pytest.raises(Forbidden) as error:
            attempt()
        assert error.value.code == 'assist_required' and '/' in error.value.message
    assert (s.step, s.identity, s.disability, s.pregnancy) == (Step.START, None, False, False)
    assert s.caller == Principal.kiosk(KIOSK, address=KIOSK_ADDRESS)


async def test_a_clerk_assists_with_their_own_account_and_is_signed_out_after(
    kiosks: KioskService, db: Database
) -> None:
    s = await session(kiosks)
    with pytest.raises(Unauthorized) as error:
        await kiosks.start_assist(s, 'w01', 'not-the-password')
    assert error.value.code == 'bad_credentials' and s.assist is None
    assist = await kiosks.start_assist(s, *CLERK)
    assert (assist.username, s.assist) == ('w01', assist) and assist.token not in repr(assist)
    assert s.caller == Principal.kiosk(KIOSK, address=KIOSK_ADDRESS, assisted_by='w01')
    assert (await kiosks.auth.authenticate(assist.token)).name == 'w01'
    kiosks.enter_id_number(s, YOUNG_ID)
    assert s.step == Step.SERVICE and s.method == Method.TYPED_ID

    await kiosks.end_assist(s)
    assert s.assist is None and s.caller.assisted_by is None
    assert (s.step, s.identity) == (Step.START, None)  # the number the clerk typed leaves with them
    with pytest.raises(Unauthorized):
        await kiosks.auth.authenticate(assist.token)  # their session is revoked, not merely forgotten
    async with db.read_session() as session_:
        rows = (await session_.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars()
        trail = [(e.actor, e.action, e.client_address) for e in rows]
    assert trail == [
        ('w01', audit.LOGIN_FAILED, audited(KIOSK_ADDRESS)),
        ('w01', audit.LOGIN_OK, audited(KIOSK_ADDRESS)),
        ('w01', audit.LOGOUT, audited(KIOSK_ADDRESS)),
    ]
    await kiosks.end_assist(s)  # ending twice is harmless


async def test_a_typed_id_ticket_is_taken_as_the_assisted_kiosk_with_the_clerks_priority_needs(
    kiosks: KioskService, db: Database
) -> None:
    s = await assisted(kiosks)
    kiosks.enter_id_number(s, YOUNG_ID)
    kiosks.set_priority(s, disability=True, pregnancy=False)
    kiosks.choose_service(s, await kiosks.catalogue(), 'SVC-A')
    view = await kiosks.take_ticket(s)
    assert (view.ticket.channel, view.ticket.priority_class, view.ticket.priority_reason) == (
        Channel.KIOSK,
        PriorityClass.GREEN,
        'disability',
    )
    assert view.ticket.priority_set_by == 'w01'  # the assisting clerk marked it, not the kiosk
    assert view.ticket.citizen_id is not None
    s.reset()  # the next citizen: the needs were the last one's, the clerk stays
    assert (s.disability, s.pregnancy, s.caller.assisted_by) == (False, False, 'w01')


async def test_a_clerk_signed_out_elsewhere_cannot_finish_a_typed_ticket(kiosks: KioskService, db: Database) -> None:
    s = await assisted(kiosks)
    assert s.assist is not None
    kiosks.enter_id_number(s, YOUNG_ID)
    kiosks.choose_service(s, await kiosks.catalogue(), 'SVC-A')
    await kiosks.auth.logout(s.assist.token)  # logged out on another screen
    with pytest.raises(Unauthorized) as error:
        await kiosks.take_ticket(s)
    assert error.value.code == 'assist_ended'
    assert (s.assist, s.step, s.identity) == (None, Step.START, None)
    async with db.read_session() as session_:
        assert (await session_.execute(select(Ticket))).first() is None


async def test_a_second_clerk_signing_in_signs_the_first_out(kiosks: KioskService, db: Database) -> None:
    s = await assisted(kiosks)
    assert s.assist is not None
    first = s.assist.token
    await kiosks.start_assist(s, 'boss', 'Manager-01-pass', await totp.fresh_code(kiosks.auth, 'boss'))
    assert s.caller.assisted_by == 'boss'
    with pytest.raises(Unauthorized):
        await kiosks.auth.authenticate(first)
    assert [row.revoked_at is None for row in await sessions_of(db)] == [False, True]


# ---- 刷脸: consent first ------------------------------------------------------------------------------


async def _citizen_with_face_consent(
    db: Database, cipher: FieldCipher, clock: FakeClock, id_number: str, *, consent: bool = True
) -> int:
    async with db.session() as s, s.begin():
        citizen = await citizens.find_or_create(
            s, cipher, parse_id_number(id_number, today=clock.now.date()), now=clock.now, update_contact=True
        )
    assert citizen.id is not None
    if consent:
        await ConsentService(deps_for(db, clock=clock, cipher=cipher)).grant(
            citizen.id, ConsentPurpose.FACE_TICKET, ConsentScope.ONCE, text_version=FACE_VERSION, channel='kiosk'
        )
    return citizen.id


async def test_the_camera_is_asked_for_a_picture_only_after_the_citizen_agreed(kiosks: KioskService) -> None:
    devices = FakeDevices()
    s = await session(kiosks)
    assert not await kiosks.capture_face(s, devices)  # no choice of 刷脸 yet
    kiosks.begin_face(s)
    assert not await kiosks.capture_face(s, devices)  # the consent text is showing, not agreed
    kiosks.agree_face(s, FACE_VERSION, ConsentScope.ONCE)
    assert await kiosks.capture_face(s, devices)
    assert devices.captures == [(CAMERA, s.kiosk.code)]
    assert not await kiosks.capture_face(s, None)  # a kiosk without devices: the fallback is offered


def matched(citizen_id: int | None, outcome: str = 'match', camera: str = CAMERA) -> FaceMatched:
    return FaceMatched(hall_id=1, device=payload(camera, DeviceKind.CAMERA), outcome=outcome, citizen_id=citizen_id)


async def test_face_needs_the_consent_screen_first_then_a_match_identifies(
    kiosks: KioskService, db: Database, cipher: FieldCipher, clock: FakeClock
) -> None:
    citizen_id = await _citizen_with_face_consent(db, cipher, clock, ELDER_ID)
    s = await session(kiosks)
    assert kiosks.begin_face(s) == FACE_VERSION and s.step == Step.CONSENT
    assert await kiosks.face_matched(s, matched(citizen_id)) is None  # not agreed yet: the camera is ignored
    with pytest.raises(Invalid):
        kiosks.agree_face(s, '1999.1', ConsentScope.ONCE)
    kiosks.agree_face(s, FACE_VERSION, ConsentScope.ONCE)
    assert s.step == Step.FACE and s.consent_version == FACE_VERSION
    assert await kiosks.face_matched(s, matched(citizen_id, camera='K02-CAM')) is None
    identity = await kiosks.face_matched(s, matched(citizen_id))
    assert identity is not None and identity.citizen_id == citizen_id and identity.elderly
    assert (s.step, s.method) == (Step.SERVICE, Method.FACE)
    async with db.session() as session_:
        basis, agreed = (await session_.execute(select(Consent).order_by(Consent.id))).scalars().all()
    assert basis.used_at is not None  # the 'this time' consent the template rests on is used up
    assert (agreed.scope, agreed.channel, agreed.used_at) == (ConsentScope.ONCE, 'kiosk', clock.now)
    kiosks.choose_service(s, await kiosks.catalogue(), 'SVC-A')
    view = await kiosks.take_ticket(s)
    assert view.ticket.channel == Channel.FACE
    async with db.session() as session_:
        assert (await session_.get(Consent, agreed.id)).ticket_id == view.ticket.id  # /track shows it, revocable


@pytest.mark.parametrize('scope', [ConsentScope.ONCE, ConsentScope.SAME_KIND])
async def test_agreeing_at_a_face_match_records_a_consent_with_the_scope_the_citizen_chose(
    kiosks: KioskService, db: Database, cipher: FieldCipher, clock: FakeClock, scope: ConsentScope
) -> None:
    citizen_id = await _citizen_with_face_consent(db, cipher, clock, ELDER_ID)
    s = await session(kiosks)
    kiosks.begin_face(s)
    kiosks.agree_face(s, FACE_VERSION, scope)
    async with db.session() as session_:
        before = len((await session_.execute(select(Consent))).scalars().all())
    await kiosks.face_matched(s, matched(citizen_id))
    async with db.session() as session_:
        consents = (await session_.execute(select(Consent).order_by(Consent.id))).scalars().all()
        audited = (await session_.execute(select(AuditEntry).where(AuditEntry.action == 'consent_granted'))).scalars()
        targets = [entry.target for entry in audited]
    agreed = consents[-1]
    assert len(consents) == before + 1 and s.face_consent_id == agreed.id
    assert (agreed.citizen_id, agreed.purpose, agreed.scope) == (citizen_id, ConsentPurpose.FACE_TICKET, scope)
    assert agreed.text_version == FACE_VERSION and f'consent:{agreed.id}' in targets


async def test_a_match_that_is_refused_records_no_agreement(
    kiosks: KioskService, db: Database, cipher: FieldCipher, clock: FakeClock
) -> None:
    citizen_id = await _citizen_with_face_consent(db, cipher, clock, YOUNG_ID, consent=False)
    s = await session(kiosks)
    kiosks.begin_face(s)
    kiosks.agree_face(s, FACE_VERSION, ConsentScope.SAME_KIND)
    with pytest.raises(Forbidden):
        await kiosks.face_matched(s, matched(citizen_id))
    async with db.session() as session_:
        assert (await session_.execute(select(Consent))).scalars().all() == []
    assert s.face_consent_id is None


@pytest.mark.parametrize('outcome', ['no_match', 'ambiguous', 'unavailable'])
async def test_no_match_is_an_answer_that_falls_back_to_the_start(kiosks: KioskService, outcome: str) -> None:
    s = await session(kiosks)
    kiosks.begin_face(s)
    kiosks.agree_face(s, FACE_VERSION, ConsentScope.ONCE)
    with pytest.raises(NotFound) as error:
        await kiosks.face_matched(s, matched(None, outcome))
    assert error.value.code == 'face_not_matched' and s.step == Step.START
    assert '身份证' in error.value.message


async def test_a_match_without_a_live_consent_is_refused(
    kiosks: KioskService, db: Database, cipher: FieldCipher, clock: FakeClock
) -> None:
    citizen_id = await _citizen_with_face_consent(db, cipher, clock, YOUNG_ID, consent=False)
    s = await session(kiosks)
    kiosks.begin_face(s)
    kiosks.agree_face(s, FACE_VERSION, ConsentScope.ONCE)
    with pytest.raises(Forbidden) as error:
        await kiosks.face_matched(s, matched(citizen_id))
    assert error.value.code == 'consent_required' and s.step == Step.START and s.identity is None


CHILD_ID = make_id(dt.date(2013, 1, 2), sequence='567')  # 13 on the fake clock's day


async def test_a_childs_face_is_not_used_without_a_guardians_consent_and_the_kiosk_says_so(
    kiosks: KioskService, db: Database, cipher: FieldCipher, clock: FakeClock
) -> None:
    """A consent row a child gave alone (written around the service, or before the rule) identifies no one."""
    citizen_id = await _citizen_with_face_consent(db, cipher, clock, CHILD_ID, consent=False)
    async with db.session() as s_, s_.begin():
        s_.add(
            Consent(
                citizen_id=citizen_id,
                purpose=ConsentPurpose.FACE_TICKET,
                scope=ConsentScope.SAME_KIND,
                text_version=FACE_VERSION,
                granted_at=clock.now,
            )
        )
    s = await session(kiosks)
    kiosks.begin_face(s)
    kiosks.agree_face(s, FACE_VERSION, ConsentScope.ONCE)
    with pytest.raises(Forbidden) as error:
        await kiosks.face_matched(s, matched(citizen_id))
    assert error.value.code == 'guardian_required' and s.step == Step.START and s.identity is None
    assert '监护人' in error.value.message and '工作人员' in error.value.message
    await ConsentService(deps_for(db, clock=clock, cipher=cipher)).grant(
        citizen_id,
        ConsentPurpose.FACE_TICKET,
        ConsentScope.SAME_KIND,
        text_version=FACE_VERSION,
        role='staff',
        actor='w01',
        guardian=Guardian(YOUNG_ID, 'parent'),
    )
    kiosks.begin_face(s)
    kiosks.agree_face(s, FACE_VERSION, ConsentScope.ONCE)
    identity = await kiosks.face_matched(s, matched(citizen_id))
    assert identity is not None and identity.citizen_id == citizen_id
    async with db.session() as session_:
        agreed = await session_.get(Consent, s.face_consent_id)
    assert agreed is not None and agreed.guardian_relation == 'parent', "the child's agreement rests on the guardian's"


# ---- appointments ----------------------------------------------------------------------------------


async def _appointment(db: Database, hall: SmallHall, clock: FakeClock) -> str:
    reference = codes.reference()
    async with db.session() as s, s.begin():
        svc = (await s.execute(select(ServiceItem).where(ServiceItem.code == hall.service_a))).scalar_one()
        s.add(
            Appointment(
                hall_id=hall.hall_id,
                service_id=svc.id,
                reference=reference,
                slot_start=clock.now - dt.timedelta(minutes=5),
                slot_end=clock.now + dt.timedelta(minutes=25),
                created_at=clock.now - dt.timedelta(days=1),
            )
        )
    return reference


@pytest.mark.parametrize('typed', ['reference', 'lowercase', 'signed'])
async def test_an_appointment_code_checks_in_with_its_service_and_priority(
    kiosks: KioskService, db: Database, hall: SmallHall, clock: FakeClock, settings: Settings, typed: str
) -> None:
    reference = await _appointment(db, hall, clock)
    code = {
        'reference': reference,
        'lowercase': f' {reference.lower()} ',
        'signed': codes.sign(settings.secret, 'appt', reference),
    }[typed]
    s = await session(kiosks)
    service = await kiosks.appointment(s, code)
    assert (service.code, s.step, s.method) == (hall.service_a, Step.CHECKLIST, Method.APPOINTMENT)
    view = await kiosks.take_ticket(s)
    assert view.ticket.priority_class == PriorityClass.APPOINTMENT
    assert view.ticket.channel == Channel.APPOINTMENT_QR
    async with db.session() as session_:
        appointment = (await session_.execute(select(Appointment))).scalar_one()
    assert appointment.status == AppointmentStatus.CHECKED_IN
    with pytest.raises(Conflict) as error:
        await kiosks.appointment(await session(kiosks), reference)
    assert error.value.code == 'appointment_used'


@pytest.mark.parametrize(
    ('code', 'error'), [('ABCDEF123456', 'unknown_appointment'), ('HT1.appt.X.bad', 'forged_code')]
)
async def test_unknown_or_forged_appointment_codes_are_refused(kiosks: KioskService, code: str, error: str) -> None:
    s = await session(kiosks)
    with pytest.raises(DomainError) as raised:
        await kiosks.appointment(s, code)
    assert raised.value.code == error and s.step == Step.START


async def test_a_scanned_appointment_checks_in_and_other_codes_are_explained(
    kiosks: KioskService, db: Database, hall: SmallHall, clock: FakeClock
) -> None:
    reference = await _appointment(db, hall, clock)
    s = await session(kiosks)
    scanner = payload(SCANNER, DeviceKind.QR_SCANNER)
    for event, error in (
        (QrScanned(hall_id=1, device=scanner, valid=False, reason='forged_code: 不是本大厅'), 'invalid_qr'),
        (QrScanned(hall_id=1, device=scanner, valid=True, kind='track', value='abc'), 'not_an_appointment'),
    ):
        with pytest.raises(Invalid) as raised:
            await kiosks.scanned(s, event)
        assert raised.value.code == error
    other = QrScanned(hall_id=1, device=payload('K02-QR', DeviceKind.QR_SCANNER), valid=True, kind='appt', value='x')
    assert await kiosks.scanned(s, other) is None
    service = await kiosks.scanned(s, QrScanned(hall_id=1, device=scanner, valid=True, kind='appt', value=reference))
    assert service is not None and service.code == hall.service_a and s.step == Step.CHECKLIST


async def test_a_phones_ticket_qr_at_this_kiosks_scanner_confirms_its_remote_ticket_arrived(
    kiosks: KioskService, queue: QueueService, db: Database, hall: SmallHall, cipher: FieldCipher, clock: FakeClock
) -> None:
    async with db.session() as s, s.begin():
        account = CitizenAccount(
            phone_hash='h' * 64,
            phone_enc=cipher.encrypt('13800000001', context='citizen_account.phone'),
            created_at=clock.now,
        )
        s.add(account)
        await s.flush()
        assert account.id is not None
        phone = Principal.account(account.id)
    taken = await queue.take_ticket(TicketCreate(service_code=hall.service_a, channel=Channel.MOBILE), caller=phone)
    visit = await session(kiosks)
    scanner = payload(SCANNER, DeviceKind.QR_SCANNER)
    elsewhere = QrScanned(
        hall_id=1, device=payload('K02-QR', DeviceKind.QR_SCANNER), valid=True, kind='track', value=taken.ticket.code
    )
    assert await kiosks.arrived(visit, elsewhere) is None  # another kiosk's scanner: not this kiosk's business
    view = await kiosks.arrived(
        visit, QrScanned(hall_id=1, device=scanner, valid=True, kind='track', value=taken.ticket.code)
    )
    assert view is not None and view.ticket.number == taken.ticket.number and not view.ticket.awaiting_arrival
    with pytest.raises(Conflict) as again:
        await kiosks.arrived(
            visit, QrScanned(hall_id=1, device=scanner, valid=True, kind='track', value=taken.ticket.code)
        )
    assert again.value.code == 'not_awaiting_arrival'


# ---- printing and help --------------------------------------------------------------------------------


async def test_the_slip_is_printed_on_the_kiosk_printer_and_failures_are_answers(kiosks: KioskService) -> None:
    s = await session(kiosks)
    kiosks.choose_service(s, await kiosks.catalogue(), 'SVC-A')
    view = await kiosks.take_ticket(s)
    slip = kiosks.slip(view, track_url='http://hall/track/x', window_hint='1、3号窗口')
    assert (slip.number, slip.people_ahead, slip.track_url) == ('A001', 0, 'http://hall/track/x')
    printer = FakeDevices()
    assert (await kiosks.print_slip(s.kiosk, printer, slip)).printed
    assert printer.printed == [(PRINTER, slip)]
    refused = await kiosks.print_slip(s.kiosk, FakeDevices(failure=Conflict('paper_out', '缺纸 / paper out')), slip)
    assert (refused.printed, refused.reason) == (False, '缺纸 / paper out')
    broken = await kiosks.print_slip(s.kiosk, FakeDevices(failure=RuntimeError('boom')), slip)
    assert (broken.printed, broken.reason) == (False, 'print_failed')
    assert (await kiosks.print_slip(s.kiosk, None, slip)).reason == 'no_printer'
    bare = await kiosks.kiosk(BARE_KIOSK)
    assert (await kiosks.print_slip(bare, FakeDevices(), slip)).reason == 'no_printer'


async def test_calling_for_help_publishes_help_requested_for_this_kiosk(
    kiosks: KioskService, bus: InProcessBus
) -> None:
    seen: list[Event] = []
    bus.subscribe(seen.append, HelpRequested)
    kiosk = await kiosks.kiosk(KIOSK)
    await kiosks.request_help(kiosk, note='呼叫人工')
    await bus.drain()
    assert len(seen) == 1 and isinstance(seen[0], HelpRequested)
    assert (seen[0].device.code, seen[0].device.kind, seen[0].note) == (KIOSK, 'kiosk', '呼叫人工')
