"""The shared broadcast behind public live pages: one text for all, a snapshot first, slow readers dropped alone."""

from __future__ import annotations

import asyncio
import json

from app.fanout import LISTEN_ONLY, TOO_SLOW, Channel, SocketLimits


class Reader:
    """An accepted socket as the channel sees it: what it was sent, how it was closed; `stuck` never reads."""

    def __init__(self, *, stuck: bool = False) -> None:
        self.texts: list[str] = []
        self.closed: int | None = None
        self.stuck = stuck
        self.inbox: asyncio.Queue[dict[str, object]] = asyncio.Queue()
        self.got = asyncio.Event()

    async def send_text(self, data: str) -> None:
        if self.stuck:
            await asyncio.Event().wait()  # a reader whose window never opens: the send never completes
        self.texts.append(data)
        self.got.set()

    async def receive(self) -> dict[str, object]:
        return await self.inbox.get()

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed = code

    async def count(self, n: int) -> None:
        async with asyncio.timeout(5):
            while len(self.texts) < n:
                self.got.clear()
                await self.got.wait()


def counter_channel(limit: int = 16) -> tuple[Channel, list[int]]:
    made: list[int] = []

    def snapshot(seq: int) -> str:
        made.append(seq)
        return json.dumps({'seq': seq, 'snapshot': True})

    return Channel(snapshot, queue_limit=limit), made


async def test_a_change_is_serialised_once_and_the_same_text_reaches_every_subscriber() -> None:
    channel, _ = counter_channel()
    readers = [Reader() for _ in range(50)]
    serving = [asyncio.create_task(channel.serve(r)) for r in readers]
    for reader in readers:
        await reader.count(1)
    built: list[int] = []

    def message(seq: int) -> str:
        built.append(seq)
        return json.dumps({'seq': seq, 'say': 'A001'})

    channel.publish(message)
    for reader in readers:
        await reader.count(2)
    assert built == [1]
    assert len({id(r.texts[1]) for r in readers}) == 1  # one str object, queued for all
    for reader in readers:
        await reader.inbox.put({'type': 'websocket.disconnect'})
    await asyncio.gather(*serving)
    assert channel.subscribers == set() and all(r.closed is None for r in readers)


async def test_a_joining_page_gets_a_snapshot_made_once_per_change_then_numbered_texts() -> None:
    channel, made = counter_channel()
    channel.publish(lambda seq: json.dumps({'seq': seq}))
    first, second = Reader(), Reader()
    serving = [asyncio.create_task(channel.serve(r)) for r in (first, second)]
    await first.count(1)
    await second.count(1)
    assert made == [1]  # two joins after one change: one snapshot
    assert json.loads(first.texts[0]) == {'seq': 1, 'snapshot': True}
    channel.publish(lambda seq: json.dumps({'seq': seq}))
    await first.count(2)
    assert json.loads(first.texts[1]) == {'seq': 2}
    for task in serving:
        task.cancel()


async def test_a_reader_that_stops_reading_is_dropped_and_the_others_get_every_text() -> None:
    channel, _ = counter_channel(limit=4)
    stuck, fine = Reader(stuck=True), Reader()
    serving = {name: asyncio.create_task(channel.serve(r)) for name, r in (('stuck', stuck), ('fine', fine))}
    await fine.count(1)
    for n in range(10):  # one text at a time: a reader that keeps up never has more than one waiting
        channel.publish(lambda seq: json.dumps({'seq': seq}))
        await fine.count(n + 2)
    async with asyncio.timeout(5):
        await serving['stuck']
    assert stuck.closed == TOO_SLOW and stuck.texts == []
    assert channel.stats.dropped == 1 and len(channel.subscribers) == 1
    assert [json.loads(t)['seq'] for t in fine.texts[1:]] == list(range(1, 11))
    serving['fine'].cancel()


async def test_a_client_that_sends_anything_is_closed_and_leaves_the_channel() -> None:
    channel, _ = counter_channel()
    talker = Reader()
    serving = asyncio.create_task(channel.serve(talker))
    await talker.count(1)
    await talker.inbox.put({'type': 'websocket.receive', 'text': 'x' * 100_000})
    async with asyncio.timeout(5):
        await serving
    assert talker.closed == LISTEN_ONLY and channel.subscribers == set()
    assert channel.stats.refused_messages == 1


async def test_closing_a_channel_drops_its_pages_so_they_reconnect() -> None:
    channel, _ = counter_channel()
    reader = Reader()
    serving = asyncio.create_task(channel.serve(reader))
    await reader.count(1)
    channel.close_all()
    async with asyncio.timeout(5):
        await serving
    assert reader.closed == TOO_SLOW and channel.subscribers == set()


def test_one_address_holds_at_most_its_share_and_the_process_its_total() -> None:
    limits = SocketLimits(per_address=2, total=3)
    assert limits.take('10.0.0.1') and limits.take('10.0.0.1')
    assert not limits.take('10.0.0.1')
    assert limits.take('10.0.0.2')
    assert not limits.take('10.0.0.3')  # the process is full
    limits.give_back('10.0.0.1')
    assert limits.take('10.0.0.3')
    assert limits.refused == 2 and limits.count == 3
    for address in ('10.0.0.1', '10.0.0.2', '10.0.0.3'):
        limits.give_back(address)
    assert limits.count == 0 and not limits.open
