"""The bridge's TOML config: which peripherals this PC has, how each is wired, which hall device it is.

Every problem is reported in words a hall technician can act on (which table, which key, what is
expected), and nothing personal is ever configured or written: the file names devices, ports and
addresses only. docs/devices-setup.md shows a full example.
"""

from __future__ import annotations

import re
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.models.device import DeviceKind

CREDENTIAL = re.compile(r'^[0-9a-f]{64}$')
SECTIONS: dict[str, DeviceKind] = {
    'printer': DeviceKind.PRINTER,
    'scanner': DeviceKind.QR_SCANNER,
    'id_reader': DeviceKind.ID_READER,
    'camera': DeviceKind.CAMERA,
    'display': DeviceKind.CALL_DISPLAY,
}


class ConfigError(ValueError):
    """The config file cannot be used; the message names the table and key."""


@dataclass(frozen=True)
class Peripheral:
    """One configured peripheral: its hall device code, its kind, and its own settings (by key)."""

    section: str
    device: str
    kind: DeviceKind
    credential_file: Path
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f'{self.section} {self.device}'

    def get(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)

    def text(self, key: str, default: str | None = None) -> str:
        value = self.options.get(key, default)
        if not isinstance(value, str) or not value:
            raise ConfigError(f'[{self.section}] {self.device}: "{key}" must be a non-empty text')
        return value

    def number(self, key: str, default: float) -> float:
        value = self.options.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(f'[{self.section}] {self.device}: "{key}" must be a number >= 0')
        return float(value)

    def integer(self, key: str, default: int) -> int:
        value = self.options.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f'[{self.section}] {self.device}: "{key}" must be a whole number >= 0')
        return value

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        value = self.options.get(key, choices[0])
        if value not in choices:
            raise ConfigError(f'[{self.section}] {self.device}: "{key}" must be one of {", ".join(choices)}')
        return str(value)


@dataclass(frozen=True)
class BridgeConfig:
    hub: str
    peripherals: list[Peripheral]
    source: Path


def load(path: Path) -> BridgeConfig:
    try:
        document = tomllib.loads(path.read_text(encoding='utf-8'))
    except OSError as error:
        raise ConfigError(f'cannot read the config file {path}: {error.strerror}') from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f'the config file {path} is not valid TOML: {error}') from None
    return parse(document, path)


def parse(document: dict[str, Any], path: Path) -> BridgeConfig:
    hub = document.get('hub')
    if not isinstance(hub, str) or not hub.startswith(('ws://', 'wss://')):
        raise ConfigError('"hub" must be the hall server\'s device address, e.g. "wss://hall.example/ws/devices"')
    unknown = set(document) - {'hub', 'credentials_dir', *SECTIONS}
    if unknown:
        raise ConfigError(
            f'unknown setting(s) {", ".join(sorted(unknown))}; known: hub, credentials_dir, {", ".join(SECTIONS)}'
        )
    credentials_dir = Path(str(document.get('credentials_dir', path.parent)))
    peripherals: list[Peripheral] = []
    for section, kind in SECTIONS.items():
        tables = document.get(section, [])
        if isinstance(tables, dict):
            tables = [tables]
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            raise ConfigError(f'[{section}] must be a table ([{section}]) or a list of tables ([[{section}]])')
        for table in tables:
            peripherals.append(_peripheral(section, kind, table, credentials_dir))
    if not peripherals:
        raise ConfigError(f'no peripheral configured: add at least one of [{"], [".join(SECTIONS)}]')
    codes = [p.device for p in peripherals]
    duplicates = sorted({code for code in codes if codes.count(code) > 1})
    if duplicates:
        raise ConfigError(f'device code(s) used twice: {", ".join(duplicates)} (one peripheral per hall device)')
    return BridgeConfig(hub=hub, peripherals=peripherals, source=path)


def _peripheral(section: str, kind: DeviceKind, table: dict[str, Any], credentials_dir: Path) -> Peripheral:
    device = table.get('device')
    if not isinstance(device, str) or not re.fullmatch(r'[A-Za-z0-9_-]{1,32}', device):
        raise ConfigError(f'[{section}]: "device" must be the hall\'s device code, e.g. "K01-PRN"')
    credential_file = Path(str(table.get('credential_file', credentials_dir / f'{device}.key')))
    options = {k: v for k, v in table.items() if k not in {'device', 'credential_file'}}
    return Peripheral(section, device, kind, credential_file, options)


def read_credential(peripheral: Peripheral) -> str:
    """The device's credential from its file (64 hex characters, readable by this user only)."""
    path = peripheral.credential_file
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding='ascii').strip()
    except (OSError, UnicodeDecodeError):
        raise ConfigError(
            f'{peripheral.label}: cannot read its credential file {path} '
            f'(create it with `python -m devices.bridge.provision {peripheral.device}` on the hall server)'
        ) from None
    if not CREDENTIAL.fullmatch(text):
        raise ConfigError(f'{peripheral.label}: {path} does not hold a credential (64 lowercase hex characters)')
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f'{peripheral.label}: {path} may be read by other users; run `chmod 600 {path}`')
    return text
