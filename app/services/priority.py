"""Who goes first: green channel, appointments in their slot, then everyone by take time.

The fairness cap keeps priority honest: once any ticket has waited longer than the cap, it is
called before every ticket that has waited less, whatever their class.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from app.models.ticket import PriorityClass


@dataclass(frozen=True)
class PriorityDecision:
    priority_class: PriorityClass
    reason: str


def classify(
    *,
    age: int | None,
    elderly_age: int,
    disability: bool,
    pregnancy: bool,
    appointment_slot: tuple[dt.datetime, dt.datetime] | None,
    now: dt.datetime,
    early_minutes: int,
) -> PriorityDecision:
    if age is not None and age >= elderly_age:
        return PriorityDecision(PriorityClass.GREEN, 'elderly')
    if disability:
        return PriorityDecision(PriorityClass.GREEN, 'disability')
    if pregnancy:
        return PriorityDecision(PriorityClass.GREEN, 'pregnancy')
    if appointment_slot is not None:
        start, end = appointment_slot
        if start - dt.timedelta(minutes=early_minutes) <= now <= end:
            return PriorityDecision(PriorityClass.APPOINTMENT, 'appointment_in_slot')
        return PriorityDecision(PriorityClass.NORMAL, 'appointment_outside_slot')
    return PriorityDecision(PriorityClass.NORMAL, '')


@dataclass(frozen=True)
class Candidate:
    """A waiting ticket as the ordering sees it."""

    ticket_id: int
    priority_class: PriorityClass
    queued_at: dt.datetime
    window_tier: int


def order_key(candidate: Candidate, *, now: dt.datetime, cap: dt.timedelta) -> tuple[int, int, int, dt.datetime, int]:
    """Sort key shared by call_next (over its queues' heads, app/services/queue_pick.py) and position estimates;
    ties go to the older id."""
    if now - candidate.queued_at >= cap:
        return (0, 0, 0, candidate.queued_at, candidate.ticket_id)
    return (1, candidate.window_tier, candidate.priority_class.rank, candidate.queued_at, candidate.ticket_id)
