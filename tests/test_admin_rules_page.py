"""/admin's hall rules and audit log tabs in NiceGUI's simulated browser: an admin changes a rule (a bad value is
marked at its field and saves nothing), reads the history, filters the audit log, checks the chain and exports."""

from __future__ import annotations

import os

import pytest
from nicegui import ui
from nicegui.testing import User
from sqlalchemy import func
from sqlmodel import select

from app.models import AuditEntry
from app.models.config_version import ConfigVersion
from app.runtime import Runtime
from app.settings import get_settings
from tests import totp
from tests.admin_ui import ADMIN, add_admin, open_admin
from tests.factories import SmallHall

PATIENT = 50


@pytest.fixture
async def admin_hall(ui_hall: SmallHall, monkeypatch: pytest.MonkeyPatch) -> SmallHall:
    await add_admin(os.environ['DATABASE_URL'])
    monkeypatch.setenv('HALL_SIMULATION', 'off')
    get_settings.cache_clear()
    return ui_hall


async def as_admin(user: User) -> Runtime:
    return await open_admin(user)


def set_value(user: User, marker: str, value: object) -> None:
    (field,) = user.find(marker=marker).elements
    assert isinstance(field, ui.number | ui.select)
    field.value = value


async def saved_versions(rt: Runtime) -> int:
    async with rt.db.read_session() as s:
        return (await s.execute(select(func.count()).select_from(ConfigVersion))).scalar_one()


async def test_an_admin_changes_the_fairness_cap_and_it_applies_at_once(admin_hall: SmallHall, user: User) -> None:
    rt = await as_admin(user)
    await user.should_see(marker='admin-rules-source', content='当前使用默认值', retries=PATIENT)
    await user.should_see(marker='admin-rule-fairness_cap_minutes-bounds', content='大于 0，最多 240 · 默认 20')
    await user.should_see('优先号（绿色通道、预约）先于普通号办理')
    await user.should_see('还没有修改过规则')
    set_value(user, 'admin-rule-fairness_cap_minutes-input', 30)
    user.find(marker='admin-rules-save').click()
    await user.should_see('已保存为第 1 版，立即生效', retries=PATIENT)
    await user.should_see(marker='admin-rules-source', content='当前为第 1 版')
    await user.should_see(marker='admin-rules-version-1')
    await user.should_see('公平上限（分钟）：20 → 30')
    await user.should_see('第 1 版 · ')
    assert rt.queue.rules.fairness_cap_minutes == 30 and rt.deps.rules.version == 1


async def test_a_bad_value_is_marked_at_its_field_and_nothing_is_saved(admin_hall: SmallHall, user: User) -> None:
    rt = await as_admin(user)
    await user.should_see(marker='admin-rules-source', content='当前使用默认值', retries=PATIENT)
    set_value(user, 'admin-rule-elderly_age-input', 120)
    set_value(user, 'admin-rule-recalls_before_no_show-input', 1.5)
    await user.should_see(marker='admin-rule-elderly_age-error', content='须在 50 至 100 之间')
    user.find(marker='admin-rules-save').click()
    await user.should_see('请先改正标红的规则', retries=PATIENT)
    await user.should_see(marker='admin-rule-recalls_before_no_show-error', content='请填写整数')
    assert await saved_versions(rt) == 0 and rt.queue.rules.elderly_age == 65
    set_value(user, 'admin-rule-elderly_age-input', 70)
    set_value(user, 'admin-rule-recalls_before_no_show-input', 3)
    await user.should_not_see(marker='admin-rule-elderly_age-error')
    user.find(marker='admin-rules-save').click()
    await user.should_see('已保存为第 1 版', retries=PATIENT)
    assert (rt.queue.rules.elderly_age, rt.queue.rules.recalls_before_no_show) == (70, 3)


async def test_a_save_over_another_admins_newer_rules_is_refused_and_the_form_reloads(
    admin_hall: SmallHall, user: User
) -> None:
    rt = await as_admin(user)
    await user.should_see(marker='admin-rules-source', content='当前使用默认值', retries=PATIENT)
    other = (await rt.auth.authenticate((await totp.login(rt.auth, *ADMIN)).token)).with_address('10.0.7.2')
    await rt.rules.change(other, {'booking_max_live': 5})
    set_value(user, 'admin-rule-booking_max_live-input', 2)
    user.find(marker='admin-rules-save').click()
    await user.should_see('规则刚被其他管理员修改', retries=PATIENT)
    await user.should_see(marker='admin-rules-source', content='当前为第 1 版', retries=PATIENT)
    assert rt.queue.rules.booking_max_live == 5 and await saved_versions(rt) == 1


async def test_an_admin_filters_the_audit_log_checks_the_chain_and_exports(admin_hall: SmallHall, user: User) -> None:
    rt = await as_admin(user)
    await user.should_see(marker='admin-audit-count', content='共 1 条', retries=PATIENT)  # the admin's login
    (table,) = user.find(marker='admin-audit-table').elements
    assert isinstance(table, ui.table)
    assert [(r['actor'], r['role'], r['action']) for r in table.rows] == [('adm01', '管理员', '登录')]
    (row,) = table.rows  # the stored form: the network and a keyed digest, never the host
    assert row['address'].startswith('10.0.7.0/24#') and '10.0.7.2' not in row['address']
    user.find(marker='admin-audit-actor').type('nobody')
    user.find(marker='admin-audit-search').click()
    await user.should_see(marker='admin-audit-count', content='没有符合条件的记录', retries=PATIENT)
    user.find(marker='admin-audit-verify').click()
    await user.should_see(marker='admin-audit-check', content='审计链完整：共 1 条记录', retries=PATIENT)
    user.find(marker='admin-audit-export').click()
    download = await user.download.next(timeout=10)
    assert download.content.decode('utf-8-sig').splitlines()[0].startswith('id,time,actor')
    await user.should_see('已导出 0 条记录', retries=PATIENT)
    async with rt.db.read_session() as s:
        exported = (await s.execute(select(AuditEntry).where(AuditEntry.action == 'export'))).scalar_one()
    assert (exported.actor, exported.detail) == ('adm01', {'filter': {'actor': 'nobody'}, 'rows': 0})


async def test_a_start_date_after_the_end_date_is_said_in_words(admin_hall: SmallHall, user: User) -> None:
    await as_admin(user)
    await user.should_see(marker='admin-audit-count', content='共 1 条', retries=PATIENT)
    user.find(marker='admin-audit-since').type('2026-12-02')
    user.find(marker='admin-audit-until').type('2026-12-01')
    user.find(marker='admin-audit-search').click()
    await user.should_see(marker='admin-audit-problem', content='开始日期不能晚于结束日期', retries=PATIENT)
    user.find(marker='admin-audit-until').clear().type('someday')
    user.find(marker='admin-audit-search').click()
    await user.should_see(marker='admin-audit-problem', content='日期格式应为 年-月-日', retries=PATIENT)
