"""A small real file system to fill up: disk-full tests run the app on it (skipped where none can be mounted)."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def small_tmpfs(tmp_path: Path, size: str = '6m') -> Iterator[Path]:
    """A tmpfs of `size` mounted under tmp_path, unmounted after; the test is skipped where mounting is refused."""
    mount = tmp_path / 'fs'
    mount.mkdir()
    done = subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={size}', 'tmpfs', str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f'cannot mount a tmpfs here: {done.stderr.decode().strip()}')
    try:
        yield mount
    finally:
        subprocess.run(['umount', '-l', str(mount)], check=False)
