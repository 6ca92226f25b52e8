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


def serve(app: AppProcess, number: str) -> None:
    """Window 1 (clerk w01) calls until it serves the ticket numbered `number` (earlier tickets are done first)."""
    with app.client() as client:
        desk = bearer(token(client, ('w01', 'Window-01-pass')))
        for _ in range(50):
            client.post('/api/windows/1/complete', headers=desk)
            called = client.post('/api/windows/1/call-next', headers=desk)
            assert called.status_code == 200, called.text
            if called.json()['number'] == number:
                return
    raise AssertionError(f'{number} was never called')


def open_case(db_url: str, var_dir: Path, code: str, *, redis_url: str = '') -> tuple[int, str, int]:
    """The window opens the case of the ticket it serves (its slip's `code`; in another process of the hall): the
    case's id, its tracking code, and its step waiting for the department's decision."""

    async def work(rt: Runtime) -> tuple[int, str, int]:
        view = await rt.journey.cases.open_case(ticket_code=code, actor='w01')
        [waiting] = [node for node in view.nodes if node.status == 'active']
        return view.id, view.code, waiting.id or 0

    return other_process(db_url, var_dir, work, redis_url=redis_url)


def decide(db_url: str, var_dir: Path, node_id: int, *, note: str = '', redis_url: str = '') -> None:
    """The department approves the step (or, with `note`, returns it asking for that), in another process."""

    async def work(rt: Runtime) -> None:
        await rt.journey.cases.decide(node_id, approve=not note, actor='rv02', department_id=None, note=note)

    other_process(db_url, var_dir, work, redis_url=redis_url)


def home_visit_case(db_url: str, var_dir: Path, code: str, *, service_code: str = 'SVC-A', redis_url: str = '') -> str:
    """A case without a ticket: the 上门服务 a relative asked for through a grant of ticket `code`; its tracking code
    (a relative invited from it gets a grant of that case alone)."""

    async def work(rt: Runtime) -> str:
        helper = await rt.journey.proxy.invite(await verified(rt, code), relation='子女', hours=1, can_fill=True)
        visit = await rt.journey.visits.request_for_grant(
            helper.token, service_code=service_code, address='北京市朝阳区望京街道阜通东大街6号院3号楼502'
        )
        return visit.case.code

    return other_process(db_url, var_dir, work, redis_url=redis_url)
