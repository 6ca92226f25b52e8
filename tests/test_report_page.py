"""`/report/{month}` and the managers' report tab with NiceGUI's user fixture: generate last month's report now,
follow its link, read the figures, download the PDF and the CSV (each audited)."""

from __future__ import annotations

from nicegui import ui
from nicegui.testing import User
from sqlmodel import func, select

from app.db import Database
from app.models import AuditEntry
from app.services.audit import EXPORT
from app.services.monthly_report import REPORT_GENERATED
from app.settings import get_settings
from tests.callers import as_staff
from tests.factories import SmallHall
from tests.running import ready
from tests.test_manager_page import RETRIES, log_in, texts_in


async def _audited(action: str) -> int:
    db = Database(get_settings().db_url)
    try:
        async with db.read_session() as s:
            statement = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
            return int((await s.execute(statement)).scalar_one())
    finally:
        await db.dispose()


async def test_a_manager_generates_last_months_report_and_finds_it_in_the_list(ui_hall: SmallHall, user: User) -> None:
    rt = await ready()
    assert rt.reports is not None
    month = f'{rt.reports.last_month():%Y-%m}'
    await log_in(user, 'boss', 'Manager-01-pass')
    await user.open('/manager')
    user.find(ui.tabs).elements.pop().set_value('manager.reports')
    await user.should_see(marker='report-generate', retries=RETRIES)
    user.find(marker='report-generate').click()
    await user.should_see(f'已生成 {month} 报告', retries=RETRIES)
    (links,) = user.find(marker='report-links').elements
    assert month in {link.text for link in links.descendants() if isinstance(link, ui.link)}
    assert await _audited(REPORT_GENERATED) == 1


async def test_the_report_page_shows_the_figures_and_downloads_both_files(ui_hall: SmallHall, user: User) -> None:
    rt = await ready()
    assert rt.reports is not None
    month = await rt.reports.generate_last_month(as_staff('boss'))
    await log_in(user, 'boss', 'Manager-01-pass')
    await user.open(f'/report/{month:%Y-%m}')
    await user.should_see(marker='report-heading', retries=RETRIES)
    assert {'群众满意度', '线上办理率', '设备平均修复时长(分钟)'} <= texts_in(user, 'report-hall')
    await user.should_see(marker='report-chart-scores')
    user.find(marker='report-pdf').click()
    assert (await user.download.next(timeout=10)).content.startswith(b'%PDF')
    user.find(marker='report-csv').click()
    assert (await user.download.next(timeout=10)).content.startswith(b'\xef\xbb\xbfscope,name,indicator')
    assert await _audited(EXPORT) == 2
    assert await _audited(REPORT_GENERATED) == 1  # the one generated above
