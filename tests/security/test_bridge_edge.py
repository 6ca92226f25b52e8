"""The device bridge against the real app (`python main.py`, DEVICE_MODE=websocket), probed as an attacker would.

A bridge is only as trusted as the credential it holds: a wrong one, or another device's, is refused
at hello, and the bridge stops retrying (a credential never heals by retrying) instead of hammering
the hall. Whatever a peripheral sends (megabytes without a line end, bytes that are not text,
control characters) stays on the bridge: the hub's refusal counters, read as a manager reads them,
do not move. `--check` says all this in a technician's words.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.security.credentials import device_credential
from app.settings import ROOT
from devices import protocol
from devices.bridge.config import ConfigError, load
from devices.bridge.runner import build_all
from devices.sim.client import Backoff
from tests.apphost import TEST_SECRET, AppProcess
from tests.bridgekit import EscposPrinterEmulator, IdServiceEmulator, SerialPair, write_config
from tests.devices.hubharness import running_hub_app
from tests.security.test_device_edge import hub_counters, manager_headers

WRONG = 'ab' * 32


@pytest.fixture(scope='module')
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    """The small hall with one device per kind, hub only (tests/devices/hubharness.py)."""
    with running_hub_app(tmp_path_factory.mktemp('bridge-edge')) as app:
        yield app


@pytest.fixture(scope='module')
def manager(live: AppProcess) -> dict[str, str]:
    """The hall manager's bearer headers, signed in once for the module: the second factor takes each 30-second
    step once per person, so a fourth sign-in in a minute would wait for the next step."""
    return manager_headers(live)


@pytest.fixture
def serial() -> Iterator[SerialPair]:
    pair = SerialPair()
    yield pair
    pair.close()


def hub_url(app: AppProcess) -> str:
    return app.base_url.replace('http://', 'ws://') + protocol.PATH


def real(code: str) -> str:
    return device_credential(TEST_SECRET.encode(), code)


async def counters(app: AppProcess, manager: dict[str, str]) -> dict[str, Any]:
    return await asyncio.to_thread(hub_counters, app, manager)


async def run_bridge(config: Path, *extra: str) -> tuple[int, str]:
    """`python -m devices.bridge --config ... --check` (or `extra` arguments instead), as a technician runs it."""
    env = {k: v for k, v in os.environ.items() if k != 'PYTEST_CURRENT_TEST'}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        '-m',
        'devices.bridge',
        '--config',
        str(config),
        *(extra or ('--check',)),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, output.decode()


@pytest.mark.parametrize('credential', [WRONG, real('K01-PRN')], ids=['wrong', 'another-devices'])
async def test_a_bridge_with_a_credential_that_is_not_its_devices_is_refused_and_stops_retrying(
    live: AppProcess, manager: dict[str, str], tmp_path: Path, serial: SerialPair, credential: str
) -> None:
    before = await counters(live, manager)
    config = write_config(
        tmp_path,
        hub_url(live),
        {'scanner': [{'device': 'K01-QR', 'connection': 'serial', 'port': serial.port}]},
        {'K01-QR': credential},
    )
    [scanner] = build_all(load(config), backoff=lambda: Backoff(initial=0.05, maximum=0.1, jitter=0))
    try:
        await asyncio.wait_for(scanner.run(), 10)  # returns: refused, not retried
    finally:
        await scanner.stop()
    assert len(scanner.client.attempts) == 1
    assert not scanner.client.connected.is_set()
    after = await counters(live, manager)
    assert after['rejected'].get('auth_failed', 0) == before['rejected'].get('auth_failed', 0) + 1


async def test_a_bridge_whose_every_credential_is_refused_exits_3_so_its_service_is_not_restarted(
    live: AppProcess, manager: dict[str, str], tmp_path: Path, serial: SerialPair
) -> None:
    before = await counters(live, manager)
    peripherals = {'scanner': [{'device': 'K01-QR', 'connection': 'serial', 'port': serial.port}]}
    config = write_config(tmp_path, hub_url(live), peripherals, {'K01-QR': WRONG})
    code, output = await run_bridge(config, '--verbose')
    assert code == 3, output
    assert "K01-QR: the hall refused this device's credential" in output and WRONG not in output
    after = await counters(live, manager)
    assert after['rejected'].get('auth_failed', 0) == before['rejected'].get('auth_failed', 0) + 1


async def test_check_tells_the_technician_that_the_hall_refuses_the_credential(
    live: AppProcess, tmp_path: Path, serial: SerialPair
) -> None:
    config = write_config(
        tmp_path,
        hub_url(live),
        {'scanner': [{'device': 'K01-QR', 'connection': 'serial', 'port': serial.port}]},
        {'K01-QR': WRONG},
    )
    code, output = await run_bridge(config)
    assert code == 1, output
    assert 'FAIL the hall server refuses K01-QR' in output
    assert f'OK   serial port {serial.port} opens' in output
    assert WRONG not in output  # the credential itself is never printed


async def test_a_credential_file_others_may_read_is_refused_before_anything_connects(
    live: AppProcess, tmp_path: Path, serial: SerialPair
) -> None:
    config = write_config(
        tmp_path,
        hub_url(live),
        {'scanner': [{'device': 'K01-QR', 'connection': 'serial', 'port': serial.port}]},
        {'K01-QR': real('K01-QR')},
    )
    (tmp_path / 'credentials' / 'K01-QR.key').chmod(0o644)
    with pytest.raises(ConfigError, match='chmod 600'):
        build_all(load(config))


async def test_oversized_and_malformed_scanner_input_never_reaches_the_hub(
    live: AppProcess, manager: dict[str, str], tmp_path: Path, serial: SerialPair
) -> None:
    config = write_config(
        tmp_path,
        hub_url(live),
        {'scanner': [{'device': 'K01-QR', 'connection': 'serial', 'port': serial.port}]},
        {'K01-QR': real('K01-QR')},
    )
    [scanner] = build_all(load(config), backoff=lambda: Backoff(initial=0.05, maximum=0.2, jitter=0))
    task = asyncio.get_running_loop().create_task(scanner.run())
    try:
        await asyncio.wait_for(scanner.client.connected.wait(), 10)
        before = await counters(live, manager)
        await serial.send(b'9' * 1_000_000 + b'\n')  # 1 MB, twice the transport's own limit
        await serial.send(b'\xc0\xc1\xf5\xff\n' + b'{"v":1,"type":"hello"}\x00\n' + b'x' * 600 + b'\r')
        deadline = asyncio.get_running_loop().time() + 20
        while scanner.dropped < 4 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        assert scanner.dropped == 4
        await serial.send(b'https://example.com/not-ours\n')
        while (await counters(live, manager))['frames'] == before['frames']:
            await asyncio.sleep(0.1)
        after = await counters(live, manager)
        assert after['rejected'] == before['rejected']
        assert scanner.client.connected.is_set() and not task.done()  # the bridge carried on
    finally:
        await scanner.stop()
        task.cancel()


async def test_check_passes_for_a_wired_and_provisioned_kiosk(
    live: AppProcess,
    tmp_path: Path,
    serial: SerialPair,
    printer: EscposPrinterEmulator,
    id_service: IdServiceEmulator,
) -> None:
    peripherals = {
        'printer': [{'device': 'K01-PRN', 'host': '127.0.0.1', 'port': printer.port}],
        'scanner': [{'device': 'K01-QR', 'connection': 'serial', 'port': serial.port}],
        'id_reader': [{'device': 'K01-ID', 'url': id_service.url}],
    }
    config = write_config(tmp_path, hub_url(live), peripherals, {c: real(c) for c in ('K01-PRN', 'K01-QR', 'K01-ID')})
    code, output = await run_bridge(config)
    assert code == 0, output
    assert 'paper in and cover closed' in output and 'Everything configured works.' in output
    printer.paper_out = True
    code, output = await run_bridge(config)
    assert code == 1 and 'FAIL the paper roll is empty: put in a new roll' in output, output
