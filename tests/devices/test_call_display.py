"""Call displays: calls routed to the right boards, one announcement at a time per display, recalls repeated."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from app.clock import utcnow
from app.events import TicketCalled, TicketResumed, TicketSnapshot
from devices.sim.client import DeviceClient
from tests.devices.hubharness import HubHarness
from tests.factories import SmallHall


class DisplayFirmware:
    """Acks at once, speaks for `speech` seconds, then reports announced (unless mute); records when it spoke."""

    def __init__(self, speech: float = 0.15, *, mute: bool = False) -> None:
        self.speech, self.mute = speech, mute
        self.spoken: list[tuple[str, float, float]] = []

    async def __call__(self, client: DeviceClient, type_: str, command_id: str, data: dict[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        await client.ack(command_id)
        start = loop.time()
        await asyncio.sleep(self.speech)
        self.spoken.append((data['text'], start, loop.time()))
        if not self.mute:
            await client.send('announced', {'of': command_id})


def snapshot(number: str, window: int, window_id: int) -> TicketSnapshot:
    now = utcnow()
    return TicketSnapshot(
        id=1, number=number, service_id=1, service_code='SVC-A', status='called', priority_class='normal',
        queued_at=now, taken_at=now, called_at=now, window_id=window_id, window_number=window,
    )  # fmt: skip


def called(hall: SmallHall, number: str, window: int, window_id: int, *, recall: bool = False) -> TicketCalled:
    return TicketCalled(hall_id=hall.hall_id, payload=snapshot(number, window, window_id), recall=recall)


async def displays(harness: HubHarness, **firmware: DisplayFirmware) -> None:
    clients = [harness.client(code, on_command=fw) for code, fw in firmware.items()]
    for client in clients:
        await client.connected.wait()


async def test_announcements_on_one_display_never_overlap_and_recalls_repeat(
    harness: HubHarness, device_hall: SmallHall
) -> None:
    board, own, other = DisplayFirmware(), DisplayFirmware(), DisplayFirmware()
    await displays(harness, **{'CD-MAIN': board, 'CD-W1': own, 'CD-W2': other})
    hall = device_hall
    for event in (
        called(hall, 'A012', 1, hall.window_1),
        called(hall, 'B003', 2, hall.window_2),
        called(hall, 'A012', 1, hall.window_1, recall=True),
        TicketResumed(hall_id=hall.hall_id, payload=snapshot('B001', 2, hall.window_2)),  # called back from parking
    ):
        await harness.bus.publish(event)
    await harness.wait_for(lambda: len(board.spoken) == 4, timeout=5)
    a012, b003, b001 = '请 A012 号到 1 号窗口办理', '请 B003 号到 2 号窗口办理', '请 B001 号到 2 号窗口办理'
    assert [text for text, _, _ in board.spoken] == [a012, b003, a012, b001]
    for (_, _, first_end), (_, second_start, _) in itertools.pairwise(board.spoken):
        assert second_start >= first_end  # the next waited for `announced`
    assert [text for text, _, _ in own.spoken] == ['请 A012 号到 1 号窗口办理'] * 2
    assert [text for text, _, _ in other.spoken] == [b003, b001]


async def test_a_display_that_never_reports_announced_delays_the_next_call_only_until_the_timeout(
    harness: HubHarness, device_hall: SmallHall
) -> None:
    mute = DisplayFirmware(speech=0.05, mute=True)
    await displays(harness, **{'CD-GENERAL': mute})
    hall = device_hall
    await harness.bus.publish(called(hall, 'A001', 1, hall.window_1))
    await harness.bus.publish(called(hall, 'A002', 1, hall.window_1))
    await harness.wait_for(lambda: len(mute.spoken) == 2, timeout=5)
    (_, first_start, _), (_, second_start, _) = mute.spoken
    assert second_start - first_start >= harness.service.tuning.announce_timeout * 0.9
