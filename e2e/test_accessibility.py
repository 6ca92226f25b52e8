"""Accessibility in chromium on the real seed: axe-core on every page, the kiosk by keyboard alone, live regions.

Every route in pages.ROUTES is opened as the person who uses it (anonymous, a signed-in citizen, staff,
reviewer, manager, admin or city manager with their second factor, a paired kiosk or rating pad) at 360 px and 1366 px,
in the normal and the elder mode (`?elder=0` / `?elder=1`), and axe-core must find nothing serious or
critical. One app serves the whole module; each person keeps one browser context.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect
from websockets.sync.client import ClientConnection, connect

from app.models.people import Role
from app.security.credentials import device_credential
from app.services.remote_queue import entrance_code
from devices import protocol
from e2e.sms import texted_code, texts, verify_on_phone
from e2e.test_journey import scan
from pages import ROUTES
from tests.apphost import TEST_SECRET, AppProcess, NewUser, PreparedDatabase, running_app
from tests.idnumbers import make_id
from tests.kioskpairing import PAIR_WAIT_MS, issue_code, pair_page, type_code
from tests.relatives import home_visit_case, invite_relatives
from tests.security.routes import sqlite_path
from tests.totp import finish_login, token_body

WIDTHS = {'360': {'width': 360, 'height': 740}, '1366': {'width': 1366, 'height': 900}}
MODES = {'normal': '0', 'elder': '1'}  # the elder mode's URL switch (`?elder=1`), on every page
BLOCKING = ('serious', 'critical')
TICKET_PHONE = '13900001234'
CITIZEN_PHONE = '13812345678'
ELDER_ID = make_id(dt.date(1948, 6, 1), sequence='733')
CITY_MANAGER = ('city01', 'City-Manager-01-pass')
CASE_ONLY = '/proxy/{token}/status (a case without a ticket)'  # the same route, the light page of a case alone


@dataclass
class Hall:
    """The running app and one browser page per person, each signed in (or paired) once."""

    app: AppProcess
    pages: dict[str, Page] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)  # route -> the concrete path opened


@dataclass(frozen=True)
class Visit:
    who: str  # the key of Hall.pages
    path: Callable[[dict[str, str]], str]  # facts -> path
    ready: str  # a data-testid that is on the page once it is drawn


VISITS: dict[str, Visit] = {
    '/': Visit('anyone', lambda f: '/', 'window-1'),
    '/login': Visit('anyone', lambda f: '/login', 'login-username'),
    '/me/login': Visit('anyone', lambda f: '/me/login', 'citizen-phone'),
    '/enrol': Visit('staff', lambda f: '/enrol', 'enrol-code'),
    '/manager': Visit('manager', lambda f: '/manager', 'floor-map'),
    '/city': Visit('city', lambda f: '/city', 'city-hall-main'),
    '/city/{code}': Visit('city', lambda f: '/city/main', 'floor-map'),
    '/kiosk/{device}': Visit('kiosk', lambda f: '/kiosk/K01', 'kiosk-start-manual'),
    '/rate/{window}': Visit('pad', lambda f: '/rate/1', 'pad-idle'),
    '/window/{window_id}': Visit('staff', lambda f: f'/window/{f["window"]}', 'desk-current'),
    '/display': Visit('anyone', lambda f: '/display', 'board'),
    '/display/{zone}': Visit('anyone', lambda f: '/display/general', 'board'),
    '/track/{code}': Visit('anyone', lambda f: f['track'], 'track-ticket'),
    '/track/{code}/status': Visit('anyone', lambda f: f'{f["track"]}/status', 'track-ticket'),
    '/me': Visit('citizen', lambda f: '/me', 'me-tickets'),
    '/me/live': Visit('citizen', lambda f: '/me/live', 'me-live-no-cases'),
    '/proxy/{token}': Visit('relative', lambda f: f['proxy'], 'proxy-banner'),
    '/proxy/{token}/status': Visit('relative', lambda f: f'{f["proxy"]}/status', 'track-ticket'),
    CASE_ONLY: Visit('relative', lambda f: f'{f["proxy_case"]}/status', 'proxy-case-steps'),
    '/review': Visit('reviewer', lambda f: '/review', 'review-nodes'),
    '/admin': Visit('admin', lambda f: '/admin', 'admin-tabs'),
    '/verify/{number}': Visit('anyone', lambda f: '/verify/CERT-NOT-ISSUED', 'verify-result'),
    '/guide': Visit('anyone', lambda f: '/guide', 'guide-departments'),
    '/guide/{code}': Visit('anyone', lambda f: '/guide/RE-TRANSFER', 'guide-name'),
    '/book/{service_code}': Visit('citizen', lambda f: '/book/RE-TRANSFER', 'book-days'),
    '/entrance': Visit('manager', lambda f: '/entrance', 'entrance-qr'),
    '/arrive/{code}': Visit('citizen', lambda f: f'/arrive/{f["entrance"]}', 'arrive-confirm'),
    '/ranking': Visit('anyone', lambda f: '/ranking', 'ranking-month'),
    '/guide/{code}/print': Visit('anyone', lambda f: '/guide/RE-TRANSFER/print', 'print-steps'),
    '/report/{month}': Visit('manager', lambda f: f'/report/{f["report_month"]}', 'report-heading'),
}


def person(browser: Browser) -> Page:
    page = browser.new_context(viewport=WIDTHS['1366']).new_page()
    page.set_default_timeout(PAIR_WAIT_MS)
    return page


def staff_sign_in(page: Page, base: str, username: str, password: str) -> None:
    page.goto(f'{base}/login?next=/')
    page.get_by_test_id('login-username').fill(username)
    page.get_by_test_id('login-password').fill(password)
    page.get_by_test_id('login-submit').click()
    finish_login(page)
    page.wait_for_url(f'{base}/')


def citizen_sign_in(page: Page, app: AppProcess, phone: str) -> None:
    page.goto(f'{app.base_url}/me/login')
    page.get_by_test_id('citizen-phone').fill(phone)
    before = len(texts(app))
    page.get_by_test_id('citizen-send-code').click()
    page.get_by_test_id('citizen-code').fill(texted_code(app, after=before))
    page.get_by_test_id('citizen-sign-in').click()
    page.wait_for_url(f'{app.base_url}/me')


def pad_pairing(page: Page, base: str, db_url: str) -> None:
    page.goto(f'{base}/rate/1')
    type_code(page, issue_code(db_url, 'RP-W01'))
    page.wait_for_url(re.compile(r'/rate/1$'))


def take_tracked_ticket(base: str, password: str) -> dict[str, Any]:
    """A ticket with the citizen's ID and phone, taken by a clerk (so its owner can verify on /track)."""
    with httpx.Client(base_url=base, timeout=10) as desk:
        clerk = token_body(desk, 'manager', password)
        taken = desk.post(
            '/api/tickets',
            json={'service_code': 'HUKOU-IN', 'id_number': ELDER_ID, 'phone': TICKET_PHONE},
            headers={'Authorization': f'Bearer {clerk.json()["access_token"]}'},
        )
    assert taken.status_code == 201, taken.text
    return dict(taken.json())


