"""Who may ask for what when taking a number: one rule for the API, the kiosk, the desk and the demo simulator.

A ticket can carry an identity (ID number, phone, name), a channel (how the person was identified) and
priority flags. Each of those is believed only from someone in a position to know: a clerk checked the
person (staff), a paired kiosk read the card or matched the face, or a clerk signed in at the kiosk
typed the number (staff assist). Anyone else (the open API, a phone) gets a plain ticket: no identity,
no flags, and never a change to a stored citizen. Anonymous callers are also rate-limited.

The `mobile` channel is a remote ticket (远程取号): only a citizen signed in on the phone takes one, for
their own account (no clerk or kiosk takes one "as" a citizen); it waits until the citizen arrives
(app/services/remote_queue.py), and the per-address limits hold for it too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from app.models.people import Role
from app.models.ticket import Channel, TicketCreate
from app.services.errors import Forbidden, Invalid
from app.services.limits import Limit
from app.services.principal import Kind, Principal

PLAIN_CHANNELS = (Channel.KIOSK,)
KIOSK_CHANNELS = (Channel.KIOSK, Channel.ID_CARD, Channel.FACE, Channel.APPOINTMENT_QR)
READ_CHANNELS = (Channel.ID_CARD, Channel.FACE)  # the number came from the card's chip or a face match
TAKING_ROLES = (Role.STAFF, Role.MANAGER)

ANONYMOUS_PER_ADDRESS = Limit(
    'tickets:address',
    5,
    dt.timedelta(minutes=10),
    'too_many_tickets',
)
ANONYMOUS_IN_HALL = Limit(
    'tickets:anonymous',
    300,
    dt.timedelta(minutes=10),
    'hall_busy',
)
PHONE_PER_DAY = Limit(
    'tickets:phone',
    5,
    dt.timedelta(days=1),
    'phone_limit',
)


@dataclass(frozen=True)
class TakeRights:
    """What a permitted request may do beyond taking a number."""

    verified_identity: bool  # the ID number is trusted: its age may give the green channel, contact may be stored
    limited: bool  # anonymous: counted against the per-address and hall-wide limits
    remote: bool = False  # a signed-in phone's remote ticket: it names the account and waits for arrival


def authorize_take(caller: Principal, request: TicketCreate) -> TakeRights:
    """The rights of `caller` for this request, or Forbidden naming what it may not ask for."""
    if request.channel == Channel.MOBILE and caller.kind != Kind.SYSTEM:
        return _remote(caller, request)
    if caller.kind == Kind.SYSTEM or caller.has_role(*TAKING_ROLES):
        return TakeRights(verified_identity=True, limited=False)
    if caller.kind == Kind.KIOSK:
        return _kiosk(caller, request)
    if request.channel not in PLAIN_CHANNELS:
        raise Forbidden('channel_needs_device')
    if request.id_number or request.phone or request.name or request.appointment_code:
        raise Forbidden('identity_needs_device')
    if request.disability or request.pregnancy:
        raise Forbidden('priority_needs_staff')
    return TakeRights(verified_identity=False, limited=True)


def _remote(caller: Principal, request: TicketCreate) -> TakeRights:
    """A remote ticket: a plain ticket for the signed-in phone's own account, nobody else's."""
    if caller.kind == Kind.KIOSK:
        raise Forbidden('channel_not_for_kiosk')
    if caller.kind == Kind.STAFF:
        raise Forbidden('remote_ticket_own_account')
    caller.require_account()
    if request.id_number or request.phone or request.name or request.appointment_code:
        raise Forbidden('identity_needs_device')
    if request.disability or request.pregnancy:
        raise Forbidden('priority_needs_staff')
    return TakeRights(verified_identity=False, limited=True, remote=True)


def _kiosk(caller: Principal, request: TicketCreate) -> TakeRights:
    if request.channel not in KIOSK_CHANNELS:
        raise Forbidden('channel_not_for_kiosk')
    assisted = caller.assisted_by is not None
    if (request.disability or request.pregnancy) and not assisted:
        raise Forbidden('priority_needs_staff')
    if request.channel in READ_CHANNELS and not request.id_number:
        raise Invalid('id_number_required')
    if request.channel == Channel.APPOINTMENT_QR and not request.appointment_code:
        raise Invalid('appointment_code_required')
    typed = request.id_number is not None and request.channel == Channel.KIOSK
    if typed and not assisted:
        raise Forbidden('typed_id_needs_staff')
    verified = request.id_number is not None and (request.channel != Channel.KIOSK or assisted)
    return TakeRights(verified_identity=verified, limited=False)
