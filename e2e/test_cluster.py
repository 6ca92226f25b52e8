"""kill -9 one of two processes behind nginx under load: its call board comes back on the live one, showing the
hall as it is, within 5 s; no acknowledged ticket is lost and no number is given twice."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest
from playwright.sync_api import Page, expect

from scripts.cluster import NODE_COOKIE
from tests.apphost import run_coroutine
from tests.localcluster import LocalCluster
from tests.totp import token_body

pytestmark = pytest.mark.postgres
BACK_WITHIN_MS = 5_000


@dataclass
class TicketLoad:
    """Tickets taken through nginx from one browser (its cookie names a process) until stopped."""

    cluster: LocalCluster
    headers: dict[str, str]
    node: str
    acknowledged: list[tuple[str, str]] = field(default_factory=list)  # (code, number) of every 201
    acknowledged_at: list[float] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with self.cluster.client(cookies={NODE_COOKIE: self.node}, headers=self.headers) as browser:
            while not self.stopping.is_set():
                try:
                    answer = browser.post('/api/tickets', json={'service_code': 'SVC-A'})
                except Exception:
                    self.refused.append(0)
                    continue
                if answer.status_code == 201:
                    self.acknowledged.append((answer.json()['code'], answer.json()['number']))
                    self.acknowledged_at.append(time.monotonic())
                else:
                    self.refused.append(answer.status_code)
                time.sleep(0.05)


def stored_tickets(url: str) -> list[tuple[str, str]]:
    async def read() -> list[tuple[str, str]]:
        connection = await asyncpg.connect(url.replace('postgresql+asyncpg://', 'postgresql://', 1))
        try:
            return [(row['code'], row['number']) for row in await connection.fetch('SELECT code, number FROM ticket')]
        finally:
            await connection.close()

    return run_coroutine(read)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    with LocalCluster(tmp_path, 2) as running:
        yield running


def test_a_killed_process_loses_nothing_and_its_call_board_comes_back_on_the_live_one(
    page: Page, cluster: LocalCluster
) -> None:
    with cluster.client() as staff:
        token = token_body(staff, 'boss', cluster.password('boss')).json()['access_token']
    headers = {'Authorization': f'Bearer {token}'}
    loads = [TicketLoad(cluster, headers, node) for node in ('n1', 'n2')]
    threads = [threading.Thread(target=load.run, daemon=True) for load in loads]
    for thread in threads:
        thread.start()

    page.set_viewport_size({'width': 1920, 'height': 1080})
    page.goto(f'{cluster.base_url}/display')
    expect(page.get_by_text('暂无呼叫')).to_be_visible()  # nothing called yet
    node = next(c['value'] for c in page.context.cookies() if c['name'] == NODE_COOKIE)
    time.sleep(2)  # the load runs on both processes

    cluster.app_named(node).kill_hard()
    killed_at = time.monotonic()
    with cluster.client(headers=headers) as desk:
        called = desk.post('/api/windows/1/call-next')
    assert called.status_code == 200, called.text
    expect(page.get_by_test_id('board-now-number')).to_have_text(called.json()['number'], timeout=BACK_WITHIN_MS)
    back_after = time.monotonic() - killed_at
    assert back_after <= BACK_WITHIN_MS / 1000
    survivor = next(c['value'] for c in page.context.cookies() if c['name'] == NODE_COOKIE)
    assert survivor != node

    time.sleep(2)  # the load goes on through the live process
    for load in loads:
        load.stopping.set()
    for thread in threads:
        thread.join(timeout=30)

    acknowledged = [ticket for load in loads for ticket in load.acknowledged]
    stored = stored_tickets(cluster.database.url)
    assert len(acknowledged) > 20
    assert set(acknowledged) <= set(stored)  # nothing acknowledged is lost
    numbers = [number for _, number in stored]
    assert len(numbers) == len(set(numbers))  # no number given twice
    for load in loads:  # both browsers went on taking tickets, the dead process's one through the survivor
        assert any(at > killed_at for at in load.acknowledged_at), (load.node, load.refused)
