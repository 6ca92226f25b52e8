"""A relative's cases socket (`/live/proxy/{token}/cases`) and the light page of a case (`/proxy/{token}/status`),
attacked over real websockets and HTTP against the running app.

A link admits its grant's scope and nothing it could name: the cases opened from its ticket, or its one case,
never another case of the same citizen nor anyone else's. A wrong, forged or oversized token is refused before a
socket opens (the proxy service's one answer, as JSON), a page of another site is refused, anything a client sends
closes its socket. A case step taken in another process of the hall (over the Redis bus) reaches the open socket;
a grant ended there closes it at once with `ACCESS_ENDED`. No refusal changes the hall.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from redis import Redis
from websockets.sync.client import ClientConnection

from app.runtime import Runtime
from components.proxy_status import ACCESS_ENDED
from tests.apphost import AppProcess, PreparedDatabase, running_app
from tests.relatives import (
    decide,
    home_visit_case,
    invite_relatives,
    open_case,
    other_process,
    serve,
    take_for_a_citizen,
    verified,
)
from tests.security.live_sockets import Refusal, closed_with, listening, refused
from tests.security.routes import settled_state

REDIS = 'redis://127.0.0.1:6379/12'  # the app and the other process share the hall's bus here (this module's alone)
FIELDS = {'seq', 'cases'}
CASE_FIELDS = {'id', 'service', 'status', 'due', 'current', 'steps', 'needs', 'asked'}
CITIZENS = itertools.count(101)


@dataclass(frozen=True)
class Hall:
    app: AppProcess
    prepared: PreparedDatabase
    other_var: Path

    def invite(self, code: str) -> tuple[int, str]:
        """The citizen of ticket or case `code` invites a relative to follow it: the grant's id and the link."""
        [made] = invite_relatives(self.prepared.url, self.other_var, [code], redis_url=REDIS)
        return made

    def open_case(self, ticket: dict[str, str]) -> tuple[int, str, int]:
        serve(self.app, ticket['number'])
        return open_case(self.prepared.url, self.other_var, ticket['code'], redis_url=REDIS)

    def decide(self, node_id: int, note: str = '') -> None:
        decide(self.prepared.url, self.other_var, node_id, note=note, redis_url=REDIS)

    def end(self, code: str, grant_id: int) -> None:
        async def work(rt: Runtime) -> None:
            await rt.journey.proxy.end(grant_id, act=await verified(rt, code))

        other_process(self.prepared.url, self.other_var, work, redis_url=REDIS)


@pytest.fixture(scope='module')
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hall]:
    tmp = tmp_path_factory.mktemp('proxy-case-socket')
    with Redis.from_url(REDIS) as redis:  # this module's own database: earlier runs' ticket counts per phone
        redis.flushdb()
    with running_app(tmp, extra_env={'REDIS_URL': REDIS}) as (app, prepared):
        yield Hall(app, prepared, tmp / 'other-var')


def ws_url(app: AppProcess, link: str) -> str:
    return f'{app.base_url.replace("http://", "ws://")}/live/proxy/{link}/cases'


@contextmanager
def follow(app: AppProcess, link: str, **kwargs: object) -> Iterator[tuple[ClientConnection, dict[str, object]]]:
    with listening(ws_url(app, link), app.base_url, FIELDS, **kwargs) as followed:
        yield followed


def refusal(app: AppProcess, link: str, **kwargs: object) -> Refusal:
    return refused(ws_url(app, link), app.base_url, **kwargs)


def cases_of(told: dict[str, object]) -> list[dict[str, object]]:
    cases = told['cases']
    assert isinstance(cases, list)
    for case in cases:
        assert set(case) == CASE_FIELDS
    return cases


def next_text(socket: ClientConnection) -> dict[str, object]:
    return dict(json.loads(socket.recv(timeout=15)))


def test_a_wrong_forged_or_oversized_token_or_a_foreign_page_is_refused_and_changes_nothing(hall: Hall) -> None:
    app = hall.app
    ticket = take_for_a_citizen(app, next(CITIZENS))
    _, link = hall.invite(ticket['code'])
    before = settled_state(hall.prepared.url)
    forged = link[:-1] + ('A' if link[-1] != 'A' else 'B')
    for wrong in ('not-a-real-link', forged, "x'%20OR%201=1--", link + 'x' * 3000, ticket['code']):
        answer = refusal(app, wrong)
        assert answer.status_code == 403, wrong
        assert answer.json()['code'] == 'proxy_ended' and answer.json()['message']
    assert refusal(app, link, origin='http://evil.example').status_code == 403
    assert refusal(app, link, origin='null').status_code == 403
    assert httpx.get(f'{app.base_url}/live/proxy/{link}/cases').status_code in (404, 405)  # not an HTTP resource
    assert settled_state(hall.prepared.url) == before


