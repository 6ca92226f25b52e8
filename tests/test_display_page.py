"""`/display` as the waiting hall sees it: calls pushed big, announcements that name the window, no names.

The page is a light document and its live part the board's shared texts (twin/board_feed.py); here a board
listens to its scope's channel as the page's socket would, in the app's own process, while the queue
service takes and calls tickets. The browser's drawing of those texts is checked in chromium
(e2e/test_kiosk_window_display.py, e2e/test_call_board.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
from typing import Any

import pytest
from nicegui.testing import User

from app.models import TicketCreate
from app.settings import get_settings
from tests.callers import DESK
from tests.factories import SmallHall
from tests.idnumbers import make_id
from tests.kiosk_hall import KioskHall, prepare_ui
from tests.queueclock import pass_recall_interval
from tests.running import parts, ready

WAIT = 10.0


@pytest.fixture
async def board_ui(ui_hall: SmallHall, monkeypatch: pytest.MonkeyPatch) -> tuple[SmallHall, KioskHall]:
    extra = await prepare_ui(os.environ['DATABASE_URL'])
    monkeypatch.setenv('DEVICE_MODE', 'websocket')
    monkeypatch.setenv('HALL_SIMULATION', 'off')
    get_settings.cache_clear()
    return ui_hall, extra


# each test takes NiceGUI's `user` fixture: it runs the app (app/main.py's Root) in this process


class Board:
    """One open board's socket, as its channel sees it: every text it was sent, parsed."""

    def __init__(self) -> None:
        self.raw: list[str] = []
        self.texts: list[dict[str, Any]] = []
        self.got = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def send_text(self, data: str) -> None:
        self.raw.append(data)
        self.texts.append(json.loads(data))
        self.got.set()

    async def receive(self) -> dict[str, object]:
        await asyncio.Event().wait()  # a board only listens
        return {'type': 'websocket.disconnect'}

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        raise AssertionError(f'the board was closed ({code})')

    async def until(self, found: Any) -> dict[str, Any]:
        """The first text (from the start) for which `found(text)` is true."""
        seen = 0
        async with asyncio.timeout(WAIT):
            while True:
                for text in self.texts[seen:]:
                    if found(text):
                        return text
                seen = len(self.texts)
                self.got.clear()
                await self.got.wait()

    @property
    def said(self) -> list[str]:
        return [text['say'] for text in self.texts if 'say' in text]


async def open_board(zone: str | None = None) -> Board:
    board = Board()
    channel = (await (await parts()).boards.board(zone)).channel
    board.task = asyncio.get_running_loop().create_task(channel.serve(board))
    await board.until(lambda text: 'calls' in text)  # the snapshot
    return board


def now_calling(text: dict[str, Any]) -> tuple[str, int] | None:
    calls = text.get('calls')
    return (calls[0]['number'], calls[0]['window']) if calls else None


async def test_the_page_is_the_board_without_calls_and_needs_no_login(
    board_ui: tuple[SmallHall, KioskHall], user: User
) -> None:
    await ready()
    page = await user.http_client.get('/display')
    assert page.status_code == 200 and page.headers['content-type'].startswith('text/html')
    for testid in ('board', 'board-said', 'board-calls', 'board-queue-SVC-A', 'elder-toggle', 'voice-overlay'):
        assert f'data-testid="{testid}"' in page.text
    assert 'data-socket="/live/board"' in page.text and '<html lang="zh-CN">' in page.text
    assert 'aria-live="polite"' in page.text
    zone = await user.http_client.get('/display/senior')
    assert zone.status_code == 200 and 'data-socket="/live/board/senior"' in zone.text
    assert '银发服务窗口' in zone.text and 'board-queue-SVC-A' not in zone.text  # window 5 serves only SVC-C


