"""A relative's live socket (`/live/proxy/{token}`) and light page (`/proxy/{token}/status`), attacked over real
websockets and HTTP against the running app.

A link admits its grant's ticket status and nothing else: a wrong, forged or oversized token is refused before a
socket opens (the proxy service's one answer, as JSON), a page of another site is refused, anything a client
sends closes its socket. A grant ended while a page is open closes that socket at once with `ACCESS_ENDED`
(ended here by another process of the hall, over the Redis bus, as a citizen's phone on another process would),
and one that runs out closes it at its expiry; neither link opens anything afterwards. No refusal changes the hall.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from redis import Redis
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from app.clock import utcnow
from app.models.proxy import ProxyGrant
from app.runtime import Runtime
from components.proxy_status import ACCESS_ENDED
from devices.protocol import MAX_MESSAGE_BYTES
from pages.public_socket import PER_ADDRESS
from tests.apphost import AppProcess, PreparedDatabase, running_app
from tests.relatives import invite_relatives, other_process, take_for_a_citizen, verified
from tests.security.live_sockets import Refusal, closed_with, listening, refused
from tests.security.routes import settled_state

REDIS = 'redis://127.0.0.1:6379/11'  # the app and the other process share the hall's bus here (this module's alone)
FIELDS = {'seq', 'status', 'window', 'ahead', 'eta'}
CITIZENS = itertools.count(1)
_T = TypeVar('_T')


@dataclass(frozen=True)
class Hall:
    app: AppProcess
    prepared: PreparedDatabase
    other_var: Path  # the other process's own var/

    def other_process(self, work: Callable[[Runtime], Awaitable[_T]]) -> _T:
        return other_process(self.prepared.url, self.other_var, work, redis_url=REDIS)


@pytest.fixture(scope='module')
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hall]:
    tmp = tmp_path_factory.mktemp('proxy-socket')
    with Redis.from_url(REDIS) as redis:  # this module's own database: an earlier run's counts (5 tickets a day per
        redis.flushdb()  # phone, the same test citizens each run) must not refuse this run's tickets
    with running_app(tmp, extra_env={'REDIS_URL': REDIS}) as (app, prepared):
        yield Hall(app, prepared, tmp / 'other-var')


def invite(hall: Hall, code: str) -> tuple[int, str]:
    """The citizen invites a relative (from another process of the hall): the grant's id and the link's token."""
    [made] = invite_relatives(hall.prepared.url, hall.other_var, [code], redis_url=REDIS)
    return made


def end(hall: Hall, code: str, grant_id: int) -> None:
    async def work(rt: Runtime) -> None:
        await rt.journey.proxy.end(grant_id, act=await verified(rt, code))

    hall.other_process(work)


def shorten(hall: Hall, grant_id: int, seconds: float) -> None:
    """The grant runs out `seconds` from now (as if it had been given that long ago)."""

    async def work(rt: Runtime) -> None:
        async with rt.db.session() as s:
            grant = await s.get(ProxyGrant, grant_id)
            assert grant is not None
            grant.expires_at = utcnow() + dt.timedelta(seconds=seconds)
            await s.commit()

    hall.other_process(work)


def ws_url(app: AppProcess, link: str) -> str:
    return f'{app.base_url.replace("http://", "ws://")}/live/proxy/{link}'


@contextmanager
def follow(app: AppProcess, link: str, **kwargs: object) -> Iterator[tuple[ClientConnection, dict[str, object]]]:
    """A grant's socket as the relative's light page opens it, with the status it was told first."""
    with listening(ws_url(app, link), app.base_url, FIELDS, **kwargs) as followed:
        yield followed


def refusal(app: AppProcess, link: str, **kwargs: object) -> Refusal:
    return refused(ws_url(app, link), app.base_url, **kwargs)


def assert_ended(app: AppProcess, link: str) -> None:
    """The link opens nothing any more: the socket is refused with the service's answer, the page is not there."""
    answer = refusal(app, link)
    assert answer.status_code == 403 and answer.json()['code'] == 'proxy_ended'
    with app.client() as client:
        page = client.get(f'/proxy/{link}/status')
        assert page.status_code == 404 and 'data-socket' not in page.text


