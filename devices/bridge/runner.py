"""Build the configured peripherals, run them together, and `--check` them in a technician's words."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from devices import protocol
from devices.bridge.camera import Camera
from devices.bridge.config import BridgeConfig, ConfigError, Peripheral, read_credential
from devices.bridge.display import LedDisplay
from devices.bridge.id_reader import HttpIdReader, SerialIdReader
from devices.bridge.link import BridgedPeripheral, Check
from devices.bridge.printer import EscposPrinter
from devices.bridge.scanner import KeyboardScanner, SerialScanner
from devices.sim.client import Backoff

Factory = Callable[..., BridgedPeripheral]
CONNECTIONS: dict[str, dict[str, Factory]] = {
    'printer': {'network': EscposPrinter, 'usb': EscposPrinter},
    'scanner': {'serial': SerialScanner, 'hid': KeyboardScanner},
    'id_reader': {'http': HttpIdReader, 'serial': SerialIdReader},
    'camera': {'opencv': Camera},
    'display': {'serial': LedDisplay},
}


def build(spec: Peripheral, hub: str, credential: str, *, backoff: Backoff | None = None) -> BridgedPeripheral:
    choices = CONNECTIONS[spec.section]
    connection = spec.choice('connection', tuple(choices))
    return choices[connection](spec, hub, credential, backoff=backoff)


def build_all(config: BridgeConfig, *, backoff: Callable[[], Backoff] | None = None) -> list[BridgedPeripheral]:
    """Every configured peripheral (ConfigError names the first that cannot be used)."""
    return [
        build(spec, config.hub, read_credential(spec), backoff=backoff() if backoff else None)
        for spec in config.peripherals
    ]


class Bridge:
    def __init__(self, peripherals: list[BridgedPeripheral]) -> None:
        self.peripherals = peripherals
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(p.run(), name=f'bridge-{p.code}') for p in self.peripherals]

    async def wait(self) -> None:
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def stop(self) -> None:
        for peripheral in self.peripherals:
            with contextlib.suppress(Exception):
                await peripheral.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def hub_check(hub: str, code: str, credential: str, check: Check) -> None:
    """Say hello once: does the hall know this device and accept its credential?"""
    try:
        async with connect(hub, open_timeout=5, compression=None) as ws:
            await ws.send(
                protocol.encode(
                    'hello', {'device': code, 'credential': credential, 'firmware': 'halltwin-bridge/check'}
                )
            )
            async with asyncio.timeout(5):
                frame = json.loads(await ws.recv())
    except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as error:
        check.fail(
            f'the hall server at {hub} cannot be reached ({type(error).__name__}): check the "hub" address, '
            f'the network cable and that the hall server runs'
        )
        return
    except ConnectionClosed as closed:
        check.fail(
            f'the hall server closed the connection ({closed.rcvd.code if closed.rcvd else "no code"}): '
            f'try again in a minute'
        )
        return
    if frame.get('type') == 'welcome':
        kind = frame['data'].get('kind', '?')
        check.ok(f'the hall server accepts {code} (a {kind}); a running bridge for {code} was replaced and reconnects')
    else:
        check.fail(
            f'the hall server refuses {code}: the device code or its credential is wrong; make its credential '
            f'again on the hall server (`python -m devices.bridge.provision {code}`)'
        )


async def check_all(config: BridgeConfig, say: Callable[[str], None]) -> bool:
    """Check every peripheral: credential file, the hall's answer, the hardware. True if all is well."""
    all_ok = True
    for spec in config.peripherals:
        check = Check()
        say(f'\n{spec.label} ({spec.kind.value})')
        try:
            credential = read_credential(spec)
            check.ok(f'credential file {spec.credential_file} is in place and private')
            peripheral = build(spec, config.hub, credential)
        except ConfigError as error:
            check.fail(str(error))
        else:
            await hub_check(config.hub, spec.device, credential, check)
            await peripheral.check_hardware(check)
        for ok, text in check.lines:
            say(f'  {"OK  " if ok else "FAIL"} {text}')
        all_ok = all_ok and check.passed
    say('\nEverything configured works.' if all_ok else '\nSome things do not work: see FAIL above.')
    return all_ok