def invite_relative(owner: Page, app: AppProcess, track_path: str) -> str:
    """The ticket's owner verifies on /track and invites a relative: the link the relative opens."""
    owner.goto(f'{app.base_url}{track_path}')
    verify_on_phone(owner, app)
    owner.get_by_test_id('proxy-form').click()
    owner.get_by_test_id('proxy-invite').click()
    return scan(owner, 'proxy-qr').removeprefix(app.base_url)


def follow_a_home_visit(app: AppProcess, prepared: PreparedDatabase, code: str) -> str:
    """The ticket's citizen has a 上门服务 (a case without a ticket) and lets a relative follow it: the link."""
    other_var = app.tmp_dir / 'other-var'
    case_code = home_visit_case(prepared.url, other_var, code, service_code='HUKOU-IN')
    [(_, link)] = invite_relatives(prepared.url, other_var, [case_code])
    return f'/proxy/{link}'


def generate_last_months_report(manager: Page, base: str) -> str:
    """The manager makes last month's report on /manager (a new hall has none of its own yet); its month."""
    manager.goto(f'{base}/manager')
    manager.get_by_role('tab', name='月度报告').click()
    manager.get_by_test_id('report-generate').click()
    link = manager.get_by_test_id('report-links').get_by_role('link').first
    expect(link).to_be_visible()
    return str(link.get_attribute('href')).rsplit('/', 1)[-1]


def hall_id(prepared: PreparedDatabase) -> int:
    with closing(sqlite3.connect(sqlite_path(prepared.url), timeout=30)) as db:
        (found,) = db.execute('SELECT id FROM hall ORDER BY id').fetchone()
    return int(found)


