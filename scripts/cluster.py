"""One hall as several app processes behind nginx on this machine: PostgreSQL, Redis, N processes, nginx.

    .venv/bin/python scripts/cluster.py --processes 2          (or: make cluster N=2)

It starts PostgreSQL and Redis if they are down (scripts/services.sh), creates the database if it is
missing, migrates and seeds it once, starts N `python main.py` processes on loopback ports (every one
with the same SECRET_KEY, REDIS_URL and database, trusting nginx's X-Forwarded-For), writes an nginx
configuration for them into var/cluster/ and runs Debian's nginx in the foreground on --port.
Ctrl+C stops nginx and the processes.

Sticky sessions without nginx Plus: NiceGUI keeps a page's state in the process that rendered it, so a
browser must keep reaching that process, its websocket included. nginx names the process that answered
in a cookie (`ht_node`, from `$upstream_addr`), and a browser carrying it is sent to an upstream group
where that process comes first and every other one is a `backup`. When the process dies its browsers
fall over to a live one, whose answer renames the cookie; the page's socket finds no client there and
NiceGUI reloads the page from the new process. A POST that a dead process never received (connection
refused) goes to the next one; one it may have received is never sent twice (nginx's default for
non-idempotent requests).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
NODE_COOKIE = 'ht_node'
DEFAULT_DATABASE = 'postgresql+asyncpg://postgres@127.0.0.1:5432/halltwin'
DEFAULT_REDIS = 'redis://127.0.0.1:6379/0'
DEVICE_PATHS = ('/ws/devices', '/kiosk/', '/rate/')  # served by the process that holds the devices
# every process but the first: no simulated citizens or devices of its own (the first one's serve the whole
# hall), and a device hub that devices reach only if the first process is down
FOLLOWER = {'HALL_SIMULATION': 'off', 'DEVICE_MODE': 'websocket'}
MAX_BODY = '12m'  # above the app's own limits (uploads): the app refuses, in words, what is too big


def node_name(index: int) -> str:
    """The name of the index-th process (from 1) in the cookie: short, and no address of ours leaks out."""
    return f'n{index}'


def nginx_conf(app_ports: Sequence[int], *, listen: int, prefix: Path, host: str = '127.0.0.1') -> str:
    """nginx's configuration for the processes on `app_ports` (loopback), listening on `host:listen`."""
    if not app_ports:
        raise ValueError('at least one app process')
    servers = [f'127.0.0.1:{port}' for port in app_ports]
    groups = []
    for index, primary in enumerate(servers, start=1):
        backups = ''.join(f'        server {other} backup;\n' for other in servers if other != primary)
        groups.append(
            f'    upstream halltwin_{node_name(index)} {{\n'
            f'        server {primary} max_fails=1 fail_timeout=5s;\n{backups}    }}\n'
        )
    pool = ''.join(f'        server {server} max_fails=1 fail_timeout=5s;\n' for server in servers)
    chosen = ''.join(f'        {node_name(i)} halltwin_{node_name(i)};\n' for i in range(1, len(servers) + 1))
    answered = ''.join(
        f'        "~{re.escape(server)}$" {node_name(i)};\n' for i, server in enumerate(servers, start=1)
    )
    device_locations = ''.join(
        f'        location ^~ {path} {{\n            proxy_pass http://halltwin_{node_name(1)};\n        }}\n'
        for path in DEVICE_PATHS
    )
    temp = prefix / 'temp'
    user = 'user root;\n' if os.geteuid() == 0 else ''
    return f"""# HallTwin behind nginx: written by scripts/cluster.py for {len(servers)} process(es); see its docstring.
{user}worker_processes auto;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;

events {{
    worker_connections 16384;
}}

http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    client_max_body_size {MAX_BODY};

    map $http_upgrade $connection_upgrade {{
        default upgrade;
        '' close;
    }}

    # a browser new to us: any live process
    upstream halltwin_any {{
{pool}    }}

    # a browser that has a process: that one first, the others only when it is down
{''.join(groups)}
    map $cookie_{NODE_COOKIE} $halltwin_upstream {{
        default halltwin_any;
{chosen}    }}

    # the process that answered (the last address tried), named in the browser's cookie
    map $upstream_addr $halltwin_answered_by {{
        default '';
{answered}    }}

    server {{
        listen {host}:{listen};
        proxy_http_version 1.1;
        proxy_set_header Host $http_host;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_read_timeout 1h;
        proxy_send_timeout 1h;
        proxy_buffering off;
        add_header Set-Cookie "{NODE_COOKIE}=$halltwin_answered_by; Path=/; HttpOnly; SameSite=Lax" always;

        location / {{
            proxy_pass http://$halltwin_upstream;
        }}

        # the hall's devices live in the first process: their connections, and the kiosk and rating-pad
        # screens that use them (their page sockets follow by the cookie)
{device_locations}    }}
}}
"""


