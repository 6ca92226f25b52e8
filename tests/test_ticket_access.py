"""Who may ask for what when taking a number (app/services/ticket_access.py), caller by caller."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from app.models.people import Role
from app.models.ticket import Channel, TicketCreate
from app.services.errors import Forbidden, Invalid, Unauthorized
from app.services.principal import Kind, Principal
from app.services.ticket_access import authorize_take
from tests.idnumbers import make_id

ID = make_id(dt.date(1950, 3, 1))
ANONYMOUS = Principal.anonymous('203.0.113.5')
KIOSK = Principal.kiosk('K01')
ASSISTED = Principal.kiosk('K01', assisted_by='w01')
CLERK = Principal(Kind.STAFF, 'w01', Role.STAFF, window_id=1)
REVIEWER = Principal(Kind.STAFF, 'rv01', Role.REVIEWER)
CITIZEN = Principal.citizen(7)
PHONE = Principal.account(11, address='198.51.100.7')


def request(**fields: Any) -> TicketCreate:
    return TicketCreate(service_code='SVC-A', **fields)


def refused(caller: Principal, **fields: Any) -> str:
    with pytest.raises(Forbidden) as caught:
        authorize_take(caller, request(**fields))
    return caught.value.code


@pytest.mark.parametrize('caller', [ANONYMOUS, CITIZEN, REVIEWER, PHONE])
def test_outsiders_get_a_plain_ticket_and_are_limited(caller: Principal) -> None:
    rights = authorize_take(caller, request(channel=Channel.KIOSK))
    assert (rights.verified_identity, rights.limited, rights.remote) == (False, True, False)


def test_only_a_signed_in_phone_takes_a_remote_ticket_for_itself_and_is_limited() -> None:
    rights = authorize_take(PHONE, request(channel=Channel.MOBILE))
    assert (rights.verified_identity, rights.limited, rights.remote) == (False, True, True)
    for caller in (ANONYMOUS, CITIZEN):
        with pytest.raises(Unauthorized) as anonymous:
            authorize_take(caller, request(channel=Channel.MOBILE))
        assert anonymous.value.code == 'citizen_sign_in_required'
    for caller in (CLERK, REVIEWER, Principal(Kind.STAFF, 'boss', Role.MANAGER)):
        assert refused(caller, channel=Channel.MOBILE) == 'remote_ticket_own_account'
    assert refused(PHONE, channel=Channel.MOBILE, phone='13812345678') == 'identity_needs_device'
    assert refused(PHONE, channel=Channel.MOBILE, pregnancy=True) == 'priority_needs_staff'
    assert refused(PHONE, channel=Channel.ID_CARD) == 'channel_needs_device'


@pytest.mark.parametrize('caller', [ANONYMOUS, CITIZEN, REVIEWER])
def test_outsiders_cannot_claim_an_identity_a_channel_or_a_priority(caller: Principal) -> None:
    assert refused(caller, id_number=ID) == 'identity_needs_device'
    assert refused(caller, phone='13812345678') == 'identity_needs_device'
    assert refused(caller, name='张三') == 'identity_needs_device'
    assert refused(caller, appointment_code='HT1.appt.X.sig') == 'identity_needs_device'
    assert refused(caller, disability=True) == 'priority_needs_staff'
    assert refused(caller, pregnancy=True) == 'priority_needs_staff'
    for channel in (Channel.ID_CARD, Channel.FACE, Channel.APPOINTMENT_QR, Channel.STAFF):
        assert refused(caller, channel=channel) == 'channel_needs_device'


def test_a_paired_kiosk_reads_identities_but_a_typed_number_needs_a_clerk() -> None:
    assert authorize_take(KIOSK, request(channel=Channel.ID_CARD, id_number=ID)).verified_identity
    assert authorize_take(KIOSK, request(channel=Channel.FACE, id_number=ID)).verified_identity
    assert not authorize_take(KIOSK, request()).limited
    assert refused(KIOSK, channel=Channel.KIOSK, id_number=ID) == 'typed_id_needs_staff'
    assert authorize_take(ASSISTED, request(channel=Channel.KIOSK, id_number=ID)).verified_identity
    assert refused(KIOSK, channel=Channel.STAFF) == 'channel_not_for_kiosk'
    assert refused(KIOSK, channel=Channel.MOBILE) == 'channel_not_for_kiosk'
    assert refused(KIOSK, channel=Channel.ID_CARD, id_number=ID, disability=True) == 'priority_needs_staff'
    assert authorize_take(ASSISTED, request(channel=Channel.ID_CARD, id_number=ID, pregnancy=True))
    with pytest.raises(Invalid):
        authorize_take(KIOSK, request(channel=Channel.ID_CARD))
    with pytest.raises(Invalid):
        authorize_take(KIOSK, request(channel=Channel.APPOINTMENT_QR))


@pytest.mark.parametrize('caller', [CLERK, Principal(Kind.STAFF, 'boss', Role.MANAGER), Principal.system('sim')])
def test_clerks_and_the_system_may_take_any_ticket(caller: Principal) -> None:
    rights = authorize_take(
        caller, request(channel=Channel.STAFF, id_number=ID, phone='13812345678', name='张三', disability=True)
    )
    assert (rights.verified_identity, rights.limited) == (True, False)
