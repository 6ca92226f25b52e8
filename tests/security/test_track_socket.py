"""/track's live socket (`/live/track/{code}`), attacked over real websockets against the running app.

A code admits its own ticket's status and nothing else: a wrong or forged code is refused before a socket
opens (the tracking service's answer, as JSON), another ticket's changes never reach it, a page of another
site is refused, one address holds at most `PER_ADDRESS` sockets however it names itself, anything a client
sends closes its socket. No refusal changes the hall beyond the unknown-code count the page keeps too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from devices.protocol import MAX_MESSAGE_BYTES
from pages.public_socket import PER_ADDRESS
from tests.apphost import AppProcess, PreparedDatabase, running_app
from tests.security.live_sockets import Refusal, closed_with, listening, refused
from tests.security.routes import bearer, settled_state, token

W01 = ('w01', 'Window-01-pass')
COUNTERS = ('rate_counter',)  # unknown codes count against the address, as on the page and the API
FIELDS = {'seq', 'status', 'window', 'ahead', 'eta'}


@pytest.fixture(scope='module')
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    with running_app(tmp_path_factory.mktemp('track-socket')) as hall:
        yield hall


def ws_url(app: AppProcess, code: str) -> str:
    return f'{app.base_url.replace("http://", "ws://")}/live/track/{code}'


@contextmanager
def follow(app: AppProcess, code: str, **kwargs: object) -> Iterator[tuple[ClientConnection, dict[str, object]]]:
    """A ticket's socket as the /track page opens it, with the status it was told first."""
    with listening(ws_url(app, code), app.base_url, FIELDS, **kwargs) as followed:
        yield followed


def refusal(app: AppProcess, code: str, **kwargs: object) -> Refusal:
    return refused(ws_url(app, code), app.base_url, **kwargs)


def take(app: AppProcess, service: str = 'SVC-A') -> dict[str, str]:
    with app.client() as client:
        desk = bearer(token(client, W01))  # a clerk's ticket: the anonymous limit per address stays out of it
        taken = client.post('/api/tickets', json={'service_code': service}, headers=desk)
        assert taken.status_code == 201, taken.text
        return dict(taken.json())


def call_next(app: AppProcess) -> str:
    with app.client() as client:
        desk = bearer(token(client, W01))
        client.post('/api/windows/1/complete', headers=desk)
        called = client.post('/api/windows/1/call-next', headers=desk)
        assert called.status_code == 200, called.text
        return str(called.json()['number'])


