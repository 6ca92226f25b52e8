"""The real app (`python main.py`): /ws/devices is mounted; DEVICE_MODE=simulated brings the devices online."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from devices import protocol
from tests.apphost import sqlite_url, start_app
from tests.devices.hubharness import DEVICES, hall_with_devices


async def test_simulated_mode_connects_every_device_to_the_apps_own_hub(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / 'hall.db')
    await hall_with_devices(url)
    app = await asyncio.to_thread(start_app, url, tmp_path, {'DEVICE_MODE': 'simulated', 'HALL_SIMULATION': 'off'})
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and app.output().count(') is online') < len(DEVICES):
            await asyncio.sleep(0.2)
        assert app.output().count(') is online') == len(DEVICES), app.output()
        ws_url = app.base_url.replace('http', 'ws') + protocol.PATH
        async with connect(ws_url) as ws:
            await ws.send(protocol.encode('hello', {'device': 'S-01', 'credential': 'forged'}))
            try:
                while True:
                    await ws.recv()
            except ConnectionClosed as closed:
                assert closed.rcvd is not None and closed.rcvd.code == protocol.CloseCode.AUTH_FAILED
    finally:
        await asyncio.to_thread(app.stop)
    assert ') is offline' not in app.output()  # stopping the app is not a hall full of device failures
