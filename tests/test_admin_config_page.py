"""/admin's hall setup tab in NiceGUI's simulated browser, on the default hall (its staff left out)."""

from __future__ import annotations

import asyncio
import io
import zipfile
from pathlib import Path

import pytest
from nicegui import ui
from nicegui.testing import User

from app.db import Database
from app.models.people import Role
from app.runtime import Runtime
from app.services.hall_config import HallConfigService
from app.services.kiosk_catalogue import load_catalogue
from app.services.principal import Kind, Principal
from app.settings import get_settings
from tests.admin_ui import add_admin, open_admin
from tests.configseed import seeded, staffless_seed
from tests.dbs import SqliteTemplate
from tests.running import parts as started

PATIENT = 50
ADMIN_CALLER = Principal(Kind.STAFF, 'adm01', Role.ADMIN)


@pytest.fixture
async def config_ui(tmp_path: Path, sqlite_template: SqliteTemplate, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default hall in a migrated SQLite database, an admin account, set as DATABASE_URL for the app."""
    url = sqlite_template.copy_to(tmp_path / 'ui.db')
    db = Database(url)
    try:
        await seeded(db, staffless_seed(tmp_path / 'seed'))
    finally:
        await db.dispose()
    await add_admin(url)
    monkeypatch.setenv('DATABASE_URL', url)
    monkeypatch.setenv('HALL_SIMULATION', 'off')
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def as_admin_on_config(user: User) -> Runtime:
    rt = await open_admin(user)
    user.find('大厅配置').click()
    await user.should_see(marker='config-service-HUKOU-IN', retries=PATIENT)
    return rt


def set_value(user: User, marker: str, value: object) -> None:
    (element,) = user.find(marker=marker).elements
    assert isinstance(element, ui.input | ui.number | ui.textarea)
    element.set_value(value)


async def test_an_admin_renames_a_service_and_the_kiosk_offers_the_new_name(config_ui: None, user: User) -> None:
    rt = await as_admin_on_config(user)
    await user.should_see(marker='config-window-1-line', content='户籍迁入')
    await user.should_see(marker='config-zone-rest-title', content='休息区')
    await user.should_see('尚无修改')
    user.find(marker='config-service-HUKOU-IN-edit').click()
    await user.should_see(marker='config-service-dialog', retries=PATIENT)
    set_value(user, 'config-service-name', '户口迁入登记')
    set_value(user, 'config-service-sla', 3)
    user.find(marker='config-save').click()
    await user.should_see('已保存', retries=PATIENT)
    await user.should_see(marker='config-service-HUKOU-IN-title', content='户口迁入登记', retries=PATIENT)
    await user.should_see(marker='config-service-HUKOU-IN-line', content='承诺时限 3 个工作日')
    await user.should_see(marker='config-version', content='adm01 · 事项 户口迁入登记（第1版）', retries=PATIENT)
    assert (await load_catalogue(rt.db, rt.deps.hall_id)).card('HUKOU-IN').name == '户口迁入登记'


async def test_a_zone_pushed_off_the_floor_is_refused_in_words_and_the_dialog_stays(
    config_ui: None, user: User
) -> None:
    await as_admin_on_config(user)
    user.find(marker='config-zone-rest-edit').click()
    await user.should_see(marker='config-zone-dialog', retries=PATIENT)
    set_value(user, 'config-zone-height', 400)
    user.find(marker='config-save').click()
    await user.should_see(marker='config-error', content='zone rest: lies partly outside the hall', retries=PATIENT)
    await user.should_see(marker='config-zone-dialog')
    await user.should_see('尚无修改')


async def test_a_new_window_is_added_and_listed(config_ui: None, user: User) -> None:
    rt = await as_admin_on_config(user)
    user.find(marker='config-windows-add').click()
    await user.should_see(marker='config-window-dialog', retries=PATIENT)
    set_value(user, 'config-window-number', 26)
    set_value(user, 'config-window-name', '26号窗口 综合受理')
    set_value(user, 'config-window-x', 400)
    set_value(user, 'config-window-y', 100)
    (zone,) = user.find(marker='config-window-zone').elements
    assert isinstance(zone, ui.select)
    zone.set_value('general')
    (tier,) = user.find(marker='config-window-tier-HUKOU-IN').elements
    assert isinstance(tier, ui.select)
    tier.set_value(1)
    user.find(marker='config-save').click()
    await user.should_see(marker='config-window-26-line', content='办理：户籍迁入', retries=PATIENT)
    assert 26 in (await load_catalogue(rt.db, rt.deps.hall_id)).card('HUKOU-IN').windows


async def test_an_admin_gives_a_window_morning_hours_and_hours_outside_the_hall_are_refused(
    config_ui: None, user: User
) -> None:
    rt = await as_admin_on_config(user)
    await user.should_see(marker='config-window-2-line', content='办公时段：与大厅办公时间一致')
    user.find(marker='config-window-2-edit').click()
    await user.should_see(marker='config-window-dialog', retries=PATIENT)
    user.find(marker='config-window-hours-add').click()
    set_value(user, 'config-window-hours-start-0', '07:00')
    user.find(marker='config-save').click()
    await user.should_see(marker='config-error', content='08:00-18:00', retries=PATIENT)
    set_value(user, 'config-window-hours-start-0', '09:00')
    (days,) = user.find(marker='config-window-hours-days-0').elements
    assert isinstance(days, ui.select)
    days.set_value([1, 2, 3, 4, 5])
    user.find(marker='config-save').click()
    await user.should_see(marker='config-window-2-line', content='办公时段：周一至周五 09:00-12:00', retries=PATIENT)
    spec = next(w for w in (await HallConfigService(rt.deps).describe(ADMIN_CALLER)).windows if w.number == 2)
    assert [(p.start, p.end, p.days) for p in spec.hours] == [('09:00', '12:00', [1, 2, 3, 4, 5])]


async def test_a_change_saved_elsewhere_shows_on_an_open_page_and_the_twin(config_ui: None, user: User) -> None:
    rt = await as_admin_on_config(user)
    other = Principal(Kind.STAFF, 'adm02', Role.ADMIN)
    config = HallConfigService(rt.deps)
    zone = next(z for z in (await config.describe(other)).hall.zones if z.code == 'rest')
    await config.save_zone(other, {**zone.model_dump(), 'name': '茶歇区'}, new=False)
    await user.should_see(marker='config-zone-rest-title', content='茶歇区', retries=PATIENT)
    await user.should_see(marker='config-version', content='adm02 · 区域 茶歇区')
    parts = await started()
    assert next(z for z in parts.twin.zones.values() if z.code == 'rest').name == '茶歇区'


async def test_an_imported_hall_name_and_prompts_apply_without_a_restart(config_ui: None, user: User) -> None:
    rt = await as_admin_on_config(user)
    config = HallConfigService(rt.deps)
    admin = Principal(Kind.STAFF, 'adm01', Role.ADMIN)
    files = unzipped(await config.export_zip(admin))
    assert 'name: 某市政务服务中心\n' in files['hall.yaml']
    files['hall.yaml'] = files['hall.yaml'].replace('name: 某市政务服务中心\n', 'name: 新区政务服务中心\n')
    files['hall.yaml'] = files['hall.yaml'].replace('设备使用率超过80%', '设备使用率已超过八成')
    await config.import_zip(admin, zipped(files))
    for _ in range(PATIENT):
        if rt.hall.name == '新区政务服务中心':
            break
        await asyncio.sleep(0.1)
    assert rt.hall.name == '新区政务服务中心'
    assert rt.forecast is not None and '八成' in rt.forecast.prompts['device_usage_high']['zh']
    await user.open('/')
    await user.should_see('新区政务服务中心')


def zipped(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def unzipped(content: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name).decode('utf-8') for name in archive.namelist()}
