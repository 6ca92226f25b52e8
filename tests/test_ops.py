"""Ops counters: managers, admins and the process itself read them; everyone else is refused and learns nothing."""

from __future__ import annotations

import pytest

from app.bus_redis import BusStats
from app.models.people import Role
from app.services.errors import Forbidden
from app.services.ops import OpsCounters
from app.services.principal import Kind, Principal


def staff(role: Role) -> Principal:
    return Principal(Kind.STAFF, f'{role.value}-1', role, user_id=1, session_id=1)


@pytest.fixture
def counters() -> OpsCounters:
    ops = OpsCounters()
    stats = BusStats(delivered=3)
    stats.dropped['unsigned'] += 2
    ops.add('bus', stats)
    return ops


@pytest.mark.parametrize(
    'caller',
    [
        Principal.anonymous('10.0.0.9'),
        Principal.kiosk('K01'),
        Principal.citizen(7),
        staff(Role.STAFF),
        staff(Role.REVIEWER),
        staff(Role.DEVICE),
    ],
    ids=['anonymous', 'kiosk', 'citizen', 'clerk', 'reviewer', 'device'],
)
def test_callers_other_than_managers_are_refused(counters: OpsCounters, caller: Principal) -> None:
    with pytest.raises(Forbidden) as refused:
        counters.read(caller)
    assert refused.value.code == 'forbidden' and 'bus' not in refused.value.message


@pytest.mark.parametrize('caller', [staff(Role.MANAGER), staff(Role.ADMIN), Principal.system('ops')])
def test_managers_admins_and_the_process_read_every_part(counters: OpsCounters, caller: Principal) -> None:
    assert counters.read(caller) == {'bus': {'delivered': 3, 'dropped': {'unsigned': 2}}}
