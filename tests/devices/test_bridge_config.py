"""The bridge's config, credentials and provisioning: a technician's mistakes get an answer that names the fix."""

from __future__ import annotations

import logging
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.security.credentials import device_credential
from app.settings import ROOT
from devices.bridge import printer
from devices.bridge.__main__ import configure_logging
from devices.bridge.config import ConfigError, load, parse, read_credential
from devices.bridge.link import Check
from devices.bridge.runner import build
from tests.apphost import TEST_SECRET, sqlite_url
from tests.bridgekit import write_config
from tests.devices.hubharness import hall_with_devices

HUB = 'ws://127.0.0.1:9/ws/devices'
GOOD = 'ab' * 32


def document(**sections: Any) -> dict[str, Any]:
    return {'hub': HUB, **sections}


@pytest.mark.parametrize(
    ('doc', 'says'),
    [
        ({'hub': 'http://hall/ws/devices', 'scanner': {'device': 'K01-QR', 'port': 'x'}}, '"hub" must be'),
        (document(), 'no peripheral configured'),
        (document(printers=[{'device': 'K01-PRN'}]), 'unknown setting(s) printers'),
        (document(scanner=[{'device': 'K01 QR'}]), '"device" must be'),
        (document(scanner=[{'device': 'K01-QR'}], printer={'device': 'K01-QR'}), 'used twice: K01-QR'),
        (document(scanner='K01-QR'), '[scanner] must be a table'),
    ],
)
def test_a_config_mistake_is_named_with_its_table_and_key(doc: dict[str, Any], says: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        parse(doc, tmp_path / 'bridge.toml')
    assert says in str(error.value)


def test_options_of_the_wrong_kind_are_refused_when_the_peripheral_is_built(tmp_path: Path) -> None:
    def spec(section: str, **options: Any) -> Any:
        return parse(document(**{section: [{'device': 'X-1', **options}]}), tmp_path / 'b.toml').peripherals[0]

    cases = [
        (spec('printer', connection='bluetooth'), '"connection" must be one of network, usb'),
        (spec('display', connection='serial', port='/dev/null', template='{nope}'), 'template'),
        (spec('display', connection='serial', port='/dev/null', prefix='zz'), 'prefix'),
        (spec('id_reader', connection='serial', port='/dev/null', plugin='no.such:Thing'), 'cannot be loaded'),
        (spec('id_reader', connection='http', url='http://x', fields={'name': 'n'}), '"fields" must map'),
    ]
    for peripheral, says in cases:
        with pytest.raises(ConfigError, match=re.escape(says)):
            build(peripheral, HUB, GOOD)


def test_a_usb_printer_without_pyusb_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(printer.importlib.util, 'find_spec', lambda name: None)
    table = {'device': 'K01-PRN', 'connection': 'usb', 'vendor_id': 0x0416, 'product_id': 0x5011}
    [peripheral] = parse(document(printer=[table]), tmp_path / 'b.toml').peripherals
    with pytest.raises(ConfigError, match=re.escape("USB printers need pyusb: pip install '.[usb]'")):
        build(peripheral, HUB, GOOD)


def test_a_credential_file_must_exist_hold_a_credential_and_be_private(tmp_path: Path) -> None:
    config = load(write_config(tmp_path, HUB, {'scanner': [{'device': 'K01-QR', 'port': 'x'}]}, {'K01-QR': GOOD}))
    [peripheral] = config.peripherals
    assert read_credential(peripheral) == GOOD
    peripheral.credential_file.chmod(0o640)
    with pytest.raises(ConfigError, match='chmod 600'):
        read_credential(peripheral)
    peripheral.credential_file.write_text('not-a-credential')
    peripheral.credential_file.chmod(0o600)
    with pytest.raises(ConfigError, match='64 lowercase hex'):
        read_credential(peripheral)
    peripheral.credential_file.unlink()
    with pytest.raises(ConfigError, match=re.escape('devices.bridge.provision K01-QR')):
        read_credential(peripheral)


def test_the_bridge_exits_2_with_one_line_when_its_config_is_unusable(tmp_path: Path) -> None:
    config = tmp_path / 'bridge.toml'
    config.write_text('hub = "ws://hall/ws/devices"\n[[scanner]\n')
    result = subprocess.run(
        [sys.executable, '-m', 'devices.bridge', '--config', str(config), '--check'],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith('config problem: the config file') and 'not valid TOML' in result.stderr


async def test_provision_writes_private_credential_files_only_for_devices_of_the_hall(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / 'hall.db')
    await hall_with_devices(url)
    env = {k: v for k, v in os.environ.items() if k != 'PYTEST_CURRENT_TEST'}
    env |= {'DATABASE_URL': url, 'SECRET_KEY': TEST_SECRET, 'VAR_DIR': str(tmp_path / 'var')}
    out = tmp_path / 'keys'

    def provision(*codes: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, '-m', 'devices.bridge.provision', *codes, '--out', str(out)]
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    refused = provision('K01-PRN', 'K99-FAKE')
    assert refused.returncode == 2 and 'no such device in this hall: K99-FAKE' in refused.stderr
    assert not out.exists() or not list(out.iterdir())  # nothing written when one code is wrong
    done = provision('K01-PRN', 'K01-QR')
    assert done.returncode == 0, done.stderr
    for code in ('K01-PRN', 'K01-QR'):
        path = out / f'{code}.key'
        assert path.read_text().strip() == device_credential(TEST_SECRET.encode(), code)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert device_credential(TEST_SECRET.encode(), 'K01-PRN') not in done.stdout  # printed: where, not what


def test_verbose_logging_never_turns_on_the_libraries_that_would_log_frame_contents() -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        configure_logging(verbose=True)
        assert logging.getLogger('devices.bridge').getEffectiveLevel() == logging.DEBUG
        for library in ('websockets.client', 'httpx', 'httpcore.http11'):
            assert logging.getLogger(library).getEffectiveLevel() >= logging.WARNING
    finally:
        root.handlers, root.level = handlers, level
        logging.getLogger('devices.bridge').setLevel(logging.NOTSET)


async def test_an_rtsp_cameras_password_never_appears_in_what_the_bridge_says(tmp_path: Path) -> None:
    source = 'rtsp://admin:s3cret@127.0.0.1:9/stream1'  # nothing listens: the camera cannot be opened
    [peripheral] = parse(document(camera=[{'device': 'K01-CAM', 'source': source}]), tmp_path / 'b.toml').peripherals
    camera = build(peripheral, HUB, GOOD)
    check = Check()
    await camera.check_hardware(check)
    [(ok, text)] = check.lines
    assert not ok and 'rtsp://***@127.0.0.1:9/stream1' in text and 's3cret' not in text
    with pytest.raises(ConnectionError) as error:
        await camera.frame()  # what a fault report to the hall would carry
    assert 's3cret' not in str(error.value)
