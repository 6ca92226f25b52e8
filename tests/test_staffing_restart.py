"""A staffing move outlives a kill -9 of the running app, and the restarted app ends it at its end hour.

The app runs as a real process (tests/apphost.py) on SQLite and on PostgreSQL; the move is applied through
the staffing service by a manager on the same database, as the manager page does (its WindowChanged stays in
this test's own bus: the app reads the window from the database when it starts).
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import httpx
from sqlalchemy import update
from sqlmodel import select

from app.bus import InProcessBus
from app.db import Database
from app.models.staffing import StaffingMove
from app.services.queue import QueueService
from app.services.staffing import Move, StaffingService
from tests.apphost import AppProcess, prepare_database_async, start_app
from tests.callers import as_staff, deps_for

END_WAIT_SECONDS = 20.0


def _window_4(http: httpx.Client) -> list[str]:
    response = http.get('/api/hall')
    assert response.status_code == 200, response.text
    return next(list(w['services']) for w in response.json()['windows'] if w['number'] == 4)


async def _stored(db: Database) -> StaffingMove:
    async with db.read_session() as s:
        return (await s.execute(select(StaffingMove))).scalar_one()


async def test_a_move_survives_kill_9_and_the_restarted_app_ends_it_at_its_end_hour(
    db: Database, bus: InProcessBus, tmp_path: Path
) -> None:
    prepared = await prepare_database_async(db.url, migrate=False)
    small = prepared.small_hall
    assert small is not None
    app: AppProcess = start_app(db.url, tmp_path)
    try:
        with app.client() as http:
            assert _window_4(http) == ['SVC-C']
        queue = QueueService(deps_for(db, bus, hall_id=small.hall_id))
        staffing = StaffingService(queue.deps, queue, None)
        move = Move(
            window_id=small.window_4,
            window_number=4,
            window_name='4号窗口',
            before={'SVC-C': 1},
            after={'SVC-B': 1},
            target_code='SVC-B',
            target_name='事项乙',
            source_code='SVC-C',
            source_name='',
            waits_before={},
            waits_after={},
            names={},
            gain=0.0,
            knows_target=False,
        )
        applied = await staffing.apply(move, caller=as_staff('boss'), reason='B 类排队长')

        app.kill_hard()
        app.start()
        with app.client() as http:
            assert _window_4(http) == ['SVC-B']  # the move is still in force
        assert await staffing.active() == [applied]  # and still listed, with its end hour

        app.kill_hard()  # the end hour passes while the app is down
        async with db.session() as s, s.begin():
            await s.execute(update(StaffingMove).values(ends_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)))
        app.start()
        deadline = time.monotonic() + END_WAIT_SECONDS
        while (await _stored(db)).ended_at is None and time.monotonic() < deadline:
            time.sleep(0.2)
        row = await _stored(db)
        assert row.ended_at is not None and row.ended_by == 'system:staffing'
        with app.client() as http:
            assert _window_4(http) == ['SVC-C']  # the window serves what it did before the move
        assert await staffing.active() == []
    except BaseException as error:
        error.add_note(f'app output:\n{app.output(5000)}')
        raise
    finally:
        app.stop()