@pytest.fixture(scope='module')
def seeded_hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    city_manager = NewUser(*CITY_MANAGER, role=Role.CITY)
    with running_app(tmp_path_factory.mktemp('e2e-a11y'), seed='default', users=[city_manager]) as (app, prepared):
        yield app, prepared


@pytest.fixture(scope='module')
def hall(browser: Browser, seeded_hall: tuple[AppProcess, PreparedDatabase]) -> Iterator[Hall]:
    """Everyone signed in once; the facts the parametrised paths need (ids, codes, links)."""
    app, prepared = seeded_hall
    base, passwords = app.base_url, prepared.passwords
    expect.set_options(timeout=PAIR_WAIT_MS)
    found = Hall(app)
    for who in ('anyone', 'citizen', 'relative', 'staff', 'reviewer', 'manager', 'admin', 'city', 'kiosk', 'pad'):
        found.pages[who] = person(browser)
    for who, username in (
        ('staff', 'w01'),
        ('reviewer', 'rv_realty'),
        ('manager', 'manager'),
        ('admin', 'admin'),
        ('city', CITY_MANAGER[0]),
    ):
        staff_sign_in(found.pages[who], base, username, passwords[username])
    citizen_sign_in(found.pages['citizen'], app, CITIZEN_PHONE)
    pair_page(found.pages['kiosk'], base, prepared.url, 'K01')
    pad_pairing(found.pages['pad'], base, prepared.url)
    ticket = take_tracked_ticket(base, passwords['manager'])
    window = next(w for w in httpx.get(f'{base}/api/hall').json()['windows'] if w['number'] == 1)
    facts = {
        'window': str(window['id']),
        'track': ticket['track_path'],
        'proxy': invite_relative(found.pages['relative'], app, ticket['track_path']),
        'proxy_case': follow_a_home_visit(app, prepared, ticket['code']),
        'entrance': entrance_code(app.environment()['SECRET_KEY'].encode(), hall_id(prepared)),
        'report_month': generate_last_months_report(found.pages['manager'], base),
    }
    found.paths = {route: visit.path(facts) for route, visit in VISITS.items()}
    yield found
    for page in found.pages.values():
        page.context.close()


def with_mode(path: str, mode: str) -> str:
    return f'{path}{"&" if "?" in path else "?"}elder={MODES[mode]}'


def blocking_violations(page: Page) -> list[dict[str, Any]]:
    results = Axe().run(page)
    return [v for v in results.response['violations'] if v['impact'] in BLOCKING]


def described(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f'{violation["impact"]} {violation["id"]}: {violation["help"]}')
        for node in violation['nodes'][:4]:
            lines.append(f'    {node["target"]} {node["html"][:160]}')
            lines.append(f'        {node["failureSummary"].splitlines()[-1].strip()}')
    return '\n'.join(lines)


def test_every_route_has_a_visit() -> None:
    """A new page is checked too: it needs a visit here (who opens it, and what shows it is drawn); a route with two
    shapes has a visit for each (`CASE_ONLY`)."""
    assert {route.split(' ', 1)[0] for route in VISITS} == set(ROUTES)


@pytest.mark.parametrize('mode', MODES)
@pytest.mark.parametrize('width', WIDTHS)
@pytest.mark.parametrize('route', VISITS)
def test_no_serious_or_critical_axe_violation_on_the_page(route: str, width: str, mode: str, hall: Hall) -> None:
    visit = VISITS[route]
    screen = hall.pages[visit.who]
    screen.set_viewport_size(WIDTHS[width])
    screen.goto(hall.app.base_url + with_mode(hall.paths[route], mode))
    expect(screen.get_by_test_id(visit.ready).first).to_be_attached()
    assert screen.evaluate('document.documentElement.lang') == 'zh-CN'
    assert screen.title().strip(), 'every page has a title'
    expect(screen.locator('main, [role="main"]')).to_have_count(1)
    found = blocking_violations(screen)
    assert not found, f'{route} at {width} px ({mode}):\n{described(found)}'


@contextmanager
def connected_device(app: AppProcess, code: str) -> Iterator[ClientConnection]:
    with connect(f'ws://127.0.0.1:{app.port}{protocol.PATH}', open_timeout=10) as socket:
        credential = device_credential(TEST_SECRET.encode(), code)
        socket.send(protocol.encode('hello', {'device': code, 'credential': credential, 'firmware': 'e2e'}))
        welcome = json.loads(socket.recv(timeout=10))
        assert welcome['type'] == 'welcome', welcome
        yield socket


