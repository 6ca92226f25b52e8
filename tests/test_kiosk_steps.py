"""The kiosk's step machine (app/services/kiosk_steps.py) as pure state: no database, no screen."""

from __future__ import annotations

import pytest

from app.models.security import ConsentScope
from app.services.errors import Conflict, Forbidden, Invalid
from app.services.kiosk_devices import KioskDevice
from app.services.kiosk_identity import Identity
from app.services.kiosk_steps import Assist, KioskSession, Method, Step

KIOSK = KioskDevice(1, 'K01', 'Kiosk 1', 1, {'id_reader': 'K01-ID'})
ELDER = Identity(id_number='110101195605010011', masked='1101**********0011', age=70, elderly=True)
OTHER = Identity(id_number='110101199005014562', masked='1101**********4562', age=36, elderly=False)
CLERK = Assist('w01', 'Clerk One', 'token')


def fresh(**fields: object) -> KioskSession:
    session = KioskSession(KIOSK, address='10.0.5.1')
    for name, value in fields.items():
        setattr(session, name, value)
    return session


def test_by_hand_goes_start_service_checklist_and_back_drops_the_answers() -> None:
    s = fresh()
    assert s.at_rest and not s.shows_identity
    s.start_by_hand()
    assert (s.step, s.method) == (Step.SERVICE, Method.MANUAL)
    s.choose('SVC-A')
    s.answers['property_type'] = 'new'
    s.choose('SVC-A')  # the same service again keeps what was answered
    assert (s.step, s.answers) == (Step.CHECKLIST, {'property_type': 'new'})
    s.choose('SVC-B')
    assert s.answers == {}
    s.back_to_services()
    assert (s.step, s.service_code, s.answers) == (Step.SERVICE, None, {})


def test_no_ticket_without_a_service_and_only_one_ticket_per_visit() -> None:
    s = fresh()
    with pytest.raises(Conflict) as error:
        s.ready_for_ticket()
    assert error.value.code == 'no_service'
    s.choose('SVC-A')
    assert s.ready_for_ticket() == 'SVC-A'
    s.ticket_taken(object())  # type: ignore[arg-type]
    assert s.step == Step.TICKET and not s.at_rest
    with pytest.raises(Conflict) as error:
        s.ready_for_ticket()
    assert error.value.code == 'ticket_taken'
    s.choose('SVC-B')  # after a ticket, a choice is the next citizen's visit
    assert (s.step, s.ticket, s.service_code) == (Step.CHECKLIST, None, 'SVC-B')


def test_a_card_at_the_start_begins_a_visit_during_a_choice_joins_it_and_another_card_starts_anew() -> None:
    s = fresh()
    s.identified(ELDER, Method.ID_CARD)
    assert (s.step, s.identity, s.method) == (Step.SERVICE, ELDER, Method.ID_CARD)
    assert s.shows_identity and s.elder
    s.start_by_hand()
    s.choose('SVC-A')
    s.answers['property_type'] = 'new'
    s.identified(ELDER, Method.ID_CARD)  # joins the choice in progress
    assert (s.step, s.service_code, s.answers) == (Step.CHECKLIST, 'SVC-A', {'property_type': 'new'})
    s.identified(OTHER, Method.ID_CARD)  # someone else's card: a new visit
    assert (s.step, s.service_code, s.identity) == (Step.SERVICE, None, OTHER)


def test_an_appointment_names_the_service_and_keeps_its_method_when_a_card_follows() -> None:
    s = fresh()
    s.checked_in(None, 'signed-code', 'SVC-B')
    assert (s.step, s.method, s.service_code, s.appointment_code) == (
        Step.CHECKLIST,
        Method.APPOINTMENT,
        'SVC-B',
        'signed-code',
    )
    s.identified(ELDER, Method.ID_CARD)
    assert (s.method, s.identity, s.step) == (Method.APPOINTMENT, ELDER, Step.CHECKLIST)


def test_face_needs_consent_before_the_camera_and_shows_no_identity_until_matched() -> None:
    s = fresh()
    with pytest.raises(Conflict) as error:
        s.consented('v1', ConsentScope.ONCE, current='v1')
    assert error.value.code == 'not_asking_consent'
    s.begin_face()
    assert (s.step, s.method, s.awaiting_face) == (Step.CONSENT, Method.FACE, False)
    with pytest.raises(Invalid) as stale:
        s.consented('v1', ConsentScope.ONCE, current='v2')
    assert stale.value.code == 'stale_consent_text' and s.step == Step.CONSENT
    s.consented('v1', ConsentScope.ONCE, current='v1')
    assert (s.step, s.consent_version, s.awaiting_face) == (Step.FACE, 'v1', True)
    s.identity = ELDER
    assert not s.shows_identity  # still the camera screen
    s.face_identified(ELDER, 7)
    assert (s.step, s.shows_identity, s.face_consent_id) == (Step.SERVICE, True, 7)


def test_priority_needs_and_a_typed_number_are_a_clerks_and_leave_with_the_clerk() -> None:
    s = fresh()
    with pytest.raises(Forbidden) as error:
        s.set_priority(disability=True, pregnancy=False)
    assert error.value.code == 'assist_required'
    assert not s.needs_clerk
    s.assist = CLERK
    assert not s.at_rest  # a clerk signed in: the kiosk still times out
    s.identified(OTHER, Method.TYPED_ID)
    s.set_priority(disability=True, pregnancy=False)
    assert s.needs_clerk and s.disability
    s.assist_ended()
    assert (s.assist, s.disability, s.identity, s.step) == (None, False, None, Step.START)


def test_a_ticket_taken_with_a_typed_number_stays_when_the_clerk_leaves() -> None:
    s = fresh(assist=CLERK)
    s.identified(OTHER, Method.TYPED_ID)
    s.choose('SVC-A')
    s.ticket_taken(object())  # type: ignore[arg-type]
    s.assist_ended()
    assert (s.step, s.identity) == (Step.TICKET, OTHER)
