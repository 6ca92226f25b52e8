"""The API's lane past NiceGUI's page layers (app/api/lane.py), as an attacker and a proxy meet it.

Under /api/ a request skips the browser session, request tracking, cache control, prefix redirects and gzip; it
must still get every guard of ours: security headers, body limits, JSON refusals. Paths that only look like the
prefix take the full way.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.types import Receive, Scope, Send

from app.api import lane as api_lane
from tests.apphost import AppProcess, PreparedDatabase, running_app
from tests.security.routes import assert_error, settled_state

JSON = {'content-type': 'application/json'}
COUNTED = ('rate_counter',)  # an anonymous take counts against its address before the service is looked up


@pytest.fixture(scope='module')
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    with running_app(tmp_path_factory.mktemp('api-lane')) as (app, prepared):
        yield app, prepared


def test_an_api_answer_has_our_headers_but_no_browser_session_and_no_gzip(
    live: tuple[AppProcess, PreparedDatabase],
) -> None:
    app, _ = live
    with app.client() as client:
        response = client.get('/api/hall', headers={'accept-encoding': 'gzip'})
    assert response.status_code == 200 and response.json()['services']
    assert 'set-cookie' not in response.headers  # no NiceGUI session made for a cookieless kiosk or phone
    assert 'content-encoding' not in response.headers
    assert response.headers['x-frame-options'] == 'DENY'
    assert 'frame-ancestors' in response.headers['content-security-policy']


@pytest.mark.parametrize('path', ['/login', '/apix', '/api', '/API/hall', '/_nicegui/api/hall'])
def test_paths_that_only_look_like_the_api_take_the_full_way(
    live: tuple[AppProcess, PreparedDatabase], path: str
) -> None:
    app, _ = live
    with app.client() as client:  # a fresh client: NiceGUI's session middleware gives it its cookie
        response = client.get(path, headers={'accept-encoding': 'gzip'})
    assert response.status_code < 500
    assert response.headers['set-cookie'].startswith('session='), path
    assert response.headers['x-frame-options'] == 'DENY'


def test_an_oversized_or_streamed_take_is_refused_through_the_lane_and_stores_nothing(
    live: tuple[AppProcess, PreparedDatabase],
) -> None:
    app, prepared = live
    before = settled_state(prepared.url, ignore=COUNTED)
    huge = b'{"service_code": "' + b'A' * 300_000 + b'"}'
    with app.client() as client:
        assert_error(client.post('/api/tickets', content=huge), 413, 'body_too_large')
        assert_error(client.post('/api/tickets', content=iter([huge])), 413, 'body_too_large')  # chunked
        assert_error(client.post('/api/tickets', content=b'{"service_code": ', headers=JSON), 400, 'malformed_json')
        assert_error(client.post('/api/tickets', json={'service_code': 'NOPE'}), 404, 'unknown_service')
        assert_error(
            client.post('/api/windows/1/call-next', headers={'authorization': 'Bearer forged'}),
            401,
            'not_authenticated',
        )
    assert settled_state(prepared.url, ignore=COUNTED) == before


# ---- the lane on its own ---------------------------------------------------------------------------


async def _answer(scope: Scope, receive: Receive, send: Send, *, who: str) -> None:
    headers = [(b'x-way', who.encode())]
    if scope['path'].endswith('/'):
        headers.append((b'location', scope['path'].rstrip('/').encode()))
    await send(
        {'type': 'http.response.start', 'status': 307 if scope['path'].endswith('/') else 200, 'headers': headers}
    )
    await send({'type': 'http.response.body', 'body': b''})


def _app_with_lane() -> Starlette:
    """An app whose one user layer marks its answers 'full'; the lane rejoins below that layer, at the router."""

    def full_layer(inner: object) -> object:
        async def full(scope: Scope, receive: Receive, send: Send) -> None:
            await _answer(scope, receive, send, who='full')

        return full

    async def router(scope: Scope, receive: Receive, send: Send) -> None:
        await _answer(scope, receive, send, who='lane')

    lane = api_lane.Lane()
    app = Starlette(middleware=[Middleware(full_layer), Middleware(api_lane.rejoin, lane=lane)])
    app.router = router  # type: ignore[assignment]
    api_lane.install(app, lane)
    api_lane.install(app, lane)  # a test harness configures the app again: still one switch
    return app


async def test_only_paths_under_the_prefix_take_the_lane_and_a_proxy_prefix_stays_on_redirects() -> None:
    app = _app_with_lane()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url='http://test') as client:
        assert (await client.get('/api/hall')).headers['x-way'] == 'lane'
        for path in ('/', '/api', '/apix', '/login'):
            assert (await client.get(path)).headers['x-way'] == 'full', path
        moved = await client.get('/api/hall/', headers={'x-forwarded-prefix': '/hall7'})
        assert moved.status_code == 307 and moved.headers['location'] == '/hall7/api/hall'
        assert (await client.get('/api/hall/')).headers['location'] == '/api/hall'
    assert sum(m.cls is api_lane.LaneSwitch for m in app.user_middleware) == 1
