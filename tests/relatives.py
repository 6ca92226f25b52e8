"""亲情代办 grants made from outside a running app (tests/apphost.py): another process of the same hall.

Invitations are made on /track's UI only; a test or a bench that needs many, or needs one ended while the app
serves it, works as a second process of the hall does: its own runtime on the same database (and, with
`redis_url`, the same bus, so what it publishes reaches the app), the citizen verified by the texted code.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

from app.runtime import Runtime, build_runtime
from app.services.tracking import VIA_SMS, PersonAct
from app.settings import Settings
from tests.apphost import TEST_SECRET, AppProcess, run_coroutine
from tests.idnumbers import make_id
from tests.security.routes import bearer, token

_T = TypeVar('_T')


def other_process(db_url: str, var_dir: Path, work: Callable[[Runtime], Awaitable[_T]], *, redis_url: str = '') -> _T:
    """Run `work` in another runtime of the hall (same database, same key; the bus of `redis_url` if given)."""

    async def run() -> _T:
        settings = Settings(
            DATABASE_URL=db_url,
            SECRET_KEY=os.environ.get('SECRET_KEY') or TEST_SECRET,
            REDIS_URL=redis_url,
            HALL_SIMULATION='off',
            VAR_DIR=str(var_dir),
        )
        rt = await build_runtime(settings)
        try:
            return await work(rt)
        finally:
            await rt.bus.stop()  # sends what the work published before it returns
            await rt.deps.limits.close()
            await rt.db.dispose()

    return run_coroutine(run)


async def verified(rt: Runtime, code: str) -> PersonAct:
    """The ticket's citizen, verified by the texted code (what /track's second factor gives)."""
    tracked = await rt.journey.tracking.follow(code)
    return PersonAct(tracked, VIA_SMS, f'citizen:{tracked.citizen_id}', 'citizen')


def invite_relatives(db_url: str, var_dir: Path, codes: Sequence[str], *, redis_url: str = '') -> list[tuple[int, str]]:
    """One follow-only grant for an hour per ticket code (each ticket's citizen invites): (grant id, link token)."""

    async def work(rt: Runtime) -> list[tuple[int, str]]:
        made = []
        for code in codes:
            act = await verified(rt, code)
            invitation = await rt.journey.proxy.invite(act, relation='子女', hours=1, can_fill=False)
            made.append((invitation.grant.id or 0, invitation.token))
        return made

    return other_process(db_url, var_dir, work, redis_url=redis_url)


def citizen_ticket(index: int) -> dict[str, str]:
    """The ID number and phone of a distinct citizen per index (a citizen holds at most three live grants)."""
    birth = dt.date(1950, 1, 1) + dt.timedelta(days=index)
    return {'id_number': make_id(birth, sequence=f'{index % 1000:03d}'), 'phone': f'139{index:08d}'}


def take_for_a_citizen(app: AppProcess, index: int, service_code: str = 'SVC-A') -> dict[str, str]:
    """A ticket of citizen `index`, with ID number and phone, taken by clerk w01 (so a relative can be invited)."""
    with app.client() as client:
        desk = bearer(token(client, ('w01', 'Window-01-pass')))
        taken = client.post('/api/tickets', json={'service_code': service_code, **citizen_ticket(index)}, headers=desk)
        assert taken.status_code == 201, taken.text
        return dict(taken.json())
