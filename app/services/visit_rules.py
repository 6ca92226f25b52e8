"""上门服务 rules apart from storage: a usable address, a slot ahead of now, who handles a visit, no double booking."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from app.models.people import Role
from app.models.visits import HomeVisit
from app.services.errors import Conflict, Forbidden, Invalid
from app.services.principal import Kind, Principal

ADDRESS_MIN, ADDRESS_MAX = 6, 200
SLOT_MAX = dt.timedelta(hours=4)  # one visit is at most half a working day
ASSIGNEES_MAX = 3
SHOWN_ADDRESS_CHARS = 6  # enough for city and district: the rest is masked wherever it is shown


def checked_address(address: str) -> str:
    """The address as given, trimmed; too short to find the door or too long is refused."""
    address = ' '.join(address.split())
    if not ADDRESS_MIN <= len(address) <= ADDRESS_MAX:
        raise Invalid('visit_address_invalid', low=ADDRESS_MIN, high=ADDRESS_MAX)
    return address


def masked_address(address: str) -> str:
    """City and district, then stars: '北京市朝阳区某街道12号' -> '北京市朝阳区****'."""
    return address[:SHOWN_ADDRESS_CHARS] + '****'


def checked_slot(start: dt.datetime, end: dt.datetime, *, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """A slot that starts after now, ends after it starts and lasts no more than SLOT_MAX."""
    if start.tzinfo is None or end.tzinfo is None:
        raise Invalid('visit_slot_invalid')
    if start <= now:
        raise Invalid('visit_slot_in_past')
    if not start < end <= start + SLOT_MAX:
        raise Invalid('visit_slot_invalid')
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def may_handle(caller: Principal, visit: HomeVisit) -> bool:
    """Managers handle every visit; staff and reviewers those of their own department; the system too."""
    if caller.kind == Kind.SYSTEM or caller.has_role(Role.MANAGER):
        return True
    return caller.has_role(Role.STAFF, Role.REVIEWER) and caller.department_id == visit.department_id


def require_staff(caller: Principal) -> None:
    """Checked before a visit is looked up, so an outsider learns nothing of which visits exist."""
    if not caller.has_role(Role.STAFF, Role.REVIEWER, Role.MANAGER):
        raise Forbidden('forbidden')


def require_handler(caller: Principal, visit: HomeVisit) -> None:
    require_staff(caller)
    if not may_handle(caller, visit):
        raise Forbidden('not_your_department')


def overlaps(a: tuple[dt.datetime, dt.datetime], b: tuple[dt.datetime, dt.datetime]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def require_free(
    assignees: Iterable[int], slot: tuple[dt.datetime, dt.datetime], others: Iterable[HomeVisit], names: dict[int, str]
) -> None:
    """Nobody goes to two doors at once: refuse when an assignee already has an open visit overlapping `slot`."""
    wanted = set(assignees)
    for other in others:
        if other.slot_start is None or other.slot_end is None:
            continue
        if not overlaps(slot, (_utc(other.slot_start), _utc(other.slot_end))):
            continue
        for person in wanted.intersection(other.assignees):
            raise Conflict('visit_double_booked', name=names.get(person, str(person)))


def _utc(moment: dt.datetime) -> dt.datetime:
    """SQLite hands datetimes back naive (they are stored in UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