@contextmanager
def printer(app: AppProcess, code: str) -> Iterator[list[str]]:
    """The kiosk's ticket printer online, printing every job it is sent (the numbers it printed)."""
    printed: list[str] = []
    done = threading.Event()
    with connected_device(app, code) as socket:

        def serve() -> None:
            while not done.is_set():
                try:
                    frame = json.loads(socket.recv(timeout=0.2))
                except TimeoutError:
                    continue
                if frame['type'] == 'print':
                    printed.append(frame['data']['ticket']['number'])
                    socket.send(protocol.encode('ack', {'of': frame['id'], 'ok': True, 'error': ''}))

        worker = threading.Thread(target=serve, daemon=True)
        worker.start()
        try:
            yield printed
        finally:
            done.set()
            worker.join(timeout=5)


def focused(screen: Page) -> str:
    """The data-testid of the focused element (its own or its nearest marked ancestor's), '' for none."""
    return str(
        screen.evaluate(
            "() => { const e = document.activeElement; const m = e && e.closest('[data-testid]');"
            " return m ? m.dataset.testid : ''; }"
        )
    )


def focus_problem(screen: Page) -> str:
    """'' when the focused element draws a visible outline (3 px or more) for keyboard focus, else what is wrong."""
    return str(
        screen.evaluate(
            '() => { const e = document.activeElement; const s = getComputedStyle(e);'
            " if (!e.matches(':focus-visible')) return `${e.tagName} is not :focus-visible`;"
            " if (s.outlineStyle === 'none' || parseFloat(s.outlineWidth) < 3)"
            '   return `${e.tagName}.${e.className} outline ${s.outlineStyle} ${s.outlineWidth}`;'
            " return ''; }"
        )
    )


def key_of(screen: Page, test_id: str) -> str:
    return str(screen.get_by_test_id(test_id).get_attribute('data-kiosk-key'))


def press_digits(screen: Page, digits: str) -> None:
    for digit in digits:
        screen.keyboard.press(digit)


def test_a_citizen_takes_a_printed_ticket_at_the_kiosk_with_the_keyboard_alone(
    browser: Browser, seeded_hall: tuple[AppProcess, PreparedDatabase]
) -> None:
    app, prepared = seeded_hall
    kiosk = person(browser)
    kiosk.set_viewport_size({'width': 1080, 'height': 1920})
    pair_page(kiosk, app.base_url, prepared.url, 'K02')  # an admin's setup; from here on, no mouse
    said = kiosk.get_by_test_id('kiosk-step-said')
    with printer(app, 'K02-PRN') as printed:
        expect(said).to_have_text('请选择取号方式')
        press_digits(kiosk, key_of(kiosk, 'kiosk-start-manual'))
        assert (focused(kiosk), focus_problem(kiosk)) == ('kiosk-start-manual', '')
        kiosk.keyboard.press('Enter')
        expect(said).to_have_text('请选择要办理的事项')  # the polite live region says the new step

        press_digits(kiosk, key_of(kiosk, 'kiosk-service-HUKOU-IN'))
        assert (focused(kiosk), focus_problem(kiosk)) == ('kiosk-service-HUKOU-IN', '')
        kiosk.keyboard.press('Enter')
        expect(kiosk.get_by_test_id('kiosk-chosen-service')).to_have_text('户籍迁入')
        expect(said).to_contain_text('户籍迁入')
        kiosk.keyboard.press('Escape')  # back to the list, then the same choice again
        expect(said).to_have_text('请选择要办理的事项')
        press_digits(kiosk, key_of(kiosk, 'kiosk-service-HUKOU-IN'))
        kiosk.keyboard.press('Enter')

        answer = 'kiosk-answer-hukou_local-no'
        press_digits(kiosk, key_of(kiosk, answer))
        kiosk.keyboard.press('Enter')
        expect(kiosk.get_by_test_id(answer)).to_have_attribute('aria-pressed', 'true')
        expect(kiosk.get_by_text('户口迁移证')).to_be_visible()
        assert focused(kiosk) == answer, 'the redrawn step keeps the focus where it was'
        order = []
        while focused(kiosk) != 'kiosk-take' and len(order) < 20:
            kiosk.keyboard.press('Tab')
            assert focus_problem(kiosk) == '', focused(kiosk)
            order.append(focused(kiosk))
        assert order[-2:] == ['kiosk-other-service', 'kiosk-take'], order
        kiosk.keyboard.press('Enter')

        number = kiosk.get_by_test_id('kiosk-ticket-number')
        expect(number).to_have_text(re.compile(r'H\d{3}'))
        expect(said).to_have_text(f'您的号码 {number.inner_text()}')
        expect(kiosk.get_by_test_id('kiosk-print-status')).to_have_text('凭条已打印，请取走')
        assert printed == [number.inner_text()]
        found = blocking_violations(kiosk)
        assert not found, described(found)
        kiosk.keyboard.press('Enter')  # nothing focused but the heading: Enter is 完成
        expect(kiosk.get_by_test_id('kiosk-start-manual')).to_be_visible()
    kiosk.context.close()