def texts_until(ticket: ClientConnection, done: object, seconds: float = 10) -> list[dict[str, object]]:
    """Every text until one satisfies `done` (a callable on the text)."""
    seen: list[dict[str, object]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen.append(json.loads(ticket.recv(timeout=deadline - time.monotonic())))
        if done(seen[-1]):  # type: ignore[operator]
            return seen
    raise AssertionError(f'never came: {seen}')


def test_a_wrong_or_forged_code_is_refused_with_the_services_error_before_a_socket_opens(
    live: tuple[AppProcess, PreparedDatabase],
) -> None:
    app, prepared = live
    real = take(app)['code']
    before = settled_state(prepared.url, ignore=COUNTERS)
    for code in ('not-a-real-code', real[:-1] + ('x' if real[-1] != 'x' else 'y'), "A001'%20OR%201=1--", 'c' * 3000):
        answer = refusal(app, code)
        assert answer.status_code == 403, code
        assert answer.json()['code'] == 'tracking_refused'
        assert answer.json()['message']
    assert refusal(app, real, origin='http://evil.example').status_code == 403
    assert refusal(app, real, origin='null').status_code == 403
    assert httpx.get(f'{app.base_url}/live/track/{real}').status_code in (404, 405)  # not an HTTP resource
    assert settled_state(prepared.url, ignore=COUNTERS) == before
    with follow(app, real, origin=None) as (_, snapshot):  # no Origin at all: not a browser page, nothing to forge
        assert snapshot['status'] == 'waiting'


def test_a_code_hears_its_own_ticket_and_never_another_persons(live: tuple[AppProcess, PreparedDatabase]) -> None:
    app, _ = live
    with app.client() as client:  # whatever an earlier test left waiting at window 1 goes first
        desk = bearer(token(client, W01))
        while client.post('/api/windows/1/call-next', headers=desk).status_code == 200:
            client.post('/api/windows/1/complete', headers=desk)
    first, second = take(app), take(app)
    with follow(app, first['code']) as (mine, snapshot), follow(app, second['code']) as (theirs, their_snapshot):
        assert snapshot['ahead'] == 0 and their_snapshot['ahead'] == 1
        assert call_next(app) == first['number']
        called = texts_until(mine, lambda text: text['status'] == 'called')[-1]
        assert called['window'] == 1
        moved = texts_until(theirs, lambda text: text['ahead'] == 0)
        assert all(text['status'] == 'waiting' and text['window'] is None for text in moved)
        said = json.dumps(moved)
        assert first['number'] not in said and first['code'] not in said  # nothing of the other ticket
        assert set(moved[-1]) == FIELDS


def test_unknown_codes_from_one_address_lock_it_out_as_on_the_page(live: tuple[AppProcess, PreparedDatabase]) -> None:
    app, _ = live
    real = take(app)['code']
    source = ('127.0.0.9', 0)
    answers = [refusal(app, f'probe-{i}', source_address=source).status_code for i in range(31)]
    assert answers[:30] == [403] * 30
    locked = refusal(app, real, source_address=source)  # even the right code, from the probing address
    assert locked.status_code == 429 and locked.json()['code'] == 'tracking_locked'
    with follow(app, real, source_address=('127.0.0.10', 0)):  # another address is served
        pass


def test_one_address_holds_at_most_its_share_and_a_forwarded_for_header_does_not_help(
    live: tuple[AppProcess, PreparedDatabase],
) -> None:
    app, _ = live
    code = take(app)['code']
    with ExitStack() as held:
        for _ in range(PER_ADDRESS):
            held.enter_context(follow(app, code))
        assert refusal(app, code).status_code == 429
        assert refusal(app, code, additional_headers={'x-forwarded-for': '10.1.2.3'}).status_code == 429
        with follow(app, code, source_address=('127.0.0.2', 0)):
            pass
    time.sleep(0.5)  # the server has seen the closes
    with follow(app, code):
        pass


@pytest.mark.parametrize(
    'message',
    [b'\x00\xff' * 64, 'hello', json.dumps({'seq': 0, 'status': 'called', 'window': 9}), 'x' * (64 * 1024)],
    ids=['binary-garbage', 'text', 'forged-status', 'large'],
)
def test_anything_a_client_sends_closes_its_socket_and_reaches_no_other_page(
    live: tuple[AppProcess, PreparedDatabase], message: str | bytes
) -> None:
    app, _ = live
    code = take(app)['code']
    with follow(app, code) as (bystander, _), follow(app, code) as (talker, _):
        talker.send(message)
        assert closed_with(talker) == 1008
        assert bystander.ping().wait(5)  # the other page of the same ticket is still open
    with follow(app, code) as (_, snapshot):
        assert snapshot['status'] == 'waiting' and snapshot['window'] is None


def test_a_frame_over_the_limit_is_cut_off_by_the_server(live: tuple[AppProcess, PreparedDatabase]) -> None:
    app, _ = live
    code = take(app)['code']
    with follow(app, code) as (talker, _):
        try:
            talker.send(b'\x00' * (MAX_MESSAGE_BYTES + 1))
            code_ = closed_with(talker)
        except ConnectionClosed as closed:
            code_ = closed.rcvd.code if closed.rcvd else None
    assert code_ == 1009
    with follow(app, code):
        pass


def test_the_light_status_page_shows_the_codes_ticket_and_a_wrong_code_gets_the_services_words(
    live: tuple[AppProcess, PreparedDatabase],
) -> None:
    app, _ = live
    ticket = take(app)
    with app.client() as client:
        page = client.get(f'/track/{ticket["code"]}/status')
        assert page.status_code == 200 and page.headers['cache-control'] == 'no-store'
        assert ticket['number'] in page.text
        assert f'data-socket="/live/track/{ticket["code"]}"' in page.text
        assert f'href="/track/{ticket["code"]}"' in page.text  # the person's sections stay behind the texted code
        for wrong in ('not-a-real-code', '<script>alert(1)</script>', 'c' * 3000):
            refused = client.get(f'/track/{wrong}/status')
            assert refused.status_code == 404, wrong
            assert '<script>alert' not in refused.text
            assert 'data-socket' not in refused.text
