"""A redis-server of our own on a free port, to stop and start during a test (the shared one on 6379 stays up)."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from tests.apphost import free_port


class RedisServer:
    """`data_dir` given: an append-only file there, written at every command, so a restart keeps the queued jobs,
    as a production Redis does (docs/operations.md). Without it, a restart comes back empty."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f'redis://127.0.0.1:{self.port}/0'

    def start(self) -> RedisServer:
        """Start (again, on the same port, with the same data directory if it has one)."""
        persistence = ['--appendonly', 'no']
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            persistence = ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', str(self.data_dir)]
        self.process = subprocess.Popen(
            ['redis-server', '--port', str(self.port), '--bind', '127.0.0.1', '--save', '', *persistence],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(('127.0.0.1', self.port), timeout=0.2):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
