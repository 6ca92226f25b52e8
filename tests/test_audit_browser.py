"""The audit log in the console, on SQLite and PostgreSQL: admins browse it by actor, action and day, check the
chain and export it; the export is masked, formula-safe and itself an audit row; nobody else reads a row."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from sqlalchemy import func, text
from sqlmodel import select

from app.db import Database
from app.models import AuditEntry
from app.models.people import Role
from app.services import audit
from app.services.audit_browser import AuditBrowser, AuditFilter, neutralised
from app.services.errors import Forbidden, Invalid
from app.services.principal import Kind, Principal
from app.settings import Settings
from tests.callers import deps_for
from tests.conftest import FakeClock, audited
from tests.factories import SmallHall
from tests.idnumbers import make_id

ADMIN = Principal(Kind.STAFF, 'adm01', Role.ADMIN, address='10.0.7.1')
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
PHONE = '13812345678'
ID_NUMBER = make_id(dt.date(1960, 5, 4))


@pytest.fixture
def audit_log(db: Database, hall: SmallHall, clock: FakeClock, settings: Settings, tmp_path: Path) -> AuditBrowser:
    """Anchors in this test's own file: another test's anchors belong to another database."""
    own = settings.model_copy(update={'audit_anchor_file': str(tmp_path / 'anchors.jsonl')})
    return AuditBrowser(deps_for(db, hall_id=hall.hall_id, clock=clock, settings=own))


async def rows_written(audit_log: AuditBrowser) -> None:
    """Five rows over three hall days, one with a phone, an ID number and a formula in it."""
    log = audit.AuditLog(audit_log.deps)
    day = dt.datetime(2026, 11, 26, 9, 0, tzinfo=SHANGHAI)
    await log.write(actor='w01', role='staff', action='login', client_address='10.0.0.8', now=day)
    await log.write(actor='w02', role='staff', action='login_failed', now=day + dt.timedelta(hours=14, minutes=59))
    await log.write(
        actor='w01',
        role='staff',
        action='unmask',
        target=f'citizen phone {PHONE}',
        detail={'reason': '=HYPERLINK("http://evil")', 'id': ID_NUMBER, 'n': int(PHONE)},
        client_address='2001:db8:1:2::7',
        now=day + dt.timedelta(days=1),
    )
    await log.write(actor='adm01', role='admin', action='login', now=day + dt.timedelta(days=2))
    await log.write(actor='100%_sure', role='staff', action='login', now=day + dt.timedelta(days=2, hours=1))


async def audit_count(db: Database) -> int:
    async with db.read_session() as s:
        return (await s.execute(select(func.count()).select_from(AuditEntry))).scalar_one()


async def test_admins_filter_by_actor_action_and_hall_days_newest_first_a_page_at_a_time(
    audit_log: AuditBrowser,
) -> None:
    await rows_written(audit_log)
    everything = await audit_log.entries(ADMIN, AuditFilter())
    assert [r.actor for r in everything.rows] == ['100%_sure', 'adm01', 'w01', 'w02', 'w01']
    assert (everything.total, everything.pages) == (5, 1)
    w01 = await audit_log.entries(ADMIN, AuditFilter(actor='w01'))
    assert [r.action for r in w01.rows] == ['unmask', 'login']
    assert [r.actor for r in (await audit_log.entries(ADMIN, AuditFilter(action='login'))).rows] == [
        '100%_sure',
        'adm01',
        'w01',
    ]
    first_day = await audit_log.entries(ADMIN, AuditFilter(since=dt.date(2026, 11, 26), until=dt.date(2026, 11, 26)))
    assert [r.actor for r in first_day.rows] == ['w02', 'w01']  # 23:59 hall time is still the 26th
    assert first_day.rows[0].at.strftime('%H:%M') == '23:59'
    second = await audit_log.entries(ADMIN, AuditFilter(), page=2, size=2)
    assert ([r.actor for r in second.rows], second.page, second.pages) == (['w01', 'w02'], 2, 3)
    assert (await audit_log.entries(ADMIN, AuditFilter(), page=99, size=2)).page == 3
    assert await audit_log.actions(ADMIN) == ['login', 'login_failed', 'unmask']


@pytest.mark.parametrize(
    'attempt',
    ["' OR 1=1 --", '%', '_', "w01'; DELETE FROM audit_entry; --", '\\', '"', '/', '١'],
)
async def test_filter_values_are_matched_as_text_never_as_sql_or_wildcards(
    audit_log: AuditBrowser, db: Database, attempt: str
) -> None:
    await rows_written(audit_log)
    found = await audit_log.entries(ADMIN, AuditFilter(actor=attempt, action=attempt))
    assert found.rows == [] and found.total == 0
    assert [r.actor for r in (await audit_log.entries(ADMIN, AuditFilter(actor='%'))).rows] == ['100%_sure']
    assert await audit_count(db) == 5


async def test_rows_on_screen_are_masked_and_addresses_show_network_and_digest(audit_log: AuditBrowser) -> None:
    await rows_written(audit_log)
    (row,) = (await audit_log.entries(ADMIN, AuditFilter(action='unmask'))).rows
    assert PHONE not in row.target and '138****5678' in row.target
    assert row.detail['id'] == ID_NUMBER[:6] + '********' + ID_NUMBER[-4:] and row.detail['n'] == '138****5678'
    assert row.client_address == audited('2001:db8:1:2::7') and row.client_address.startswith('2001:db8:1::/48#')
    (login,) = (await audit_log.entries(ADMIN, AuditFilter(actor='w01', action='login'))).rows
    assert login.client_address == audited('10.0.0.8') and login.client_address.startswith('10.0.0.0/24#')


async def test_the_export_is_masked_formula_safe_and_itself_audited(
    audit_log: AuditBrowser, db: Database, clock: FakeClock
) -> None:
    await rows_written(audit_log)
    exported = await audit_log.export(ADMIN, AuditFilter(actor='w01', since=dt.date(2026, 11, 27)))
    content = exported.content.decode('utf-8-sig')
    assert exported.rows == 1 and exported.filename == 'audit-20261128-100000.csv'
    for secret in (PHONE, ID_NUMBER, '138****5678', ID_NUMBER[:6] + '********', '2001:db8:1:2::7'):
        assert secret not in content
    header, row = list(csv.reader(io.StringIO(content)))
    assert header[:3] == ['id', 'time', 'actor'] and row[2] == 'w01'
    assert row[5] == 'citizen phone ***********' and row[8] == audited('2001:db8:1:2::7')
    assert '"\'={""id""' not in content and '=HYPERLINK' in row[7] and not row[7].startswith('=')
    async with db.read_session() as s:
        newest = (await s.execute(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))).scalar_one()  # type: ignore[union-attr]
    assert (newest.actor, newest.action, newest.target, newest.client_address) == (
        'adm01',
        audit.EXPORT,
        'audit_log',
        audited('10.0.7.1'),
    )
    assert newest.detail == {'filter': {'actor': 'w01', 'since': '2026-11-27'}, 'rows': 1}
    assert (await audit.verify(db)).ok


def test_cells_a_spreadsheet_would_run_get_a_leading_apostrophe() -> None:
    assert [neutralised(c) for c in ('=1+1', '+1', '-1', '@SUM(A1)', '\tx', '\rx', 'ok', '1-2')] == [
        "'=1+1",
        "'+1",
        "'-1",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
        'ok',
        '1-2',
    ]


async def test_a_formula_at_the_start_of_a_cell_is_neutralised_in_the_file(audit_log: AuditBrowser) -> None:
    await audit.AuditLog(audit_log.deps).write(actor='=cmd|calc', role='staff', action='@login', target='+x')
    _, row = list(csv.reader(io.StringIO((await audit_log.export(ADMIN, AuditFilter())).content.decode('utf-8-sig'))))
    assert (row[2], row[4], row[5]) == ("'=cmd|calc", "'@login", "'+x")


async def test_a_bad_filter_is_refused_and_nothing_is_read_or_written(audit_log: AuditBrowser, db: Database) -> None:
    await rows_written(audit_log)
    for wanted, code in (
        (AuditFilter(since=dt.date(2026, 11, 28), until=dt.date(2026, 11, 27)), 'audit_range'),
        (AuditFilter(actor='x' * 65), 'audit_filter_too_long'),
        (AuditFilter(actor='w01\x00'), 'audit_filter_unprintable'),
        (AuditFilter(action='lo\ngin'), 'audit_filter_unprintable'),
    ):
        for attempt in (audit_log.export(ADMIN, wanted), audit_log.entries(ADMIN, wanted)):
            with pytest.raises(Invalid) as refused:
                await attempt
            assert refused.value.code == code
    assert await audit_count(db) == 5


@pytest.mark.parametrize('role', [Role.STAFF, Role.REVIEWER, Role.MANAGER, Role.CITIZEN, Role.DEVICE, Role.PROXY])
async def test_nobody_but_an_admin_reads_checks_or_exports(audit_log: AuditBrowser, db: Database, role: Role) -> None:
    await rows_written(audit_log)
    caller = Principal(Kind.STAFF, 'someone', role)
    for attempt in (
        audit_log.entries(caller, AuditFilter()),
        audit_log.actions(caller),
        audit_log.check(caller),
        audit_log.export(caller, AuditFilter()),
    ):
        with pytest.raises(Forbidden):
            await attempt
    assert await audit_count(db) == 5


async def test_the_check_names_the_first_edited_row(audit_log: AuditBrowser, db: Database) -> None:
    await rows_written(audit_log)
    intact = await audit_log.check(ADMIN)
    assert (intact.ok, intact.rows, intact.problem) == (True, 5, '')
    async with db.session() as s, s.begin():
        second = (await s.execute(select(AuditEntry.id).order_by(AuditEntry.id).offset(1).limit(1))).scalar_one()  # type: ignore[arg-type]
        await s.execute(text('UPDATE audit_entry SET actor = :a WHERE id = :i'), {'a': 'w09', 'i': second})
    broken = await audit_log.check(ADMIN)
    assert (broken.ok, broken.bad_row_id, broken.problem) == (False, second, 'edited')