class Nginx:
    """Debian's nginx in the foreground with a configuration of ours in `prefix` (nothing under /etc is touched)."""

    def __init__(self, prefix: Path) -> None:
        self.prefix = prefix
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def conf(self) -> Path:
        return self.prefix / 'nginx.conf'

    def write(self, text: str) -> Nginx:
        for part in ('body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'):
            (self.prefix / 'temp' / part).mkdir(parents=True, exist_ok=True)
        self.conf.write_text(text)
        return self

    def command(self, *extra: str) -> list[str]:
        binary = shutil.which('nginx') or '/usr/sbin/nginx'
        return [binary, '-p', str(self.prefix), '-c', str(self.conf), '-e', str(self.prefix / 'error.log'), *extra]

    def check(self) -> subprocess.CompletedProcess[str]:
        """`nginx -t`: the configuration parses and every path in it is usable."""
        return subprocess.run(self.command('-t'), capture_output=True, text=True, check=False)

    def start(self, listen: int, timeout: float = 15.0) -> Nginx:
        checked = self.check()
        if checked.returncode != 0:
            raise RuntimeError(f'nginx refused the configuration:\n{checked.stderr}')
        self.process = subprocess.Popen(
            self.command('-g', 'daemon off;'), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f'nginx exited with code {self.process.returncode}: {self.errors()}')
            try:
                httpx.get(f'http://127.0.0.1:{listen}/api/health', timeout=1.0)
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f'nginx did not answer on port {listen} within {timeout:.0f} s: {self.errors()}')

    def errors(self) -> str:
        log = self.prefix / 'error.log'
        return log.read_text(errors='replace')[-4000:] if log.exists() else ''

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: open requests finish
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None


async def _create_database(url: str) -> None:
    """CREATE DATABASE when it is missing (connecting to the server's `postgres` database)."""
    dsn = url.replace('postgresql+asyncpg://', 'postgresql://', 1)
    base, name = dsn.rsplit('/', 1)
    admin = await asyncpg.connect(f'{base}/postgres')
    try:
        if not await admin.fetchval('SELECT 1 FROM pg_database WHERE datname = $1', name):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


def _run(args: Sequence[str], env: dict[str, str]) -> None:
    subprocess.run(list(args), cwd=ROOT, env=env, check=True)


def _wait_ready(port: int, process: subprocess.Popen[bytes], timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f'the app on port {port} exited with code {process.returncode}')
        try:
            if httpx.get(f'http://127.0.0.1:{port}/api/health', timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f'the app on port {port} did not answer within {timeout:.0f} s')


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--processes', type=int, default=2, help='app processes (default 2)')
    parser.add_argument('--port', type=int, default=8080, help="nginx's port, the hall's address (default 8080)")
    parser.add_argument('--host', default='127.0.0.1', help="nginx's address (default 127.0.0.1)")
    parser.add_argument('--first-app-port', type=int, default=8101, help='the processes listen from here on')
    parser.add_argument('--database-url', default=os.environ.get('DATABASE_URL', DEFAULT_DATABASE))
    parser.add_argument('--redis-url', default=os.environ.get('REDIS_URL', DEFAULT_REDIS))
    args = parser.parse_args(argv)
    if args.processes < 1:
        parser.error('--processes must be at least 1')
    if shutil.which('nginx') is None and not Path('/usr/sbin/nginx').exists():
        parser.error('nginx is missing: `make cluster` installs it (scripts/install.sh --cluster)')
    if not args.database_url.startswith('postgresql'):
        parser.error('several processes share one PostgreSQL database (--database-url postgresql+asyncpg://...)')

    subprocess.run(['bash', str(ROOT / 'scripts' / 'services.sh')], check=True)
    asyncio.run(_create_database(args.database_url))
    python = str(ROOT / '.venv' / 'bin' / 'python') if (ROOT / '.venv').exists() else sys.executable
    public = f'http://{args.host}:{args.port}'
    env = {
        **os.environ,
        'DATABASE_URL': args.database_url,
        'REDIS_URL': args.redis_url,
        'TRUSTED_PROXIES': '127.0.0.1',
        'ALLOWED_ORIGINS': os.environ.get('ALLOWED_ORIGINS', public),
        'HOST': '127.0.0.1',
    }
    _run([python, '-m', 'app.migrate'], env)
    _run([python, '-m', 'seed'], env)  # idempotent; prints new accounts' passwords once

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # `kill` or systemd: stop everything as Ctrl+C does
    ports = [args.first_app_port + i for i in range(args.processes)]
    processes: list[subprocess.Popen[bytes]] = []
    nginx = Nginx(ROOT / 'var' / 'cluster')
    try:
        for index, port in enumerate(ports):
            own = {'PORT': str(port)} if index == 0 else {'PORT': str(port), **FOLLOWER}
            processes.append(subprocess.Popen([python, 'main.py'], cwd=ROOT, env={**env, **own}))
        for port, process in zip(ports, processes, strict=True):
            _wait_ready(port, process)
        nginx.write(nginx_conf(ports, listen=args.port, prefix=nginx.prefix, host=args.host)).start(args.port)
        print(f'HallTwin: {public}  ({args.processes} processes on ports {ports[0]}-{ports[-1]}; Ctrl+C stops all)')
        if nginx.process is not None:
            nginx.process.wait()
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        nginx.stop()
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == '__main__':
    sys.exit(main())
