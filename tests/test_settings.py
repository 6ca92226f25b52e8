"""Settings: defaults, validation with one-line messages, the generated secret key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.settings import ROOT, ConfigError, load_settings


@pytest.mark.parametrize(
    ('name', 'value'),
    [
        ('PORT', 'eighty'),
        ('PORT', '70000'),
        ('DATABASE_URL', 'mysql://x/y'),
        ('REDIS_URL', 'http://x'),
        ('DEVICE_MODE', 'magic'),
        ('HALL_TIMEZONE', 'Mars/Olympus'),
        ('SECRET_KEY', 'short'),
        ('HALL_SIMULATION', 'maybe'),
    ],
)
def test_invalid_values_name_the_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    message = str(error.value)
    assert name in message and '\n' not in message


def test_bad_setting_stops_the_app_with_one_line(tmp_path: Path) -> None:
    env = {'PATH': '/usr/bin:/bin', 'PORT': 'eighty', 'VAR_DIR': str(tmp_path)}
    result = subprocess.run([sys.executable, 'main.py'], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].startswith('halltwin: invalid PORT')


def test_secret_key_is_generated_once_into_var(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv('SECRET_KEY', raising=False)
    monkeypatch.setenv('VAR_DIR', str(tmp_path))
    first = load_settings().secret
    assert first == load_settings().secret and len(first) >= 32
    assert (tmp_path / 'secret_key').stat().st_mode & 0o077 == 0


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv('VAR_DIR', str(tmp_path))
    monkeypatch.delenv('HALL_LANG', raising=False)
    monkeypatch.setenv('LANG', 'C.UTF-8')
    settings = load_settings()
    assert settings.db_url == f'sqlite+aiosqlite:///{tmp_path / "halltwin.db"}'
    assert settings.port == 8080 and settings.lang == 'zh-CN'
    monkeypatch.setenv('LANG', 'en_US.UTF-8')
    assert load_settings().lang == 'en'