def test_the_kiosk_elder_layout_has_no_serious_or_critical_axe_violation(
    browser: Browser, seeded_hall: tuple[AppProcess, PreparedDatabase]
) -> None:
    """The kiosk's own elder layout (an ID card showing 65 or over), on its first steps, at both widths."""
    app, prepared = seeded_hall
    kiosk = person(browser)
    pair_page(kiosk, app.base_url, prepared.url, 'K03')
    with connected_device(app, 'K03-ID') as reader:
        reader.send(protocol.encode('card_read', {'id_number': ELDER_ID, 'name': '王老伯'}))
        expect(kiosk.get_by_test_id('kiosk-root')).to_have_class(re.compile(r'\belder\b'))
    for width in WIDTHS.values():
        kiosk.set_viewport_size(width)
        found = blocking_violations(kiosk)
        assert not found, f'elder services at {width["width"]} px:\n{described(found)}'
    kiosk.keyboard.press('1')
    kiosk.keyboard.press('Enter')
    expect(kiosk.get_by_test_id('kiosk-chosen-service')).to_be_visible()
    for width in WIDTHS.values():
        kiosk.set_viewport_size(width)
        found = blocking_violations(kiosk)
        assert not found, f'elder checklist at {width["width"]} px:\n{described(found)}'
    kiosk.context.close()


def test_a_new_call_is_said_in_the_boards_polite_live_region(
    browser: Browser, seeded_hall: tuple[AppProcess, PreparedDatabase]
) -> None:
    app, prepared = seeded_hall
    board = person(browser)
    board.goto(f'{app.base_url}/display')
    said = board.get_by_test_id('board-said')
    expect(said).to_have_attribute('aria-live', 'polite')
    taken = httpx.post(f'{app.base_url}/api/tickets', json={'service_code': 'BIZ-OPEN'}, timeout=10)
    assert taken.status_code == 201, taken.text
    window = next(w for w in httpx.get(f'{app.base_url}/api/hall').json()['windows'] if 'BIZ-OPEN' in w['services'])
    desk = person(browser)
    staff_sign_in(desk, app.base_url, f'w{window["number"]:02d}', prepared.passwords[f'w{window["number"]:02d}'])
    desk.goto(f'{app.base_url}/window/{window["id"]}')
    desk.get_by_test_id('desk-call-next').click()
    number = taken.json()['number']
    expect(said).to_have_text(f'请 {number} 号到 {window["number"]} 号窗口办理')
    board.context.close()
    desk.context.close()


@pytest.mark.parametrize('width', WIDTHS)
def test_no_serious_or_critical_axe_violation_behind_the_admin_tabs(width: str, hall: Hall) -> None:
    """/admin shows one tab at a time: each is opened and checked."""
    admin = hall.pages['admin']
    admin.set_viewport_size(WIDTHS[width])
    admin.goto(f'{hall.app.base_url}/admin')
    tabs = admin.get_by_test_id('admin-tabs').get_by_role('tab')
    expect(tabs.first).to_be_visible()
    problems = []
    for index in reversed(range(tabs.count())):
        tab = tabs.nth(index)
        tab.click()
        expect(tab).to_have_attribute('aria-selected', 'true')
        expect(admin.locator('.q-tab-panel')).to_have_count(1)  # the sliding change of panels is over
        found = blocking_violations(admin)
        if found:
            problems.append(f'tab {tab.inner_text()}:\n{described(found)}')
    assert not problems, '\n'.join(problems)
