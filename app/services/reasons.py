"""The one rule for a reason staff give (out-of-order call, transfer, park, unmask, revocation).

A reason goes into the audit chain and the ticket's events, so it is checked in the service, not only in
the browser: stripped, present when required, and refused (never cut) when longer than the API allows.
"""

from __future__ import annotations

from app.services.errors import Invalid

REASON_MAX = 200  # the same cap as the API's bodies (app/api/schemas.py), so a page cannot pass more


def checked_reason(reason: str, *, required: bool) -> str:
    """A reason as stored: stripped, present when required, and never longer than REASON_MAX."""
    reason = reason.strip()
    if required and not reason:
        raise Invalid('reason_required', text='reason_required.any')
    if len(reason) > REASON_MAX:
        raise Invalid('reason_too_long', REASON_MAX=REASON_MAX)
    return reason
