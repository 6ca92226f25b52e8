"""每月监测报告 and 考核: indicators on two seeded months against hand-computed numbers, control limits, the job's
one report per month, and the CSV and PDF files."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from sqlmodel import func, select

from app import jobs
from app.clock import utcnow
from app.db import Database
from app.models import AuditEntry, MonthlyReport
from app.models.people import Role
from app.services.control_limits import individuals_chart, p_chart
from app.services.errors import Forbidden, Invalid, NotFound
from app.services.monthly_report import MonthlyReportService, annotate, parse_month
from app.services.principal import Kind, Principal
from app.services.report_indicators import mean_figure, rate_figure
from tests.callers import as_staff, deps_for
from tests.conftest import FakeClock
from tests.reporthall import OCTOBER, SEPTEMBER, ReportHall, build_report_hall

BOSS = as_staff('boss')
CLERK = Principal(Kind.STAFF, 'w01', Role.STAFF)


@pytest.fixture
async def report_hall(db: Database) -> ReportHall:
    return await build_report_hall(db)


@pytest.fixture
def reports(db: Database, report_hall: ReportHall, clock: FakeClock) -> MonthlyReportService:
    return MonthlyReportService(deps_for(db, hall_id=report_hall.small.hall_id, clock=clock))


def _row(figures: dict[str, Any], scope: str, name: str) -> dict[str, Any]:
    return next(row for row in figures['scopes'][scope] if row['name'] == name)


def _values(row: dict[str, Any]) -> dict[str, Any]:
    return {code: figure['value'] for code, figure in row['figures'].items()}


async def test_october_figures_match_the_hand_computed_ones(
    reports: MonthlyReportService, report_hall: ReportHall
) -> None:
    october = await reports.build(OCTOBER)
    hall = _values(october['scopes']['hall'][0])
    assert hall == {
        'wait_minutes': pytest.approx((10 + 20 + 6) / 3),
        'serve_minutes': pytest.approx((10 + 30 + 6) / 3, abs=1e-4),
        'case_hours': 48.0,  # case 2 is still open
        'satisfaction': pytest.approx(2 / 3, abs=1e-6),
        'solved': 0.5,  # one rectification closed by its deadline, one two days late
        'materials': 0.5,  # 2 of 4 listed materials held by departments; the verification row is not listed
        'online': 0.25,  # one remote ticket of four
        'device_usage': 0.5,  # 2 counted devices x 1 day with tickets; the kiosk was used, the printer not that day
        'mttr_minutes': 30.0,  # 40 and 20 minutes
    }
    assert _values(_row(october, 'window', '1号窗口')) == {
        'wait_minutes': 15.0,
        'serve_minutes': 20.0,
        'satisfaction': 0.5,
        'online': 0.5,
    }
    assert _values(_row(october, 'window', '2号窗口')) == {
        'wait_minutes': 6.0,
        'serve_minutes': 6.0,
        'satisfaction': 1.0,
        'online': 0.0,
    }
    assert _values(_row(october, 'staff', '张三')) == {'serve_minutes': 20.0, 'satisfaction': 0.5}
    assert _values(_row(october, 'staff', '李四')) == {'serve_minutes': 6.0, 'satisfaction': 1.0}
    department = _values(_row(october, 'department', '测试局'))
    assert (department['solved'], department['materials'], department['case_hours']) == (0.5, 0.5, 48.0)
    assert [row['name'] for row in october['scopes']['department']] == ['测试局']  # no ticket or rating of its own


async def test_month_on_month_change_compares_with_september(reports: MonthlyReportService) -> None:
    hall = (await reports.build(OCTOBER))['scopes']['hall'][0]['figures']
    assert hall['wait_minutes']['change'] == pytest.approx(12 - 30)
    assert hall['satisfaction']['change'] == pytest.approx(2 / 3, abs=1e-5)  # September: 0 of 1 satisfied
    assert hall['online']['change'] == 0.25
    assert hall['case_hours']['change'] is None  # no case in September
    september = await reports.build(SEPTEMBER)
    assert _values(september['scopes']['hall'][0])['wait_minutes'] == 30.0


async def test_assessment_scores_windows_and_departments_from_the_same_figures(reports: MonthlyReportService) -> None:
    assessment = (await reports.build(OCTOBER))['assessment']
    # window 2: satisfaction 100, wait within 15 min 100, online 0 -> (40*100 + 20*100 + 10*0) / 70
    # window 1: satisfaction 50, wait 15 min 100, online 50 -> (40*50 + 20*100 + 10*50) / 70
    assert [(row['name'], row['score']) for row in assessment['windows']] == [('2号窗口', 85.7), ('1号窗口', 64.3)]
    # 测试局: (40*66.67 + 20*100 + 10*25 + 15*50 + 15*50) / 100
    assert [(row['name'], row['score']) for row in assessment['departments']] == [('测试局', 64.2)]
    shares = {row['name']: (row['hours'], row['share'], row['overdue']) for row in assessment['case_time']}
    assert shares == {
        '不动产登记中心': (44.0, pytest.approx(44 / 48, abs=1e-4), True),
        '测试局': (4.0, pytest.approx(4 / 48, abs=1e-4), False),
    }


def test_a_rate_outside_its_p_chart_limits_is_flagged() -> None:
    history = [
        {'hall': [{'key': None, 'name': '', 'figures': {'satisfaction': rate_figure(k, 100)}}]} for k in (90, 85, 95)
    ]
    low = {'hall': [{'key': None, 'name': '', 'figures': {'satisfaction': rate_figure(70, 100)}}]}
    usual = {'hall': [{'key': None, 'name': '', 'figures': {'satisfaction': rate_figure(84, 100)}}]}
    # p = 270/300 = 0.9, 3 * sqrt(0.9 * 0.1 / 100) = 0.09: limits 0.81 .. 0.99
    assert [item['indicator'] for item in annotate(low, history)] == ['satisfaction']
    assert low['hall'][0]['figures']['satisfaction']['limits'] == {
        'low': pytest.approx(0.81),
        'high': pytest.approx(0.99),
        'chart': 'p',
    }
    assert annotate(usual, history) == []
    assert annotate(low, history[:2]) == [] and low['hall'][0]['figures']['satisfaction']['limits'] is None


def test_a_mean_outside_its_individuals_chart_limits_is_flagged() -> None:
    history = [
        {'window': [{'key': 3, 'name': '3号窗口', 'figures': {'wait_minutes': mean_figure([m])}}]} for m in (10, 12, 14)
    ]
    jump = {'window': [{'key': 3, 'name': '3号窗口', 'figures': {'wait_minutes': mean_figure([25])}}]}
    within = {'window': [{'key': 3, 'name': '3号窗口', 'figures': {'wait_minutes': mean_figure([17])}}]}
    # mean 12, standard deviation 2: limits 6 .. 18
    flagged = annotate(jump, history)
    assert [(item['name'], item['indicator'], item['value']) for item in flagged] == [('3号窗口', 'wait_minutes', 25.0)]
    assert (flagged[0]['low'], flagged[0]['high']) == (pytest.approx(6.0), pytest.approx(18.0))
    assert annotate(within, history) == []
    assert jump['window'][0]['figures']['wait_minutes']['change'] == 15.0  # history is newest first


def test_limits_need_three_prior_months_with_data() -> None:
    assert p_chart([(9, 10), (8, 10)], 10) is None
    assert p_chart([(9, 10), (8, 10), (0, 0), (7, 10)], 10) is not None
    assert individuals_chart([1.0, 2.0]) is None


async def test_the_job_run_twice_keeps_one_report_for_last_month(
    db: Database, reports: MonthlyReportService, report_hall: ReportHall
) -> None:
    assert await jobs.monthly_report({'reports': reports}) == 1
    assert await jobs.monthly_report({'reports': reports}) == 0
    async with db.read_session() as s:
        stored = (await s.execute(select(MonthlyReport))).scalars().all()
    assert [(row.month, row.generated_by) for row in stored] == [(OCTOBER, 'system:monthly_report')]
    assert _values(stored[0].figures['scopes']['hall'][0])['online'] == 0.25
    assert [m.month for m in await reports.stored_months(BOSS)] == [OCTOBER]


async def test_a_manager_generating_again_replaces_the_one_report_and_is_audited(
    db: Database, reports: MonthlyReportService, report_hall: ReportHall, clock: FakeClock
) -> None:
    await reports.generate_due()
    clock.advance(60)
    assert await reports.generate_last_month(BOSS) == OCTOBER
    async with db.read_session() as s:
        stored = (await s.execute(select(MonthlyReport))).scalars().all()
        audited = (
            await s.execute(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action == 'monthly_report_generated')
            )
        ).scalar_one()
    assert [(row.month, row.generated_by, row.generated_at) for row in stored] == [(OCTOBER, 'boss', clock.now)]
    assert audited == 1


async def test_only_managers_read_or_generate_reports(reports: MonthlyReportService, report_hall: ReportHall) -> None:
    await reports.generate_due()
    for attempt in (reports.report(CLERK, '2026-10'), reports.generate_last_month(CLERK), reports.stored_months(CLERK)):
        with pytest.raises(Forbidden):
            await attempt


@pytest.mark.parametrize(
    'text', ['2026-13', '2026-1', '２０２６-１０', "2026-10' OR 1=1 --", '0000-01', '9' * 4000, '']
)
def test_a_forged_month_is_refused_before_any_query(text: str) -> None:
    with pytest.raises(Invalid) as refused:
        parse_month(text)
    assert refused.value.code == 'month_invalid'


async def test_a_month_without_a_report_is_not_found(reports: MonthlyReportService) -> None:
    with pytest.raises(NotFound) as missing:
        await reports.report(BOSS, '2026-08')
    assert missing.value.code == 'report_not_found'


async def test_the_csv_has_a_row_per_figure_score_and_case_time_share(reports: MonthlyReportService) -> None:
    from app.services.report_export import csv_bytes

    await reports.generate_due()
    stored = await reports.report(BOSS, '2026-10')
    content = csv_bytes(stored.figures)
    assert content.startswith(b'\xef\xbb\xbf')
    rows = list(csv.reader(io.StringIO(content.decode('utf-8-sig'))))
    assert rows[0] == ['scope', 'name', 'indicator', 'label', 'value', 'n', 'change', 'low', 'high', 'anomaly']
    figures = [row for row in rows[1:] if row[2] not in ('score', 'case_time_share')]
    # hall 9 indicators, 测试局 7, two windows 4 each, two staff 2 each
    assert len(figures) == 9 + 7 + 2 * 4 + 2 * 2
    assert ['hall', '', 'online', '线上办理率 / Online share', '0.25', '4', '0.25', '', '', ''] in rows
    assert ['window', '2号窗口', 'score', '考核得分 / score', '85.7', '', '', '', '', ''] in rows
    overdue = [row for row in rows if row[2] == 'case_time_share' and row[1] == '不动产登记中心']
    assert overdue == [
        [
            'department',
            '不动产登记中心',
            'case_time_share',
            '跨部门办件时长占比 / share of cross-department case time',
            '0.9167',
            '1',
            '',
            '',
            '',
            'yes',
        ]
    ]


async def test_the_pdf_opens_with_a_page(reports: MonthlyReportService) -> None:
    from app.services.report_pdf import pdf_bytes

    await reports.generate_due()
    stored = await reports.report(BOSS, '2026-10')
    content = pdf_bytes(stored.figures, hall_name='测试大厅', generated_at=stored.generated_at)
    assert content.startswith(b'%PDF')
    assert b'/Type /Page' in content and b'STSong-Light' in content and b'Helvetica' in content
    stored.figures['scopes']['staff'][0]['name'] = '<b>张三</b> & <font name="x">'  # a name is text, never markup
    assert pdf_bytes(stored.figures, hall_name='<i>', generated_at=stored.generated_at).startswith(b'%PDF')


async def test_a_month_that_jumps_outside_the_limits_of_the_stored_months_is_flagged(
    db: Database, reports: MonthlyReportService, report_hall: ReportHall
) -> None:
    """July to September stored with waits of 30, 31 and 29 minutes (limits 27 .. 33); October's 12 is flagged."""
    async with db.session() as s, s.begin():
        for month, wait in ((dt.date(2026, 7, 1), 30), (dt.date(2026, 8, 1), 31), (SEPTEMBER, 29)):
            hall = {'key': None, 'name': '', 'figures': {'wait_minutes': mean_figure([wait])}}
            scopes = {'hall': [hall], 'department': [], 'window': [], 'staff': []}
            s.add(
                MonthlyReport(
                    hall_id=report_hall.small.hall_id, month=month, figures={'scopes': scopes}, generated_at=utcnow()
                )
            )
    october = await reports.build(OCTOBER)
    assert [(a['scope'], a['indicator'], a['value']) for a in october['anomalies']] == [('hall', 'wait_minutes', 12.0)]
    wait = october['scopes']['hall'][0]['figures']['wait_minutes']
    assert (wait['limits']['low'], wait['limits']['high'], wait['change']) == (27.0, 33.0, -17.0)
