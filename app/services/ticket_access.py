"""Who may ask for what when taking a number: one rule for the API, the kiosk, the desk and the demo simulator.

A ticket can carry an identity (ID number, phone, name), a channel (how the person was identified) and
priority flags. Each of those is believed only from someone in a position to know: a clerk checked the
person (staff), a paired kiosk read the card or matched the face, or a clerk signed in at the kiosk
typed the number (staff assist). Anyone else (the open API, a phone) gets a plain ticket: no identity,
no flags, and never a change to a stored citizen. Anonymous callers are also rate-limited.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from app.models.people import Role
from app.models.ticket import Channel, TicketCreate
from app.services.errors import Forbidden, Invalid
from app.services.limits import Limit
from app.services.principal import Kind, Principal

PLAIN_CHANNELS = (Channel.KIOSK, Channel.MOBILE)
KIOSK_CHANNELS = (Channel.KIOSK, Channel.ID_CARD, Channel.FACE, Channel.APPOINTMENT_QR)
READ_CHANNELS = (Channel.ID_CARD, Channel.FACE)  # the number came from the card's chip or a face match
TAKING_ROLES = (Role.STAFF, Role.MANAGER)

ANONYMOUS_PER_ADDRESS = Limit(
    'tickets:address',
    5,
    dt.timedelta(minutes=10),
    'too_many_tickets',
    '取号过于频繁 / too many tickets from this address',
)
ANONYMOUS_IN_HALL = Limit(
    'tickets:anonymous',
    300,
    dt.timedelta(minutes=10),
    'hall_busy',
    '线上取号人数已满，请到大厅取号机取号 / remote tickets are full for now: please use a kiosk in the hall',
)
PHONE_PER_DAY = Limit(
    'tickets:phone',
    5,
    dt.timedelta(days=1),
    'phone_limit',
    '该手机号今日取号次数已达上限 / this phone number has taken its tickets for today',
)


@dataclass(frozen=True)
class TakeRights:
    """What a permitted request may do beyond taking a number."""

    verified_identity: bool  # the ID number is trusted: its age may give the green channel, contact may be stored
    limited: bool  # anonymous: counted against the per-address and hall-wide limits


def _refuse(code: str, zh: str, en: str) -> Forbidden:
    return Forbidden(code, f'{zh} / {en}')


def authorize_take(caller: Principal, request: TicketCreate) -> TakeRights:
    """The rights of `caller` for this request, or Forbidden naming what it may not ask for."""
    if caller.kind == Kind.SYSTEM or caller.has_role(*TAKING_ROLES):
        return TakeRights(verified_identity=True, limited=False)
    if caller.kind == Kind.KIOSK:
        return _kiosk(caller, request)
    if request.channel not in PLAIN_CHANNELS:
        raise _refuse(
            'channel_needs_device',
            '该取号方式须在大厅自助机或窗口办理',
            'this channel is only for hall kiosks and staff',
        )
    if request.id_number or request.phone or request.name or request.appointment_code:
        raise _refuse(
            'identity_needs_device',
            '身份信息须在大厅自助机刷证或由工作人员核验',
            'identity is taken only at a kiosk or by staff',
        )
    if request.disability or request.pregnancy:
        raise _refuse('priority_needs_staff', '优先资格须由工作人员核验', 'priority is set only by staff')
    return TakeRights(verified_identity=False, limited=True)


def _kiosk(caller: Principal, request: TicketCreate) -> TakeRights:
    if request.channel not in KIOSK_CHANNELS:
        raise _refuse('channel_not_for_kiosk', '自助机不能使用该取号方式', 'a kiosk cannot take this kind of ticket')
    assisted = caller.assisted_by is not None
    if (request.disability or request.pregnancy) and not assisted:
        raise _refuse('priority_needs_staff', '优先资格须由工作人员核验', 'priority is set only by staff')
    if request.channel in READ_CHANNELS and not request.id_number:
        raise Invalid('id_number_required')
    if request.channel == Channel.APPOINTMENT_QR and not request.appointment_code:
        raise Invalid('appointment_code_required')
    typed = request.id_number is not None and request.channel == Channel.KIOSK
    if typed and not assisted:
        raise _refuse(
            'typed_id_needs_staff', '手工输入身份证号须由工作人员协助', 'a typed ID number needs a clerk at the kiosk'
        )
    verified = request.id_number is not None and (request.channel != Channel.KIOSK or assisted)
    return TakeRights(verified_identity=verified, limited=False)
