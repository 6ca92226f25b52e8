"""Insiders and slips against the running app: staff never hold a citizen's keys, a slip is only a pointer,
/track is scoped to its own ticket, and staff's free text never reaches an SMS.

Each test plays the attacker of issue 19 with a real client: a clerk's API token and desk page, a
photographed slip (code and number) on a page socket, a second citizen using the victim's ID number, a
reviewer's return note with a link. The citizen's phone is the app's SMS outbox file (var/sms-outbox.jsonl).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from app.db import Database
from app.models import AuditEntry, Consent, Evaluation
from app.models.cases import Notification
from app.models.proxy import ProxyGrant
from app.models.security import ConsentPurpose, ConsentScope
from app.models.ticket import Ticket
from app.security.keys import Purpose, derive_key
from app.services import audit
from app.services.consent import DEPARTMENT_DATA_TEXT_VERSION, ConsentService
from app.services.tracking import GUESSES_PER_CODE
from tests.apphost import TEST_SECRET, AppProcess, PreparedDatabase, run_coroutine, running_app
from tests.callers import deps_for
from tests.idnumbers import make_id
from tests.security.browser import Page, UiSocket, open_page
from tests.totp import token_body

VICTIM_ID = make_id(dt.date(1961, 5, 4), sequence='318')
VICTIM_PHONE = '13712345678'
OTHER_PHONE = '13698765432'
CODE = re.compile(r'验证码为(\d{6})')


@pytest.fixture(scope='module')
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    # recalls at once: what a recall answers is checked here, its interval in tests/security/test_queue_rules.py
    with running_app(tmp_path_factory.mktemp('citizen-keys'), extra_env={'RECALL_INTERVAL_SECONDS': '0'}) as (
        app,
        prepared,
    ):
        yield app, prepared


def token(client: httpx.Client, username: str, password: str) -> str:
    response = token_body(client, username, password)
    assert response.status_code == 200, response.text
    return str(response.json()['access_token'])


def bearer(value: str) -> dict[str, str]:
    return {'Authorization': f'Bearer {value}'}


@pytest.fixture(scope='module')
def boss(live: tuple[AppProcess, PreparedDatabase]) -> dict[str, str]:
    """The manager's bearer headers, signed in once for the module: the second factor takes each 30-second
    step once per person, so a fourth sign-in in a minute would wait for the next step."""
    app, prepared = live
    with app.client() as client:
        return bearer(token(client, 'boss', prepared.passwords['boss']))


def at_desk(app: AppProcess, boss: dict[str, str], **ticket: Any) -> dict[str, Any]:
    """A ticket a manager takes at the desk (identity and phone are believed only from staff)."""
    with app.client() as client:
        taken = client.post('/api/tickets', json={'service_code': 'SVC-A', **ticket}, headers=boss)
    assert taken.status_code == 201, taken.text
    return dict(taken.json())


def texts(app: AppProcess) -> list[dict[str, str]]:
    path = app.tmp_dir / 'var' / 'sms-outbox.jsonl'
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding='utf-8').splitlines() if line.strip()]


async def texted_code(app: AppProcess, after: int) -> str:
    for _ in range(200):
        for text in texts(app)[after:]:
            found = CODE.search(text['text'])
            if found:
                return found.group(1)
        await asyncio.sleep(0.05)
    raise AssertionError('no code texted')


def rows(url: str, model: type) -> list[Any]:
    async def read() -> list[Any]:
        db = Database(url)
        try:
            async with db.read_session() as s:
                return list((await s.execute(select(model))).scalars())
        finally:
            await db.dispose()

    return run_coroutine(read)


def pushed_testids(socket: UiSocket) -> set[str]:
    """Every data-testid the server pushed to this page (elements created after it loaded)."""
    found = set()
    for event, data in socket.received:
        if event == 'update' and isinstance(data, dict):
            for element in data.values():
                if isinstance(element, dict):
                    found.add(str(element.get('props', {}).get('data-testid', '')))
    return found - {''}


def all_testids(page: Page, socket: UiSocket) -> set[str]:
    loaded = {str(e.get('props', {}).get('data-testid', '')) for e in page.elements.values()}
    return (loaded | pushed_testids(socket)) - {''}


async def type_and_verify(page: Page, socket: UiSocket, answer: str) -> None:
    await socket.emit('event', page.event('track-code', 'update:value', answer))
    await socket.emit('event', page.event('track-verify', 'click'))
    await asyncio.sleep(0.3)


# ---- staff never hold a citizen's keys -------------------------------------------------------


def test_a_clerks_window_api_and_desk_carry_no_tracking_code_and_no_factor(
    live: tuple[AppProcess, PreparedDatabase],
    boss: dict[str, str],
) -> None:
    app, prepared = live
    victim = at_desk(app, boss, phone=VICTIM_PHONE)
    other = at_desk(app, boss)
    assert prepared.small_hall is not None
    url = f'/api/windows/{prepared.small_hall.window_1}'
    with app.client() as client:
        clerk = token(client, 'w01', prepared.passwords['w01'])
        # out of order: the clerk picks the citizen they want, then recalls and puts them back
        answers = [
            client.post(f'{url}/call', json={'number': victim['number'], 'reason': '测试'}, headers=bearer(clerk))
        ]
        answers.append(client.post(f'{url}/recall', headers=bearer(clerk)))
        with app.client(cookies={'ht_session': clerk}) as browser:
            desk = browser.get(f'/window/{prepared.small_hall.window_1}')
        answers.append(client.post(f'{url}/complete', headers=bearer(clerk)))
        answers.append(client.post(f'{url}/call-next', headers=bearer(clerk)))
        answers.append(client.post(f'{url}/complete', headers=bearer(clerk)))
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert 'code' not in answer.json() and 'track_path' not in answer.json()
        for secret in (victim['code'], other['code'], '/track/'):
            assert secret not in answer.text
    assert desk.status_code == 200 and victim['number'] in desk.text  # the desk shows the ticket it serves ...
    for secret in (victim['code'], '/track/'):
        assert secret not in desk.text  # ... and never the key to it
    # the masked phone's digits are no factor: with them (or the number) the slip opens nothing more
    asyncio.run(_slip_alone_is_refused(app, victim, [VICTIM_PHONE[-4:], victim['number']]))


async def _slip_alone_is_refused(app: AppProcess, ticket: dict[str, Any], answers: list[str]) -> None:
    page = await open_page(app.base_url, f'/track/{ticket["code"]}')
    async with UiSocket(page) as socket:
        for answer in answers:
            await type_and_verify(page, socket, answer)
        shown = all_testids(page, socket)
    assert 'track-verified' not in shown and 'track-consents' not in shown


# ---- a slip is a pointer, not a key ----------------------------------------------------------


def test_a_photographed_slip_cannot_consent_rate_or_invite_a_proxy(
    live: tuple[AppProcess, PreparedDatabase], boss: dict[str, str]
) -> None:
    app, prepared = live
    assert prepared.small_hall is not None
    slip = at_desk(app, boss, phone=OTHER_PHONE)
    with app.client() as client:  # served and completed: the citizen could rate it now
        clerk = bearer(token(client, 'w01', prepared.passwords['w01']))
        url = f'/api/windows/{prepared.small_hall.window_1}'
        client.post(f'{url}/call', json={'number': slip['number'], 'reason': '测试'}, headers=clerk)
        assert client.post(f'{url}/complete', headers=clerk).status_code == 200
    before = [len(rows(prepared.url, model)) for model in (Consent, Evaluation, ProxyGrant)]

    async def attack() -> tuple[set[str], list[str]]:
        page = await open_page(app.base_url, f'/track/{slip["code"]}')
        async with UiSocket(page) as socket:
            for guess in (slip['number'], OTHER_PHONE[-4:], '000000', '123456', '999999'):
                await type_and_verify(page, socket, guess)
            await type_and_verify(page, socket, '111111')  # over the limit: refused without being tried
            await socket.until('update', lambda data: '尝试次数过多' in json.dumps(data, ensure_ascii=False))
            return all_testids(page, socket), socket.texts('track-error')

    shown, errors = asyncio.run(attack())
    assert errors.count('验证码不正确或已失效 / the code is wrong, used or expired') == GUESSES_PER_CODE.max
    assert 'track-number' in shown and 'track-status' in shown  # the status is there
    for person in ('track-verified', 'consent-grant', 'rate-form', 'proxy-invite', 'track-notices', 'track-cases'):
        assert person not in shown, person
    assert [len(rows(prepared.url, model)) for model in (Consent, Evaluation, ProxyGrant)] == before


# ---- /track is scoped to its own ticket ------------------------------------------------------


def test_a_second_ticket_with_the_same_id_number_does_not_see_the_victims_consents(
    live: tuple[AppProcess, PreparedDatabase],
    boss: dict[str, str],
) -> None:
    app, prepared = live
    victim = at_desk(app, boss, id_number=VICTIM_ID, phone=VICTIM_PHONE)
    victim_ticket = next(t for t in rows(prepared.url, Ticket) if t.code == victim['code'])
    consent_id = run_coroutine(lambda: _victims_consent(prepared.url, victim_ticket.citizen_id, victim_ticket.id))
    # the attacker knows the victim's ID number and gets a ticket with it and a phone they hold
    mine = at_desk(app, boss, id_number=VICTIM_ID, phone=OTHER_PHONE)

    async def attack() -> set[str]:
        page = await open_page(app.base_url, f'/track/{mine["code"]}')
        async with UiSocket(page) as socket:
            before = len(texts(app))
            await socket.emit('event', page.event('track-send-code', 'click'))
            await type_and_verify(page, socket, await texted_code(app, before))
            await socket.until('update', lambda data: 'track-verified' in json.dumps(data))
            await asyncio.sleep(0.5)
            return all_testids(page, socket)

    shown = asyncio.run(attack())
    assert 'track-consents' in shown, 'the attacker did get into their own ticket'
    assert f'consent-{consent_id}' not in shown and f'consent-revoke-{consent_id}' not in shown
    victims = [c for c in rows(prepared.url, Consent) if c.id == consent_id]
    assert victims[0].revoked_at is None


async def _victims_consent(url: str, citizen_id: int | None, ticket_id: int | None) -> int:
    db = Database(url, audit_key=derive_key(TEST_SECRET.encode(), Purpose.AUDIT))
    try:
        consent = await ConsentService(deps_for(db)).grant(
            citizen_id or 0,
            ConsentPurpose.DEPARTMENT_DATA,
            ConsentScope.SAME_KIND,
            text_version=DEPARTMENT_DATA_TEXT_VERSION,
            service_code='SVC-A',
            ticket_id=ticket_id,
            channel='sms_code',
        )
        return consent.id or 0
    finally:
        await db.dispose()


def test_citizen_acts_record_the_path_they_came_through(
    live: tuple[AppProcess, PreparedDatabase], boss: dict[str, str]
) -> None:
    """The audit chain says who acted and how: a consent given on /track after the texted code is `sms_code`."""
    app, prepared = live
    ticket = at_desk(app, boss, phone='13511112222')

    async def grant() -> None:
        page = await open_page(app.base_url, f'/track/{ticket["code"]}')
        async with UiSocket(page) as socket:
            before = len(texts(app))
            await socket.emit('event', page.event('track-send-code', 'click'))
            await type_and_verify(page, socket, await texted_code(app, before))
            await socket.until('update', lambda data: 'consent-grant' in json.dumps(data))
            grant_button = next(
                key
                for event, data in socket.received
                if event == 'update'
                for key, element in data.items()
                if isinstance(element, dict) and element.get('props', {}).get('data-testid') == 'consent-grant'
            )
            page.elements[int(grant_button)] = next(
                data[grant_button] for event, data in socket.received if event == 'update' and grant_button in data
            )
            await socket.emit('event', page.event('consent-grant', 'click'))
            await asyncio.sleep(0.5)

    asyncio.run(grant())
    stored = [c for c in rows(prepared.url, Consent) if c.ticket_id is not None and c.channel == 'sms_code']
    assert stored, 'the consent was recorded with its path'
    granted = [e for e in rows(prepared.url, AuditEntry) if e.action == audit.CONSENT_GRANTED]
    assert any(e.detail.get('via') == 'sms_code' and e.actor.startswith('citizen:') for e in granted)


# ---- staff's free text never reaches an SMS --------------------------------------------------


def test_a_reviewers_note_with_a_link_never_reaches_the_sms_outbox(tmp_path: Path) -> None:
    """A returned case's note is shown on /track only; the SMS is a template that says to look there."""
    with running_app(tmp_path, seed='default') as (app, prepared):
        with app.client() as client:
            manager = bearer(token(client, 'manager', prepared.passwords['manager']))
            taken = client.post(
                '/api/tickets',
                json={'service_code': 'HUKOU-IN', 'id_number': VICTIM_ID, 'phone': VICTIM_PHONE},
                headers=manager,
            )
            assert taken.status_code == 201, taken.text
            window = next(w for w in client.get('/api/hall').json()['windows'] if w['number'] == 1)
            clerk = token(client, 'w01', prepared.passwords['w01'])
            assert client.post(f'/api/windows/{window["id"]}/call-next', headers=bearer(clerk)).status_code == 200
            reviewer = token(client, 'rv_psb', prepared.passwords['rv_psb'])
        asyncio.run(_open_case_and_return_it(app, f'/window/{window["id"]}', clerk, reviewer))
        sms = [text['text'] for text in texts(app)]
        assert any('退回补正' in text and '办件进度页' in text for text in sms), sms
        assert not any(LINK in text or 'http' in text for text in sms), sms
        pushed = [n.text for n in rows(prepared.url, Notification) if n.channel == 'push' and '退回补正' in n.text]
        assert pushed and LINK in pushed[0], 'the note itself is shown on /track'


LINK = 'http://pay-gov.example/x'


async def _open_case_and_return_it(app: AppProcess, desk_path: str, clerk: str, reviewer: str) -> None:
    desk = await open_page(app.base_url, desk_path, {'ht_session': clerk})
    async with UiSocket(desk) as socket:
        await socket.emit('event', desk.event('desk-open-case', 'click'))
        await socket.until('notify')
    review = await open_page(app.base_url, '/review', {'ht_session': reviewer})
    [node] = [
        key
        for key, e in review.elements.items()
        if re.fullmatch(r'review-return-\d+', str(e.get('props', {}).get('data-testid', '')))
    ]
    node_id = str(review.elements[node]['props']['data-testid']).rsplit('-', 1)[1]
    async with UiSocket(review) as socket:
        note = f'请先访问 {LINK} 缴纳补正费用'
        await socket.emit('event', review.event(f'review-note-{node_id}', 'update:value', note))
        await socket.emit('event', review.event(f'review-return-{node_id}', 'click'))
        await socket.until('notify')
    for _ in range(200):  # the delivery job sends the outbox rows
        if any('退回补正' in text['text'] for text in texts(app)):
            return
        await asyncio.sleep(0.05)
