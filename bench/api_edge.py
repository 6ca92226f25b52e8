"""What the HTTP edge costs one API request, apart from its route: the middleware between the server and FastAPI.

    .venv/bin/python bench/api_edge.py [--requests 3000] [--rounds 3]

Builds the app's middleware set in one process, in the order the running app has it: NiceGUI's page layers as
`ui.run` and its server add them (browser session, request tracking, cache control, prefix redirects, gzip) around
ours (security headers, body limits, upload guard), with and without the API's lane (app/api/lane.py). Each
request is a kiosk's take as the server hands it over: POST /api/tickets, a bearer token, no cookie, gzip
accepted, a ~600-byte JSON answer from a route that does nothing else. Prints the CPU per request (process time,
so no other job on the machine is counted) of each set, best of `--rounds`.
"""

from __future__ import annotations

import os
import sys

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import shlex  # noqa: E402
import time  # noqa: E402

from fastapi import FastAPI  # noqa: E402
from nicegui.middlewares import RedirectWithPrefixMiddleware, SetCacheControlMiddleware  # noqa: E402
from nicegui.storage import RequestTrackingMiddleware  # noqa: E402
from starlette.middleware.gzip import GZipMiddleware  # noqa: E402
from starlette.middleware.sessions import SessionMiddleware  # noqa: E402
from starlette.responses import Response  # noqa: E402
from starlette.types import Message  # noqa: E402

from app.api import lane as api_lane  # noqa: E402
from app.api.limits import BodySizeLimit  # noqa: E402
from app.security.headers import SecurityHeaders  # noqa: E402
from pages.hardening import UploadGuard  # noqa: E402

ANSWER = json.dumps({'number': 'A001', 'status': 'waiting', 'service_name': '户籍办理' * 60}).encode()
BODY = json.dumps({'service_code': 'HJ01', 'channel': 'kiosk'}).encode()
HEADERS = [
    (b'host', b'127.0.0.1:8080'),
    (b'authorization', b'Bearer kiosk-token'),
    (b'accept-encoding', b'gzip, deflate'),
    (b'content-type', b'application/json'),
    (b'content-length', str(len(BODY)).encode()),
]


def build(*, lane: bool) -> FastAPI:
    app = FastAPI()

    @app.post('/api/tickets')
    async def take() -> Response:
        return Response(ANSWER, media_type='application/json')

    app.add_middleware(UploadGuard, secret='s' * 64)  # as app/main.py: the last added runs first
    app.add_middleware(BodySizeLimit, max_bytes=65536)
    app.add_middleware(SecurityHeaders)
    if lane:
        api = api_lane.Lane()
        app.add_middleware(api_lane.rejoin, lane=api)
        api_lane.install(app, api)
    app.add_middleware(GZipMiddleware)  # nicegui.ui_run, then the server's set_storage_secret
    app.add_middleware(RedirectWithPrefixMiddleware)
    app.add_middleware(SetCacheControlMiddleware)
    app.add_middleware(RequestTrackingMiddleware)
    app.add_middleware(SessionMiddleware, secret_key='s' * 64)
    return app


async def cpu_per_request(app: FastAPI, requests: int) -> float:
    """Milliseconds of process CPU per request, driving the app with the ASGI messages a server sends."""
    statuses: list[int] = []

    async def receive() -> Message:
        return {'type': 'http.request', 'body': BODY, 'more_body': False}

    async def send(message: Message) -> None:
        if message['type'] == 'http.response.start':
            statuses.append(message['status'])

    started = time.process_time()
    for _ in range(requests):
        scope = {
            'type': 'http',
            'asgi': {'version': '3.0'},
            'http_version': '1.1',
            'method': 'POST',
            'scheme': 'http',
            'path': '/api/tickets',
            'raw_path': b'/api/tickets',
            'query_string': b'',
            'root_path': '',
            'headers': HEADERS,
            'client': ('127.0.0.1', 50000),
            'server': ('127.0.0.1', 8080),
            'state': {},
        }
        await app(scope, receive, send)
    spent = time.process_time() - started
    if set(statuses) != {200}:
        raise RuntimeError(f'answers other than 200: {sorted(set(statuses))}')
    return spent * 1000 / requests


async def run(requests: int, rounds: int) -> dict[str, float]:
    apps = {'without the lane (main)': build(lane=False), 'with the lane': build(lane=True)}
    best = {name: float('inf') for name in apps}
    for _ in range(rounds):
        for name, app in apps.items():
            best[name] = min(best[name], await cpu_per_request(app, requests))
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--requests', type=int, default=3000, help='requests per set and round (default 3000)')
    parser.add_argument('--rounds', type=int, default=3, help='rounds; the best of each set counts (default 3)')
    args = parser.parse_args()
    print(f'$ {shlex.join([".venv/bin/python", "bench/api_edge.py", *sys.argv[1:]])}')
    print(f'cpus {os.cpu_count()}, load average {[round(v, 2) for v in os.getloadavg()]}')
    best = asyncio.run(run(args.requests, args.rounds))
    for name, ms in best.items():
        print(f'  {name:<26} {ms:6.3f} ms CPU per request')
    base, lane = best['without the lane (main)'], best['with the lane']
    print(f'  the lane saves {base - lane:.3f} ms per request ({base / lane:.1f}x less edge CPU)')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
