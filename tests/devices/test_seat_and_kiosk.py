"""Seats (occupancy, the long-wait comfort prompt) and kiosks (sessions, help, the usage suggestion)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from app.bus import InProcessBus
from app.events import ComfortPrompt, DeviceSuggestion, HelpRequested, SeatChanged
from app.models.ticket import TicketCreate
from app.security.keys import Purpose
from app.services.queue import QueueService
from devices.sim import samples
from devices.sim.behaviours import SeatSim, SimWorld
from devices.sim.client import DeviceClient
from tests.callers import DESK, deps_for
from tests.conftest import FakeClock
from tests.devices.hubharness import PROMPTS, HubHarness
from tests.factories import SmallHall


async def take_a_ticket(harness: HubHarness, hall: SmallHall, clock: FakeClock) -> None:
    queue = QueueService(
        deps_for(harness.db, InProcessBus(), hall_id=hall.hall_id, settings=harness.settings, clock=clock)
    )
    await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)


async def test_a_seat_held_past_the_threshold_while_tickets_wait_prompts_once(
    harness: HubHarness, device_hall: SmallHall, clock: FakeClock
) -> None:
    seat = harness.client('S-01')
    await seat.connected.wait()
    await seat.send('occupancy', {'occupied': True})
    sat_down = clock.now
    clock.advance(31)
    await harness.service.sweep()  # nobody is waiting for a number: no prompt
    await take_a_ticket(harness, device_hall, clock)
    await harness.service.sweep()
    await harness.service.sweep()  # once per occupancy
    await harness.bus.drain()
    (prompt,) = harness.events_of(ComfortPrompt)
    assert (prompt.device.code, prompt.occupied_since, prompt.waited_minutes) == ('S-01', sat_down, 31)
    assert (prompt.text_zh, prompt.text_en) == (PROMPTS['long_wait_comfort']['zh'], PROMPTS['long_wait_comfort']['en'])
    await seat.send('occupancy', {'occupied': False})
    await seat.send('occupancy', {'occupied': True})  # someone else sits down: a new wait begins
    sat_again = clock.now
    clock.advance(29)
    await harness.service.sweep()
    clock.advance(2)
    await harness.service.sweep()
    await harness.bus.drain()
    assert len(harness.events_of(ComfortPrompt)) == 2
    assert [(e.occupied, e.since) for e in harness.events_of(SeatChanged)] == [
        (True, sat_down),
        (False, None),
        (True, sat_again),
    ]


async def test_the_comfort_prompt_lights_the_seats_own_indicator_with_the_halls_text(
    harness: HubHarness, device_hall: SmallHall, clock: FakeClock
) -> None:
    shown: list[tuple[str, dict[str, Any]]] = []

    async def indicator(client: DeviceClient, type_: str, command_id: str, data: dict[str, Any]) -> None:
        shown.append((type_, data))
        await client.ack(command_id)

    seat = harness.client('S-01', on_command=indicator)
    await seat.connected.wait()
    await take_a_ticket(harness, device_hall, clock)
    await seat.send('occupancy', {'occupied': True})
    clock.advance(29)
    await harness.service.sweep()
    assert shown == []  # not yet 30 minutes
    clock.advance(2)
    await harness.service.sweep()
    await harness.service.sweep()
    await harness.wait_for(lambda: shown)
    prompt = PROMPTS['long_wait_comfort']
    assert shown == [
        ('indicator', {'on': True, 'text': prompt['zh'], 'text_en': prompt['en'], 'waited_minutes': 31}),
    ]


async def test_kiosk_sessions_count_help_alerts_and_heavy_use_raises_the_suggestion_once(
    harness: HubHarness, clock: FakeClock
) -> None:
    kiosk = harness.client('K01')
    await kiosk.connected.wait()
    for n in range(10):
        await kiosk.send('session_start', {'session_id': f's{n}'})
        if n == 3:
            await kiosk.send('help', {'note': '呼叫人工'})
        clock.advance(5)
        await kiosk.send('session_end', {'session_id': f's{n}', 'outcome': 'ticket'})
    await harness.service.sweep()  # busy 50 of the last 60 minutes: 83% > 80%
    await harness.service.sweep()
    await harness.bus.drain()
    (help_event,) = harness.events_of(HelpRequested)
    assert help_event.note == '呼叫人工'
    (suggestion,) = harness.events_of(DeviceSuggestion)
    assert suggestion.device.code == 'K01' and suggestion.usage > 0.8
    assert suggestion.text_zh == PROMPTS['device_usage_high']['zh']
    driver = harness.service.drivers['K01']
    assert (driver.health.uses['session'], driver.health.uses['help']) == (10, 1)
    clock.advance(60)  # a quiet hour re-arms it; heavy use again suggests again
    await harness.service.sweep()
    await kiosk.send('session_start', {'session_id': 'walked-off'})  # never ended: counts 15 minutes at most
    clock.advance(20)
    await kiosk.send('session_start', {'session_id': 't'})
    for n in range(8):
        await kiosk.send('session_start', {'session_id': f't{n}'})
        clock.advance(5)
        await kiosk.send('session_end', {'session_id': f't{n}'})
    await harness.service.sweep()
    await harness.bus.drain()
    assert len(harness.events_of(DeviceSuggestion)) == 2


async def test_a_kiosk_finds_its_peripherals(harness: HubHarness) -> None:
    found = {kind: driver.code for kind, driver in harness.service.peripherals('K01').items()}
    assert found == {'id_reader': 'K01-ID', 'qr_scanner': 'K01-QR', 'camera': 'K01-CAM', 'printer': 'K01-PRN'}


async def test_a_simulated_seat_accepts_the_indicator_and_lights_it_with_the_halls_text(
    harness: HubHarness, device_hall: SmallHall, clock: FakeClock
) -> None:
    world = SimWorld(qr=samples.signed_qr_samples(harness.settings.key(Purpose.CODE_SIGNING)), activity=False)
    seat = SeatSim(world, harness.url, 'S-01', harness.credential('S-01'))
    running = asyncio.get_running_loop().create_task(seat.run())
    try:
        await seat.client.connected.wait()
        seat.occupied = True
        await seat.client.send('occupancy', {'occupied': True})
        await take_a_ticket(harness, device_hall, clock)
        clock.advance(31)
        await harness.service.sweep()
        await harness.wait_for(lambda: seat.indicator == PROMPTS['long_wait_comfort']['zh'])  # a busy machine may lag
    finally:
        await seat.client.stop()
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