def test_a_wrong_forged_or_oversized_token_is_refused_before_a_socket_opens_and_changes_nothing(hall: Hall) -> None:
    app = hall.app
    ticket = take_for_a_citizen(app, next(CITIZENS))
    _, link = invite(hall, ticket['code'])
    before = settled_state(hall.prepared.url)
    forged = link[:-1] + ('A' if link[-1] != 'A' else 'B')
    for wrong in ('not-a-real-link', forged, "x'%20OR%201=1--", link + 'x' * 3000, ticket['code']):
        answer = refusal(app, wrong)
        assert answer.status_code == 403, wrong
        assert answer.json()['code'] == 'proxy_ended' and answer.json()['message']
    assert refusal(app, link, origin='http://evil.example').status_code == 403
    assert refusal(app, link, origin='null').status_code == 403
    assert httpx.get(f'{app.base_url}/live/proxy/{link}').status_code in (404, 405)  # not an HTTP resource
    assert settled_state(hall.prepared.url) == before
    with follow(app, link) as (_, snapshot):
        assert snapshot['status'] == 'waiting' and snapshot['window'] is None


@pytest.mark.parametrize(
    'message',
    [b'\x00\xff' * 64, 'hello', json.dumps({'seq': 0, 'status': 'called', 'window': 9})],
    ids=['binary-garbage', 'text', 'forged-status'],
)
def test_anything_a_client_sends_closes_its_socket_and_reaches_no_other_page(hall: Hall, message: str | bytes) -> None:
    app = hall.app
    _, link = invite(hall, take_for_a_citizen(app, next(CITIZENS))['code'])
    with follow(app, link) as (bystander, _), follow(app, link) as (talker, _):
        talker.send(message)
        assert closed_with(talker) == 1008
        assert bystander.ping().wait(5)  # the other page of the same grant is still open
    with follow(app, link) as (_, snapshot):
        assert snapshot['status'] == 'waiting' and snapshot['window'] is None


def test_a_frame_over_the_limit_is_cut_off_by_the_server(hall: Hall) -> None:
    app = hall.app
    _, link = invite(hall, take_for_a_citizen(app, next(CITIZENS))['code'])
    with follow(app, link) as (talker, _):
        try:
            talker.send(b'\x00' * (MAX_MESSAGE_BYTES + 1))
            code = closed_with(talker)
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else None
    assert code == 1009


def test_a_grant_ended_by_the_citizen_closes_its_open_sockets_at_once_and_its_link_opens_nothing_more(
    hall: Hall,
) -> None:
    app = hall.app
    ticket = take_for_a_citizen(app, next(CITIZENS))
    grant_id, link = invite(hall, ticket['code'])
    _, other_link = invite(hall, ticket['code'])  # another relative's grant of the same ticket
    with follow(app, link) as (first, _), follow(app, link) as (second, _), follow(app, other_link) as (other, _):
        end(hall, ticket['code'], grant_id)
        assert closed_with(first) == ACCESS_ENDED
        assert closed_with(second) == ACCESS_ENDED
        assert other.ping().wait(5)  # the other grant's page listens on
    assert_ended(app, link)


def test_a_grant_that_runs_out_closes_its_open_socket_at_its_expiry(hall: Hall) -> None:
    app = hall.app
    ticket = take_for_a_citizen(app, next(CITIZENS))
    grant_id, link = invite(hall, ticket['code'])
    shorten(hall, grant_id, seconds=3)
    with follow(app, link) as (relative, _):
        assert closed_with(relative, seconds=15) == ACCESS_ENDED
    assert_ended(app, link)


def test_the_light_page_shows_the_grants_ticket_and_links_to_the_full_page_and_a_wrong_link_gets_the_refusal(
    hall: Hall,
) -> None:
    app = hall.app
    ticket = take_for_a_citizen(app, next(CITIZENS))
    _, link = invite(hall, ticket['code'])
    with app.client() as client:
        page = client.get(f'/proxy/{link}/status')
        assert page.status_code == 200 and page.headers['cache-control'] == 'no-store'
        assert ticket['number'] in page.text and '您正在协助家人办事（子女）' in page.text
        assert f'data-socket="/live/proxy/{link}"' in page.text
        assert f'href="/proxy/{link}"' in page.text  # what the relative can do stays on the full page
        assert ticket['code'] not in page.text  # the slip's code is the citizen's, not the relative's
        for wrong in ('not-a-real-link', '<script>alert(1)</script>', 'c' * 3000):
            refused = client.get(f'/proxy/{wrong}/status')
            assert refused.status_code == 404, wrong
            assert '<script>alert' not in refused.text and 'data-socket' not in refused.text


def test_one_address_holds_at_most_its_share_of_proxy_sockets(hall: Hall) -> None:
    app = hall.app
    _, link = invite(hall, take_for_a_citizen(app, next(CITIZENS))['code'])
    with ExitStack() as held:
        for _ in range(PER_ADDRESS):
            held.enter_context(follow(app, link))
        assert refusal(app, link).status_code == 429
        assert refusal(app, link, additional_headers={'x-forwarded-for': '10.1.2.3'}).status_code == 429
        with follow(app, link, source_address=('127.0.0.2', 0)):
            pass
