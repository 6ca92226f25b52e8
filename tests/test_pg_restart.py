"""PostgreSQL restarts under a running app (our own throwaway server, tests/pgcluster.py): during the outage
every request is refused in words (503 `database_unavailable`), never a bare 500, and leaves nothing half
written; once the server is back the same process serves again, with no restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.apphost import AppProcess, prepare_database, start_app
from tests.pgcluster import PgCluster
from tests.security.routes import assert_error, bearer, token

BOSS = ('boss', 'Manager-01-pass')
pytestmark = pytest.mark.postgres


@pytest.fixture
def cluster() -> Iterator[PgCluster]:
    server = PgCluster().init()
    server.start()
    yield server
    server.destroy()


def count_tickets(cluster: PgCluster) -> int:
    async def run() -> int:
        connection = await asyncpg.connect(cluster.url('hall').replace('+asyncpg', ''))
        try:
            return int(await connection.fetchval('SELECT count(*) FROM ticket'))
        finally:
            await connection.close()

    return asyncio.run(run())


def take(app: AppProcess, headers: dict[str, str]) -> int:
    with app.client(timeout=20.0) as client:
        answer = client.post('/api/tickets', json={'service_code': 'SVC-A'}, headers=headers)
    if answer.status_code == 503:
        assert_error(answer, 503, 'database_unavailable')
    return answer.status_code


def test_a_postgres_restart_is_a_clear_503_and_the_same_process_serves_again(
    tmp_path: Path, cluster: PgCluster
) -> None:
    prepared = prepare_database(cluster.create_database('hall'))
    with start_app(prepared.url, tmp_path) as app:
        with app.client() as client:
            desk = bearer(token(client, BOSS))
        assert take(app, desk) == 201
        cluster.stop('fast')
        during = [take(app, desk) for _ in range(5)]
        assert during == [503] * 5  # in words, not a bare 500
        with app.client() as client:
            assert client.get('/api/hall').status_code in (200, 503)
        cluster.start()
        deadline = time.monotonic() + 30
        while (status := take(app, desk)) != 201:
            assert status == 503 and time.monotonic() < deadline, app.output()
            time.sleep(0.2)
        assert app.running
        assert count_tickets(cluster) == 2  # the refused ones left nothing