async def test_a_call_appears_big_and_its_announcement_is_queued(
    board_ui: tuple[SmallHall, KioskHall], user: User
) -> None:
    hall, _ = board_ui
    rt = await ready()
    board = await open_board()
    assert board.texts[0]['calls'] == [] and board.texts[0]['waiting']['SVC-A'] == 0
    await rt.queue.take_ticket(
        TicketCreate(service_code='SVC-A', id_number=make_id(dt.date(1980, 5, 1)), name='王小明'), caller=DESK
    )
    await board.until(lambda text: text.get('waiting', {}).get('SVC-A') == 1)
    await rt.queue.call_next(hall.window_1, caller=DESK)
    called = await board.until(lambda text: 'say' in text)
    assert now_calling(called) == ('A001', 1) and called['calls'][0]['recall'] is False
    await board.until(lambda text: text.get('waiting', {}).get('SVC-A') == 0)
    assert not any('王' in raw for raw in board.raw)  # no name, not even masked
    assert board.said == ['请 A001 号到 1 号窗口办理']

    pass_recall_interval(rt.queue)
    await rt.queue.recall(hall.window_1, caller=DESK)  # a recall repeats the call
    recalled = await board.until(lambda text: bool(text.get('calls')) and text['calls'][0]['recall'])
    assert now_calling(recalled) == ('A001', 1) and len(recalled['calls']) == 1
    assert board.said == ['请 A001 号到 1 号窗口办理'] * 2
    seqs = [text['seq'] for text in board.texts]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # numbered one by one: nothing missed


async def test_the_list_keeps_earlier_calls_and_a_zone_board_shows_only_its_windows(
    board_ui: tuple[SmallHall, KioskHall], user: User
) -> None:
    hall, extra = board_ui
    rt = await ready()
    board = await open_board('senior')
    assert set(board.texts[0]['waiting']) == {'SVC-C'}
    await rt.queue.take_ticket(TicketCreate(service_code='SVC-A'), caller=DESK)
    await rt.queue.take_ticket(TicketCreate(service_code='SVC-C'), caller=DESK)
    await rt.queue.take_ticket(TicketCreate(service_code='SVC-C'), caller=DESK)
    await rt.queue.call_next(hall.window_1, caller=DESK)  # not a senior window: not on this board
    await rt.queue.call_next(extra.senior_window_id, caller=DESK)
    first = await board.until(lambda text: 'say' in text)
    assert now_calling(first) == ('C001', 5)
    await rt.queue.complete(extra.senior_window_id, caller=DESK)
    await rt.queue.call_next(extra.senior_window_id, caller=DESK)
    second = await board.until(lambda text: text.get('say', '').startswith('请 C002'))
    assert [c['number'] for c in second['calls']] == ['C002', 'C001']
    assert not any('A001' in raw or 'SVC-A' in raw for raw in board.raw)


async def test_a_board_opened_late_is_shown_what_windows_serve_now(
    board_ui: tuple[SmallHall, KioskHall], user: User
) -> None:
    hall, _ = board_ui
    rt = await ready()
    await rt.queue.take_ticket(TicketCreate(service_code='SVC-A'), caller=DESK)
    await rt.queue.take_ticket(TicketCreate(service_code='SVC-B'), caller=DESK)
    await rt.queue.call_next(hall.window_1, caller=DESK)
    early = await open_board()  # the first board: its list is what the windows serve
    assert [now_calling(early.texts[0])] == [('A001', 1)] and len(early.texts[0]['calls']) == 1
    await rt.queue.call_next(hall.window_2, caller=DESK)
    called = await early.until(lambda text: 'say' in text)
    late = await open_board()  # joins the same board: its snapshot is the list as it is now
    assert late.texts[0]['calls'] == called['calls'] and len(called['calls']) == 2
    assert 'say' not in late.texts[0]  # a snapshot announces nothing
    assert late.texts[0]['seq'] >= called['seq']


async def test_an_unknown_zone_is_a_404_and_the_board_needs_no_login(
    board_ui: tuple[SmallHall, KioskHall], user: User
) -> None:
    await ready()
    assert (await user.http_client.get('/display/nowhere')).status_code == 404
    assert (await user.http_client.get('/display')).status_code == 200
