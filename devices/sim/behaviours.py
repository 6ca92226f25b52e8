"""How each simulated device kind behaves: its own activity, its answers to commands, its troubles.

Activity (sessions, card reads, scans, faces, seat changes) happens only with HALL_SIMULATION=on;
answering commands (printing, announcing) and heartbeats always do, so with simulation off the hall
has healthy, quiet devices. Faults and disconnects come at `fault_rate` per device-hour.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass, field
from typing import Any, ClassVar

from app.models.device import DeviceKind
from devices.sim import face_motion, samples
from devices.sim.client import Backoff, DeviceClient, Refused


@dataclass
class SimWorld:
    """What every simulated device shares: randomness, switches, and what the hall looks like right now."""

    qr: samples.QrSamples  # signed codes for the scanners, prepared by whoever holds the code-signing key
    activity: bool = True
    fault_rate: float = 0.0  # faults and disconnects per device-hour
    speed: float = 1.0  # > 1 compresses time (tests, demos)
    rng: random.Random = field(default_factory=random.Random)
    cards: list[samples.Card] = field(default_factory=list)
    waiting: int = 0  # tickets waiting in the hall (kept current by the fleet's HallWatcher)
    seats: int = 1

    async def pause(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self.speed)

    def gap(self, mean_seconds: float) -> float:
        return self.rng.expovariate(1 / mean_seconds)


class SimulatedDevice:
    kind: ClassVar[DeviceKind]
    mean_gap: ClassVar[float] = 120.0  # seconds between uses
    fault_codes: ClassVar[tuple[str, ...]] = ('hardware',)

    def __init__(self, world: SimWorld, url: str, code: str, credential: str) -> None:
        self.world = world
        self.code = code
        self.client = DeviceClient(url, code, credential, on_command=self.on_command, backoff=Backoff(rng=world.rng))
        self.fault: str | None = None

    async def run(self) -> None:
        jobs = [self.client.run()]
        if self.world.activity:
            jobs.append(self._act_forever())
            if self.world.fault_rate > 0:
                jobs.append(self._troubles_forever())
        await asyncio.gather(*jobs)

    async def _act_forever(self) -> None:
        while True:
            await self.world.pause(self.world.gap(self.mean_gap))
            if self.client.connected.is_set():
                with contextlib.suppress(Refused, TimeoutError):
                    await self.act()

    async def act(self) -> None:
        """One use of the device (subclasses)."""

    async def _troubles_forever(self) -> None:
        world = self.world
        while True:
            await world.pause(world.gap(3600 / world.fault_rate))
            if not self.client.connected.is_set():
                continue
            if world.rng.random() < 0.5:
                await self.client.disconnect()
                continue
            self.fault = world.rng.choice(self.fault_codes)
            with contextlib.suppress(Refused, TimeoutError):
                await self.client.send('fault', {'code': self.fault})
                await world.pause(world.rng.uniform(30, 180))
                self.fault = None
                await self.client.send('recovered')

    async def on_command(self, client: DeviceClient, type_: str, command_id: str, data: dict[str, Any]) -> None:
        await client.ack(command_id, ok=False, error='unsupported')


class KioskSim(SimulatedDevice):
    kind = DeviceKind.KIOSK
    mean_gap = 90.0

    async def act(self) -> None:
        session_id = f'{self.code}-{self.world.rng.getrandbits(32):08x}'
        await self.client.send('session_start', {'session_id': session_id})
        await self.world.pause(self.world.rng.uniform(20, 90))
        if self.world.rng.random() < 0.05:
            await self.client.send('help', {'session_id': session_id, 'note': '呼叫人工'})
        outcome = 'ticket' if self.world.rng.random() < 0.85 else 'abandoned'
        await self.client.send('session_end', {'session_id': session_id, 'outcome': outcome})


class IdReaderSim(SimulatedDevice):
    kind = DeviceKind.ID_READER

    async def act(self) -> None:
        card = self.world.rng.choice(self.world.cards)
        if self.world.rng.random() < 0.1:
            card = samples.broken_card(card)
        await self.client.send('card_read', {'id_number': card.id_number, 'name': card.name})


class QrScannerSim(SimulatedDevice):
    kind = DeviceKind.QR_SCANNER
    mean_gap = 180.0

    async def act(self) -> None:
        rng, qr = self.world.rng, self.world.qr
        roll = rng.random()
        if roll < 0.1:
            text = qr.forged(rng)
        elif roll < 0.15:
            text = 'https://example.com/not-ours'
        else:
            text = qr.genuine(rng)
        if rng.random() < 0.2:
            await self.client.send('qr_text', {'text': text})
        else:
            await self.client.send('qr_image', {'image': samples.b64(samples.qr_png(text)), 'format': 'png'})


class CameraSim(SimulatedDevice):
    kind = DeviceKind.CAMERA
    mean_gap = 240.0
    fault_codes = ('lens_blocked', 'hardware')

    async def act(self) -> None:
        await self._face()

    async def on_command(self, client: DeviceClient, type_: str, command_id: str, data: dict[str, Any]) -> None:
        if type_ not in ('capture', 'enrol_capture'):
            await super().on_command(client, type_, command_id, data)
            return
        session_id = str(data.get('session_id', ''))
        try:
            await (self._face(session_id) if type_ == 'capture' else self._enrol(session_id))
        except (Refused, TimeoutError):
            await client.ack(command_id, ok=False, error='not_sent')
            return
        await client.ack(command_id)

    async def _enrol(self, session_id: str) -> None:
        """One of the sample people in front of the camera: blinking, turning, or a photo held still."""
        rng = self.world.rng
        cue = rng.choices(face_motion.CUES, weights=(3, 2, 1))[0]
        face = rng.choice(samples.face_jpegs())
        await self.client.send(
            'face_frames',
            {'session_id': session_id, 'landmarks': face_motion.frames(cue, rng), 'image': samples.b64(face)},
        )

    async def _face(self, session_id: str = '') -> None:
        face = self.world.rng.choice(samples.face_jpegs())
        await self.client.send('face_image', {'image': samples.b64(face), 'format': 'jpeg', 'session_id': session_id})


class PrinterSim(SimulatedDevice):
    kind = DeviceKind.PRINTER
    fault_codes = ('paper_out', 'jam')

    async def on_command(self, client: DeviceClient, type_: str, command_id: str, data: dict[str, Any]) -> None:
        if type_ != 'print':
            await super().on_command(client, type_, command_id, data)
            return
        await self.world.pause(0.3)
        await client.ack(command_id, ok=self.fault is None, error=self.fault or '')


class CallDisplaySim(SimulatedDevice):
    kind = DeviceKind.CALL_DISPLAY

    async def on_command(self, client: DeviceClient, type_: str, command_id: str, data: dict[str, Any]) -> None:
        if type_ != 'announce':
            await super().on_command(client, type_, command_id, data)
            return
        await client.ack(command_id)
        await self.world.pause(0.15 * len(str(data.get('text', ''))))
        with contextlib.suppress(Refused, TimeoutError):
            await client.send('announced', {'of': command_id})


class RatingPadSim(SimulatedDevice):
    """Shows each completion at its window; the citizen taps a level sometimes, mostly a good one."""

    kind = DeviceKind.RATING_PAD
    rate_share = 0.6  # how often a citizen rates at the pad (the rest rate later on /track, or never)
    levels = (('very_good', 0.6), ('good', 0.3), ('bad', 0.07), ('very_bad', 0.03))

    async def on_command(self, client: DeviceClient, type_: str, command_id: str, data: dict[str, Any]) -> None:
        if type_ != 'show_rating':
            await super().on_command(client, type_, command_id, data)
            return
        await client.ack(command_id)
        rng = self.world.rng
        if rng.random() >= self.rate_share:
            return
        await self.world.pause(rng.uniform(2, 8))
        level = rng.choices([code for code, _ in self.levels], weights=[w for _, w in self.levels])[0]
        with contextlib.suppress(Refused, TimeoutError):
            await client.send('rating', {'ticket': int(data['ticket']), 'level': level})


class SeatSim(SimulatedDevice):
    """Sits and stands with the queue: the more tickets wait, the fuller the waiting area."""

    kind = DeviceKind.SEAT
    mean_gap = 60.0

    def __init__(self, world: SimWorld, url: str, code: str, credential: str) -> None:
        super().__init__(world, url, code, credential)
        self.occupied = False
        self.indicator = ''

    async def on_command(self, client: DeviceClient, type_: str, command_id: str, data: dict[str, Any]) -> None:
        """The comfort prompt lights the seat's indicator until the seat is left."""
        if type_ != 'indicator':
            await super().on_command(client, type_, command_id, data)
            return
        self.indicator = str(data.get('text', '')) if self.occupied and data.get('on') else ''
        await client.ack(command_id)

    async def act(self) -> None:
        world = self.world
        fullness = min(0.95, world.waiting * 0.8 / max(1, world.seats))
        leave = 0.05 + (1 - fullness) * 0.5
        flip = world.rng.random() < (leave if self.occupied else fullness)
        if flip:
            self.occupied = not self.occupied
            if not self.occupied:
                self.indicator = ''
            await self.client.send('occupancy', {'occupied': self.occupied})


SIMULATORS: dict[DeviceKind, type[SimulatedDevice]] = {
    sim.kind: sim
    for sim in (KioskSim, IdReaderSim, QrScannerSim, CameraSim, PrinterSim, CallDisplaySim, SeatSim, RatingPadSim)
}
