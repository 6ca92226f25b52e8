"""`python -m devices.sim --url ws://127.0.0.1:8080/ws/devices`: connect every seeded device and simulate it.

An operator's tool on the hall server: it derives the devices' credentials and its sample QR codes'
signatures from SECRET_KEY (the same as the app's), and reads the devices from DATABASE_URL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random

from app.db import Database
from app.security.credentials import device_credential
from app.security.keys import Purpose
from app.services.halls import hall_to_serve
from app.settings import get_settings
from devices.sim.behaviours import SimWorld
from devices.sim.fleet import SimulatedFleet, fleet_specs, seeded_devices
from devices.sim.samples import signed_qr_samples


def parse_args() -> argparse.Namespace:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog='python -m devices.sim', description=__doc__)
    parser.add_argument('--url', default=f'ws://127.0.0.1:{settings.port}/ws/devices', help='the hub to connect to')
    parser.add_argument(
        '--activity',
        choices=['on', 'off'],
        default=settings.hall_simulation,
        help='create sessions, reads, scans and seat changes (default: HALL_SIMULATION)',
    )
    parser.add_argument(
        '--fault-rate',
        type=float,
        default=settings.device_fault_rate,
        help='faults and disconnects per device-hour (default: DEVICE_FAULT_RATE)',
    )
    parser.add_argument('--speed', type=float, default=1.0, help='time compression (10: ten times as busy)')
    parser.add_argument('--kinds', default='', help='only these kinds, comma-separated (e.g. seat,kiosk)')
    parser.add_argument('--duration', type=float, default=0, help='stop after this many seconds (0: run until Ctrl-C)')
    parser.add_argument('--seed', type=int, default=None, help='random seed, for a repeatable run')
    return parser.parse_args()


async def main(args: argparse.Namespace) -> None:
    settings = get_settings()
    db = Database(settings.db_url)
    try:
        async with db.read_session() as s:
            hall = await hall_to_serve(s, settings.hall_code)  # HALL_CODE: the hall whose devices to play
        assert hall.id is not None
        devices = await seeded_devices(db, hall.id)
    finally:
        await db.dispose()
    if args.kinds:
        wanted = {kind.strip() for kind in args.kinds.split(',')}
        devices = {code: kind for code, kind in devices.items() if kind in wanted}
    credentials = {code: device_credential(settings.secret, code) for code in devices}
    specs = fleet_specs(devices, credentials)
    world = SimWorld(
        qr=signed_qr_samples(settings.key(Purpose.CODE_SIGNING)),
        activity=args.activity == 'on',
        fault_rate=args.fault_rate,
        speed=args.speed,
        rng=random.Random(args.seed),
    )
    fleet = SimulatedFleet(args.url, specs, world)
    fleet.start()
    try:
        await asyncio.sleep(args.duration or float('inf'))
    finally:
        await fleet.stop()


if __name__ == '__main__':
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(parse_args()))
