"""Opening a case (办件) for the ticket at the window, through the cases engineer's CaseService when it is there.

The desk asks the runtime for `cases.open_case(ticket_code=..., answers=..., actor=...)` (the kiosk's
answers go with it and live on the Case from then on); if the runtime does not offer it, the button
stays disabled with a tooltip instead of failing when pressed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

OpenCase = Callable[..., Awaitable[Any]]


def case_opener(runtime: object) -> OpenCase | None:
    open_case = getattr(getattr(runtime, 'cases', None), 'open_case', None)
    return open_case if callable(open_case) else None


def case_label(case: Any) -> str:
    """What to call the new case in the confirmation: its number (the code is the citizen's tracking secret)."""
    return str(getattr(case, 'id', '') or '')
