"""Attacker tests on a running app: the monthly report page `/report/{month}` and its downloads
`/api/reports/{month}/csv` and `/pdf` (managers only, second factor; the report names staff).

The app's own job writes last month's report at start-up. Nobody but a manager gets it (anonymous, a
signed-in citizen, window staff of either window, a reviewer); a forged month (injection, odd digits, a
traversal, huge) is refused in words and reads nothing; a month without a report is "not found", never a
500 and never an empty file.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlmodel import select

from app.api.web_session import SESSION_COOKIE
from app.db import Database
from app.models import ServiceItem, Ticket, TicketEvent
from app.models.people import Role
from app.models.ticket import Channel, TicketStatus
from tests.apphost import AppProcess, NewUser, PreparedDatabase, prepare_database, run_coroutine, sqlite_url, start_app
from tests.citizen_login import citizen_token
from tests.security.browser import open_page
from tests.security.routes import ACCOUNTS, OTHER_WINDOW_STAFF, assert_error, audit_rows, bearer, token

SCRIPT = '<script>alert(1)</script>'
REVIEWER = ACCOUNTS[Role.REVIEWER]


def last_month() -> str:
    today = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    return (today.replace(day=1) - dt.timedelta(days=1)).strftime('%Y-%m')


async def _served_last_month(url: str, hall_id: int, window_id: int) -> None:
    """One ticket w01 (张三) served at window 1 in the middle of last month."""
    month = dt.date.fromisoformat(last_month() + '-15')
    taken = dt.datetime.combine(month, dt.time(2), tzinfo=dt.UTC)
    db = Database(url)
    try:
        async with db.session() as s, s.begin():
            service = (await s.execute(select(ServiceItem).where(ServiceItem.code == 'SVC-A'))).scalar_one()
            assert service.id is not None
            ticket = Ticket(
                hall_id=hall_id,
                service_id=service.id,
                day=month,
                number='A901',
                code='report-edge-ticket',
                status=TicketStatus.COMPLETED,
                channel=Channel.KIOSK,
                taken_at=taken,
                queued_at=taken,
                first_called_at=taken + dt.timedelta(minutes=12),
                called_at=taken + dt.timedelta(minutes=12),
                completed_at=taken + dt.timedelta(minutes=20),
                window_id=window_id,
            )
            s.add(ticket)
            await s.flush()
            assert ticket.id is not None and ticket.completed_at is not None
            s.add(
                TicketEvent(
                    ticket_id=ticket.id,
                    hall_id=hall_id,
                    kind='completed',
                    at=ticket.completed_at,
                    actor='w01',
                    to_status='completed',
                )
            )
    finally:
        await db.dispose()


@pytest.fixture(scope='module')
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    tmp = tmp_path_factory.mktemp('report-edge')
    prepared = prepare_database(
        sqlite_url(tmp / 'hall.db'),
        users=[NewUser(*OTHER_WINDOW_STAFF, window=2), NewUser(*REVIEWER, role=Role.REVIEWER)],
    )
    small = prepared.small_hall
    assert small is not None
    run_coroutine(lambda: _served_last_month(prepared.url, small.hall_id, small.window_1))
    app = start_app(prepared.url, tmp)
    try:
        yield app, prepared
    finally:
        app.stop()


@pytest.fixture(scope='module')
def boss(live: tuple[AppProcess, PreparedDatabase]) -> str:
    app, _ = live
    with app.client() as client:
        manager = token(client, ACCOUNTS[Role.MANAGER])
        deadline = time.monotonic() + 30
        while client.get(f'/api/reports/{last_month()}/csv', headers=bearer(manager)).status_code != 200:
            assert time.monotonic() < deadline, 'the start-up job wrote no report for last month'
            time.sleep(0.5)
    return manager


def _paths(month: str) -> list[str]:
    return [f'/api/reports/{month}/csv', f'/api/reports/{month}/pdf']


def test_nobody_but_a_manager_gets_the_report_or_its_files(
    live: tuple[AppProcess, PreparedDatabase], boss: str
) -> None:
    app, _ = live
    month = last_month()
    with app.client() as client:
        citizen = asyncio.run(citizen_token(client, '13700000077', app.tmp_dir / 'var' / 'sms-outbox.jsonl'))
        staff = {
            'window staff': token(client, ACCOUNTS[Role.STAFF]),
            'staff of another window': token(client, OTHER_WINDOW_STAFF),
            'reviewer': token(client, REVIEWER),
        }
        for path in _paths(month):
            assert_error(client.get(path), 401, 'not_authenticated')
            assert_error(client.get(path, headers=bearer(citizen)), 401, 'not_authenticated')
            assert_error(client.get(path, headers=bearer('forged-' + 'A' * 40)), 401, 'not_authenticated')
            for who, value in staff.items():
                refused = client.get(path, headers=bearer(value))
                assert refused.status_code == 403, (who, refused.text)
                assert '张三' not in refused.text
        anonymous = client.get(f'/report/{month}')
        assert anonymous.status_code == 303 and anonymous.headers['location'].startswith('/login')
    with app.client(cookies={SESSION_COOKIE: citizen}) as as_citizen:
        opened = as_citizen.get(f'/report/{month}')
        assert opened.status_code == 303 and '张三' not in opened.text
    for who, value in staff.items():
        with app.client(cookies={SESSION_COOKIE: value}) as as_staff:
            page = as_staff.get(f'/report/{month}')
        assert page.status_code == 403, who
        assert '张三' not in page.text
    assert {row['actor'] for row in audit_rows(app.db_url, 'export')} == {'boss'}  # refusals download nothing


@pytest.mark.parametrize(
    'month',
    ["2026-11' OR 1=1 --", '2026-13', '2026-1', '２０２６-１１', '0000-01', '%2e%2e', '9' * 4000, SCRIPT, '-1'],
)
def test_a_forged_month_is_refused_in_words_and_reads_nothing(
    live: tuple[AppProcess, PreparedDatabase], boss: str, month: str
) -> None:
    app, _ = live
    with app.client() as client:
        for path in _paths(quote(month, safe='')):
            response = client.get(path, headers=bearer(boss))
            assert response.status_code in (404, 422), (path, response.status_code)
            assert '张三' not in response.text and not response.content.startswith(b'%PDF')
            if '/' not in month:  # a slash makes it another path altogether: the app's plain 404
                assert_error(response, 422, 'month_invalid')

    async def opened() -> None:
        page = await open_page(app.base_url, f'/report/{quote(month, safe="")}', cookies={SESSION_COOKIE: boss})
        error = page.elements[page.element('report-error')]
        assert error['text'].startswith('月份格式应为 年-月，例如 2026-11')
        assert all(SCRIPT not in str(element.get('props', {})) for element in page.elements.values())

    if '/' not in month:
        asyncio.run(opened())


def test_a_month_without_a_report_is_not_found_and_gives_no_file(
    live: tuple[AppProcess, PreparedDatabase], boss: str
) -> None:
    app, _ = live
    with app.client() as client:
        for path in _paths('2026-03'):
            assert_error(client.get(path, headers=bearer(boss)), 404, 'report_not_found')

    async def opened() -> None:
        page = await open_page(app.base_url, '/report/2026-03', cookies={SESSION_COOKIE: boss})
        assert page.elements[page.element('report-error')]['text'].startswith('2026-03 没有已生成的月度报告')

    asyncio.run(opened())


def test_a_manager_downloads_the_csv_and_pdf_and_each_download_is_audited(
    live: tuple[AppProcess, PreparedDatabase], boss: str, tmp_path: Path
) -> None:
    app, _ = live
    month = last_month()
    before = len(audit_rows(app.db_url, 'export'))
    with app.client() as client:
        csv_file = client.get(f'/api/reports/{month}/csv', headers=bearer(boss))
        pdf_file = client.get(f'/api/reports/{month}/pdf', headers=bearer(boss))
    assert csv_file.status_code == 200 and csv_file.headers['content-type'].startswith('text/csv')
    assert csv_file.headers['content-disposition'] == f'attachment; filename="halltwin-report-{month}.csv"'
    text = csv_file.content.decode('utf-8-sig')
    assert 'staff,张三,serve_minutes' in text and 'hall,,wait_minutes,' in text
    assert pdf_file.status_code == 200 and pdf_file.content.startswith(b'%PDF') and b'/Type /Page' in pdf_file.content
    exports = audit_rows(app.db_url, 'export')[before:]
    assert [(row['actor'], row['target']) for row in exports] == [('boss', f'monthly_report:{month}')] * 2

    async def opened() -> None:
        page = await open_page(app.base_url, f'/report/{month}', cookies={SESSION_COOKIE: boss})
        assert page.elements[page.element('report-heading')]['text'] == f'{month} 监测报告'
        page.element('report-chart-scores')

    asyncio.run(opened())