@pytest.mark.parametrize(
    'message',
    [b'\x00\xff' * 64, 'hello', json.dumps({'seq': 0, 'cases': [{'id': 1, 'status': 'completed'}]})],
    ids=['binary-garbage', 'text', 'forged-case'],
)
def test_anything_a_client_sends_closes_its_socket_and_reaches_no_other_page(hall: Hall, message: str | bytes) -> None:
    app = hall.app
    _, link = hall.invite(take_for_a_citizen(app, next(CITIZENS))['code'])
    with follow(app, link) as (bystander, _), follow(app, link) as (talker, _):
        talker.send(message)
        assert closed_with(talker) == 1008
        assert bystander.ping().wait(5)
    with follow(app, link) as (_, snapshot):
        assert cases_of(snapshot) == []


def test_a_ticket_grant_sees_only_its_tickets_case_never_the_citizens_other_case_nor_anothers(hall: Hall) -> None:
    app = hall.app
    citizen = next(CITIZENS)
    stranger = take_for_a_citizen(app, next(CITIZENS))
    stranger_case, _, stranger_step = hall.open_case(stranger)
    second = take_for_a_citizen(app, citizen, 'SVC-B')  # the same citizen's other matter
    other_case, _, other_step = hall.open_case(second)
    first = take_for_a_citizen(app, citizen)
    _, link = hall.invite(first['code'])  # a grant of the first ticket only
    with follow(app, link) as (relative, snapshot):
        assert cases_of(snapshot) == []  # no case opened from its ticket yet: nothing, not the citizen's others
        hall.decide(other_step, note='请补充材料')
        hall.decide(stranger_step)
        mine, _, step = hall.open_case(first)
        told = next_text(relative)  # the first text it hears is its own ticket's case: the others' steps sent nothing
        [case] = cases_of(told)
        assert case['id'] == mine and mine not in (other_case, stranger_case)
        assert case['current'] and case['steps'][case['current'][0]]['status'] == 'active'  # type: ignore[index]
        hall.decide(step, note='请补充户口簿首页')
        while (told := next_text(relative))['cases'][0]['status'] != 'returned':  # type: ignore[index]
            pass
        [case] = cases_of(told)
        assert case['asked'] == ['请补充户口簿首页'] and case['id'] == mine
        text = json.dumps(told, ensure_ascii=False)
        for secret in (first['code'], second['code'], stranger['code'], first['number'], '请补充材料'):
            assert secret not in text


def test_a_case_only_grant_has_a_light_page_of_its_case_and_a_ticket_only_link_cannot_reach_that_case(
    hall: Hall,
) -> None:
    app = hall.app
    ticket = take_for_a_citizen(app, next(CITIZENS))
    case_code = home_visit_case(hall.prepared.url, hall.other_var, ticket['code'], redis_url=REDIS)
    _, case_link = hall.invite(case_code)
    _, ticket_link = hall.invite(ticket['code'])
    with follow(app, case_link) as (_, snapshot):
        [case] = cases_of(snapshot)
        assert case['steps'] and case['status'] == 'open'
    with follow(app, ticket_link) as (_, snapshot):
        assert cases_of(snapshot) == []  # the visit is not a case of the ticket: its grant does not cover it
    with app.client() as client:
        page = client.get(f'/proxy/{case_link}/status')
        assert page.status_code == 200 and page.headers['cache-control'] == 'no-store'
        assert f'data-socket="/live/proxy/{case_link}/cases"' in page.text
        assert f'href="/proxy/{case_link}"' in page.text and '您正在协助家人办事（子女）' in page.text
        assert case_code not in page.text and 'track-ticket' not in page.text
        ticket_page = client.get(f'/proxy/{ticket_link}/status')
        assert 'data-testid="track-ticket"' in ticket_page.text
        assert f'data-socket="/live/proxy/{ticket_link}/cases"' in ticket_page.text


def test_a_grant_ended_in_another_process_closes_its_cases_socket_and_the_link_opens_nothing_more(hall: Hall) -> None:
    app = hall.app
    ticket = take_for_a_citizen(app, next(CITIZENS))
    grant_id, link = hall.invite(ticket['code'])
    _, other_link = hall.invite(ticket['code'])
    with follow(app, link) as (relative, _), follow(app, other_link) as (other, _):
        hall.end(ticket['code'], grant_id)
        assert closed_with(relative) == ACCESS_ENDED
        assert other.ping().wait(5)
    answer = refusal(app, link)
    assert answer.status_code == 403 and answer.json()['code'] == 'proxy_ended'
    with app.client() as client:
        assert client.get(f'/proxy/{link}/status').status_code == 404
