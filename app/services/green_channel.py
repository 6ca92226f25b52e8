"""绿色通道 set by people: who may mark a ticket for disability or pregnancy, and whom the ticket names for it.

Age comes from the ID card and needs nobody (app/services/priority.py). Disability and pregnancy are facts a
person has to see: a clerk at the window desk or the manager, or the clerk signed in to assist at a paired
kiosk. A phone, the open API or an unassisted kiosk never marks them (app/services/ticket_access.py refuses
the flags at take time; `require_marker` here refuses the mark afterwards). The reason itself is health data:
the ticket keeps it for the desk, the audit log records only that a green channel was set and by whom.
"""

from __future__ import annotations

from app.services.errors import Forbidden, Invalid
from app.services.principal import Kind, Principal

MARKED_REASONS = ('disability', 'pregnancy')  # what people mark; 'elderly' is the card's
AGE_REASON = 'elderly'


def checked_reason(reason: str) -> str:
    """One of the reasons people mark, or Invalid."""
    reason = reason.strip().lower()
    if reason not in MARKED_REASONS:
        raise Invalid('green_reason_unknown')
    return reason


def require_marker(caller: Principal, window_id: int) -> None:
    """A clerk at this window's desk, or a manager (any window); nobody else marks a waiting ticket."""
    if caller.kind == Kind.SYSTEM:
        return
    if caller.kind != Kind.STAFF:
        raise Forbidden('priority_needs_staff')
    caller.require_window(window_id)  # a reviewer is no desk: 'forbidden'; a clerk of another window: not theirs


def set_by(caller: Principal, reason: str) -> str:
    """Whom the ticket names for its green channel: the clerk (at the desk or assisting at the kiosk); the
    card for age; nobody for a ticket without one."""
    if reason == AGE_REASON:
        return 'id_card'
    if reason not in MARKED_REASONS:
        return ''
    return (caller.assisted_by if caller.kind == Kind.KIOSK and caller.assisted_by else caller.name)[:64]
