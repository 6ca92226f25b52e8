"""The twin's 上门服务 queue: open home visits (no address, no person), kept current by HomeVisitChanged.

A visit enters when asked, moves as it is scheduled and staffed, and leaves when done; a repeated event changes
nothing. The manager's panel (components/visit_queue.py) redraws from this on the twin's `updated` keys.
"""

from __future__ import annotations

import datetime as dt

from nicegui import binding

from app.events import Event, HomeVisitChanged
from app.models.visits import OPEN_VISITS
from twin.model import Key
from twin.reducers import assign

VISIT = 'visit'


@binding.bindable_dataclass
class VisitTwin:
    id: int
    service_code: str
    department_id: int
    status: str
    requested_at: dt.datetime
    slot_start: dt.datetime | None = None
    slot_end: dt.datetime | None = None
    assignees: int = 0


def visit_of(event: HomeVisitChanged) -> VisitTwin:
    return VisitTwin(
        id=event.visit_id,
        service_code=event.service_code,
        department_id=event.department_id,
        status=event.status,
        requested_at=event.requested_at,
        slot_start=event.slot_start,
        slot_end=event.slot_end,
        assignees=event.assignees,
    )


def reduce_visit(visits: dict[int, VisitTwin], event: Event) -> set[Key]:
    if not isinstance(event, HomeVisitChanged):
        return set()
    key: Key = (VISIT, event.visit_id)
    known = visits.get(event.visit_id)
    if event.status not in OPEN_VISITS:
        return {key} if visits.pop(event.visit_id, None) is not None else set()
    if known is None:
        visits[event.visit_id] = visit_of(event)
        return {key}
    fresh = visit_of(event)
    fields = ('status', 'slot_start', 'slot_end', 'assignees')
    return {key} if assign(known, **{name: getattr(fresh, name) for name in fields}) else set()


def queue_order(visits: dict[int, VisitTwin]) -> list[VisitTwin]:
    """Scheduled visits by slot, then those still to schedule by when they were asked."""
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    return sorted(
        visits.values(),
        key=lambda v: (v.slot_start is None, _aware(v.slot_start) if v.slot_start else far, _aware(v.requested_at)),
    )


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
