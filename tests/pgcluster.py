"""A throwaway PostgreSQL server of our own (initdb in a temp folder, its own port), to stop and start at will.

Outage tests and bench/pg_restart.py use it: the shared server on 5432 is never stopped. As root, the
server runs as the `postgres` user (initdb refuses root), so its folder lives under /tmp, not pytest's 0700
tmp_path.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.apphost import free_port


def pg_bin(name: str) -> str:
    found = sorted(glob.glob(f'/usr/lib/postgresql/*/bin/{name}'))
    if found:
        return found[-1]
    return shutil.which(name) or name


class PgCluster:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix='halltwin-pg-'))
        self.data = self.root / 'data'
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.root, 'postgres', 'postgres')

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = ['runuser', '-u', 'postgres', '--', *args] if self.as_root else list(args)
        return subprocess.run(command, capture_output=True, text=True, check=True, cwd=self.root)

    def init(self) -> PgCluster:
        self._run(pg_bin('initdb'), '-D', str(self.data), '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8')
        return self

    def start(self) -> None:
        options = f'-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off'
        self._run(pg_bin('pg_ctl'), '-D', str(self.data), '-o', options, '-l', str(self.root / 'log'), '-w', 'start')

    def stop(self, mode: str = 'fast') -> None:
        self._run(pg_bin('pg_ctl'), '-D', str(self.data), '-m', mode, '-w', 'stop')

    def create_database(self, name: str) -> str:
        self._run(pg_bin('createdb'), '-h', '127.0.0.1', '-p', str(self.port), '-U', 'postgres', name)
        return self.url(name)

    def url(self, name: str) -> str:
        return f'postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{name}'

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop('immediate')
        shutil.rmtree(self.root, ignore_errors=True)
