"""The default seed: a realistic hall, loaded idempotently in one transaction; bad YAML is refused by file and line."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import shutil
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from sqlmodel import SQLModel, select

import seed.loader
from app.clock import utcnow
from app.db import Database
from app.models import (
    Department,
    Device,
    Hall,
    ServiceItem,
    StaffUser,
    Window,
    WindowService,
    WindowState,
    Zone,
)
from app.models.config_version import ConfigVersion
from app.models.people import Role
from app.security.credentials import credential_hash, device_credential
from app.security.passwords import check_strength, verify_password
from app.settings import get_settings
from seed import SeedError, SeedReport, load_seed, read_seed
from seed.__main__ import main
from seed.schema import SEED_ROOT

SECRET = b'seed-test-secret-0123456789-0123456789'
_T = TypeVar('_T')
WINDOW_ZONES = {'general', 'business', 'realestate', 'social', 'housing_fund', 'tax', 'senior', 'assist'}
WINDOW_ZONE_NAMES = {'综合受理', '企业开办专区', '不动产登记', '社保医保', '公积金', '税务', '银发服务窗口', '帮办代办'}
TABLES: tuple[type[SQLModel], ...] = (
    Hall,
    Zone,
    Department,
    ServiceItem,
    Window,
    WindowService,
    StaffUser,
    Device,
)


async def _create_tables(url: str) -> None:
    database = Database(url)
    async with database.engine.begin() as connection:
        await connection.run_sync(SQLModel.metadata.create_all)
    await database.dispose()


def _in_fresh_loop(work: Coroutine[Any, Any, _T]) -> _T:
    """Sync fixtures may be set up while a test's loop runs: give the work its own loop and thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work).result()


async def load(db: Database, seed_root: Path | None = None) -> SeedReport:
    return await load_seed(db, seed_name='default', secret=SECRET, seed_root=seed_root)


async def _seed_file(path: Path) -> SeedReport:
    await _create_tables(f'sqlite+aiosqlite:///{path}')
    database = Database(f'sqlite+aiosqlite:///{path}')
    try:
        return await load(database)
    finally:
        await database.dispose()


@dataclass(frozen=True)
class Seeded:
    path: Path
    report: SeedReport


@pytest.fixture(scope='module')
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    """The default seed loaded once (35 argon2 hashes take seconds), copied by each test that reads it."""
    path = tmp_path_factory.mktemp('seeded') / 'seeded.db'
    return Seeded(path, _in_fresh_loop(_seed_file(path)))


@pytest.fixture
async def empty_db(tmp_path: Path) -> AsyncIterator[Database]:
    url = f'sqlite+aiosqlite:///{tmp_path}/empty.db'
    await _create_tables(url)
    database = Database(url)
    yield database
    await database.dispose()


@pytest.fixture
async def seed_db(tmp_path: Path, seeded: Seeded) -> AsyncIterator[Database]:
    """A database the default seed has already been loaded into."""
    shutil.copyfile(seeded.path, tmp_path / 't.db')
    database = Database(f'sqlite+aiosqlite:///{tmp_path}/t.db')
    yield database
    await database.dispose()


async def rows(db: Database, model: type[Any]) -> list[Any]:
    async with db.session() as s:
        return list((await s.execute(select(model))).scalars())


async def snapshot(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Every seeded row's values, in a stable order."""
    return {
        str(model.__tablename__): sorted((row.model_dump() for row in await rows(db, model)), key=repr)
        for model in TABLES
    }


def by(items: list[dict[str, Any]], key: str, value: Any) -> dict[str, Any]:
    return next(item for item in items if item.get(key) == value)


def copied_seed(tmp_path: Path) -> Path:
    """A copy of the default seed; returns the seed root to load it from."""
    root = tmp_path / 'seeds'
    shutil.copytree(SEED_ROOT / 'default', root / 'default')
    return root


def edited_seed(tmp_path: Path, file: str, edit: Callable[[Any], Any]) -> Path:
    """A copy of the default seed with one YAML file changed by `edit`."""
    root = copied_seed(tmp_path)
    path = root / 'default' / file
    data = yaml.safe_load(path.read_text(encoding='utf-8'))
    edit(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding='utf-8')
    return root


def _drop_service(code: str) -> Callable[[list[dict[str, Any]]], None]:
    def edit(windows: list[dict[str, Any]]) -> None:
        for window in windows:
            window['services'] = [served for served in window['services'] if served['code'] != code]

    return edit


def entry(key: str, value: Any, **changes: Any) -> Callable[[list[dict[str, Any]]], None]:
    """An edit that changes the one entry of a list file whose `key` is `value`."""
    return lambda items: by(items, key, value).update(changes)


def zone(code: str, **changes: Any) -> Callable[[dict[str, Any]], None]:
    return lambda hall: by(hall['zones'], 'code', code).update(changes)


def condition(service: str, material: int, **changes: Any) -> Callable[[list[dict[str, Any]]], None]:
    return lambda services: by(services, 'code', service)['materials'][material]['condition'].update(changes)


async def test_default_hall_has_window_zones_a_waiting_area_and_a_rest_area(seed_db: Database) -> None:
    zones = {zone.id: zone for zone in await rows(seed_db, Zone)}
    windows = await rows(seed_db, Window)
    assert len(windows) >= 20
    assert {zones[window.zone_id].code for window in windows} == WINDOW_ZONES
    names = {zone.name for zone in zones.values()}
    assert WINDOW_ZONE_NAMES | {'候办区'} <= names
    assert any('休息区' in name and '茶水间' in name for name in names)
    assert {window.state for window in windows} == {WindowState.OPEN, WindowState.CLOSED}
    assert [hall.width for hall in await rows(seed_db, Hall)] == [1600]


async def test_every_service_is_served_and_has_its_own_ticket_prefix(seed_db: Database) -> None:
    services = await rows(seed_db, ServiceItem)
    served = {link.service_id for link in await rows(seed_db, WindowService)}
    assert len(services) >= 12
    assert len({service.department_id for service in services}) >= 6
    assert all(service.id in served for service in services)
    assert len({service.ticket_prefix for service in services}) == len(services)
    assert all(5 <= service.avg_handling_minutes <= 25 for service in services)


async def test_materials_depend_on_the_kiosk_answers(seed_db: Database) -> None:
    transfer = next(s for s in await rows(seed_db, ServiceItem) if s.code == 'RE-TRANSFER')
    conditions = {material['name']: material['condition'] for material in transfer.materials}
    assert conditions['购房合同备案'] == {'property_type': 'new'}
    assert conditions['原不动产权证书'] == {'property_type': 'second_hand'}
    hukou = by([s.model_dump() for s in read_seed('default').services], 'code', 'HUKOU-IN')
    assert [option['value'] for option in hukou['questions'][0]['options']] == ['yes', 'no']


async def test_devices_cover_kiosks_displays_and_seats(seed_db: Database) -> None:
    devices = await rows(seed_db, Device)
    kinds = Counter(device.kind for device in devices)
    assert len(devices) >= 60 and kinds['seat'] >= 40 and kinds['kiosk'] >= 6
    for kiosk in (device for device in devices if device.kind == 'kiosk'):
        attached = {device.kind for device in devices if device.attached_to == kiosk.code}
        assert attached == {'id_reader', 'qr_scanner', 'camera', 'printer'}, kiosk.code
    zone_codes = {zone.id: zone.code for zone in await rows(seed_db, Zone)}
    displays = [device for device in devices if device.kind == 'call_display']
    assert WINDOW_ZONES | {'waiting'} <= {zone_codes[device.zone_id] for device in displays}
    assert len({device.credential_hash for device in devices}) == len(devices)


async def test_every_window_has_staff_and_every_department_a_reviewer(seed_db: Database) -> None:
    users = await rows(seed_db, StaffUser)
    roles = Counter(user.role for user in users)
    staffed = {user.window_id for user in users if user.role == Role.STAFF}
    assert staffed == {window.id for window in await rows(seed_db, Window)}
    reviewed = {user.department_id for user in users if user.role == Role.REVIEWER}
    assert reviewed == {department.id for department in await rows(seed_db, Department)}
    assert roles[Role.MANAGER] == 1 and roles[Role.ADMIN] == 1
    assert any(user.username == 'manager' for user in users)


def test_prompts_carry_the_comfort_usage_and_off_peak_texts() -> None:
    prompts = read_seed('default').hall.prompts
    assert '休息区' in prompts['long_wait_comfort'].zh and '30' in prompts['long_wait_comfort'].zh
    assert prompts['device_usage_high'].zh == '设备使用率超过80%，建议增设设备或安排维护'
    assert '{quiet_hours}' in prompts['off_peak_citizen'].zh
    assert '{peak_hours}' in prompts['off_peak_manager'].zh


async def test_second_run_changes_nothing(seed_db: Database, seeded: Seeded) -> None:
    before = await snapshot(seed_db)
    second = await load(seed_db)
    assert seeded.report.created == Counter({table: len(values) for table, values in before.items()})
    assert second.changes == 0 and not second.new_passwords
    assert await snapshot(seed_db) == before


async def test_new_accounts_get_strong_passwords_found_nowhere_in_the_yaml(seed_db: Database, seeded: Seeded) -> None:
    report = seeded.report
    users = await rows(seed_db, StaffUser)
    yaml_text = ''.join(path.read_text(encoding='utf-8') for path in (SEED_ROOT / 'default').glob('*.yaml'))
    assert set(report.new_passwords) == {user.username for user in users}
    assert len(set(report.new_passwords.values())) == len(users)
    for user in users:
        password = report.new_passwords[user.username]
        check_strength(password)
        assert verify_password(password, user.password_hash)
        assert password not in yaml_text and password not in user.password_hash
        assert report.new_roles[user.username] == user.role


async def test_rerun_restores_yaml_fields_but_keeps_passwords_and_window_state(seed_db: Database) -> None:
    async with seed_db.session() as s, s.begin():
        user = (await s.execute(select(StaffUser).where(StaffUser.username == 'w01'))).scalar_one()
        user.display_name, user.password_hash = '改过的名字', 'changed-by-the-user'
        window = (await s.execute(select(Window).where(Window.number == 1))).scalar_one()
        window.state = WindowState.PAUSED
    report = await load(seed_db)
    assert report.updated == Counter({'staff_user': 1}) and not report.created and not report.new_passwords
    user = next(user for user in await rows(seed_db, StaffUser) if user.username == 'w01')
    assert (user.display_name, user.password_hash) == ('王晓燕', 'changed-by-the-user')
    assert next(w for w in await rows(seed_db, Window) if w.number == 1).state == WindowState.PAUSED


async def test_rerun_keeps_a_workflow_an_admin_saved_and_restores_the_others(seed_db: Database) -> None:
    edited = [{'stage': 0, 'kind': 'accept', 'name': '受理'}, {'stage': 1, 'kind': 'conclude', 'name': '当场办结'}]
    async with seed_db.session() as s, s.begin():
        hall_id = (await s.execute(select(Hall.id))).scalar_one()
        services = {service.code: service for service in (await s.execute(select(ServiceItem))).scalars()}
        services['SI-ENROLL'].workflow = edited  # as the workflow editor saves it: with its version
        s.add(
            ConfigVersion(
                hall_id=hall_id,
                kind='workflow',
                subject='SI-ENROLL',
                version=1,
                data={'service': 'SI-ENROLL', 'workflow': edited},
                actor='adm01',
                created_at=utcnow(),
            )
        )
        services['BIZ-OPEN'].workflow = edited  # changed some other way: the YAML wins
    report = await load(seed_db)
    assert report.updated == Counter({'service_item': 1})
    workflows = {service.code: service.workflow for service in await rows(seed_db, ServiceItem)}
    assert workflows['SI-ENROLL'] == edited
    assert len(workflows['BIZ-OPEN']) == 10


async def test_window_services_dropped_from_the_yaml_are_removed(seed_db: Database, tmp_path: Path) -> None:
    def edit(windows: list[dict[str, Any]]) -> None:
        first = by(windows, 'number', 1)
        first['services'] = [{'code': 'HUKOU-IN', 'priority': 2}]

    report = await load(seed_db, edited_seed(tmp_path, 'windows.yaml', edit))
    assert report.removed == Counter({'window_service': 4})
    assert report.updated == Counter({'window_service': 1})
    window = next(w for w in await rows(seed_db, Window) if w.number == 1)
    links = [link for link in await rows(seed_db, WindowService) if link.window_id == window.id]
    assert [link.priority for link in links] == [2]


async def test_broken_seed_fails_clearly_and_leaves_the_database_unchanged(seed_db: Database, tmp_path: Path) -> None:
    before = await snapshot(seed_db)
    broken = edited_seed(tmp_path, 'windows.yaml', entry('number', 7, zone='lobby'))
    message = r"^windows\.yaml:\d+: window 7: zone 'lobby' is not a zone in hall\.yaml$"
    with pytest.raises(SeedError, match=message):
        await load(seed_db, broken)
    assert await snapshot(seed_db) == before


async def test_a_failure_midway_rolls_back_the_whole_load(empty_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse() -> str:
        raise RuntimeError('no entropy')

    monkeypatch.setattr(seed.loader, 'generate_password', refuse)
    with pytest.raises(RuntimeError, match='no entropy'):
        await load(empty_db)
    assert all(not table for table in (await snapshot(empty_db)).values())


@pytest.mark.parametrize(
    ('file', 'edit', 'message'),
    [
        ('hall.yaml', zone('rest', x=1000), 'zone waiting: overlaps zone rest'),
        ('hall.yaml', zone('tax', width=500), 'zone tax: lies partly outside the hall'),
        ('hall.yaml', lambda hall: hall['prompts'].pop('device_usage_high'), 'missing device_usage_high'),
        (
            'services.yaml',
            entry('code', 'BIZ-INDIV', ticket_prefix='B'),
            "service BIZ-INDIV: ticket_prefix 'B' is already used by BIZ-OPEN",
        ),
        (
            'services.yaml',
            entry('code', 'TAX-REG', department='NOPE'),
            "service TAX-REG: department 'NOPE' is not in departments.yaml",
        ),
        (
            'services.yaml',
            condition('RE-TRANSFER', 2, property_type='villa'),
            "'villa' is not an option of question 'property_type'",
        ),
        ('windows.yaml', entry('number', 2, number=1), 'duplicate window number 1'),
        ('windows.yaml', entry('number', 3, y=400), 'window 3: (270.0, 400.0) lies outside its zone general'),
        ('windows.yaml', _drop_service('MARRIAGE'), 'service MARRIAGE: no window in windows.yaml serves it'),
        ('staff.yaml', entry('username', 'rv_tax', department=None), 'rv_tax: role reviewer needs a'),
        ('staff.yaml', entry('username', 'w03', window=99), 'w03: window 99 is not in windows.yaml'),
        ('devices.yaml', entry('code', 'K02-QR', attached_to='K99'), "K02-QR: attached_to 'K99' names no"),
        ('devices.yaml', entry('code', 'K01', kind='robot'), 'devices.yaml:2: entry #1 (code=K01) > kind'),
    ],
)
def test_invalid_seed_names_the_file_and_the_entry(
    tmp_path: Path, file: str, edit: Callable[[Any], Any], message: str
) -> None:
    with pytest.raises(SeedError, match=re.escape(message)) as refused:
        read_seed('default', seed_root=edited_seed(tmp_path, file, edit))
    assert re.match(r'[a-z_]+\.yaml:\d+: ', str(refused.value)), 'every problem names its file and line'


def test_unquoted_yes_in_a_condition_is_refused_rather_than_read_as_true(tmp_path: Path) -> None:
    root = copied_seed(tmp_path)
    path = root / 'default' / 'services.yaml'
    path.write_text(path.read_text(encoding='utf-8').replace("hukou_local: 'yes'", 'hukou_local: yes'))
    message = r'services\.yaml:\d+: entry #\d+ \(code=HUKOU-IN\) > materials > .* > hukou_local: Input should be'
    with pytest.raises(SeedError, match=message):
        read_seed('default', seed_root=root)


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Settings for `python -m seed` pointing at a fresh, migrated SQLite file."""
    database = tmp_path / 'cli.db'
    _in_fresh_loop(_create_tables(f'sqlite+aiosqlite:///{database}'))
    monkeypatch.setenv('DATABASE_URL', f'sqlite+aiosqlite:///{database}')
    monkeypatch.setenv('SECRET_KEY', SECRET.decode())
    monkeypatch.setenv('VAR_DIR', str(tmp_path / 'var'))
    monkeypatch.setenv('HALL_SEED', 'default')
    get_settings.cache_clear()
    yield database
    get_settings.cache_clear()


def test_cli_prints_new_accounts_once_and_fails_in_one_line_on_a_bad_seed(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([]) == 0
    first = capsys.readouterr().out
    assert '首次初始化账户（请妥善保存，仅显示一次）' in first and 'manager' in first
    with sqlite3.connect(cli_env) as connection:  # the demo hall asks for a synthetic year (synthetic_history)
        assert connection.execute('SELECT count(*) FROM arrival_history').fetchone()[0] > 10_000
    assert main([]) == 0
    assert '首次初始化账户' not in capsys.readouterr().out
    monkeypatch.setenv('HALL_SEED', 'missing')
    get_settings.cache_clear()
    assert main([]) == 1
    error = capsys.readouterr().err
    assert error.count('\n') == 1 and 'invalid seed' in error


async def test_rerun_keeps_a_credential_issued_on_admin_and_retired_devices_stay_retired(seed_db: Database) -> None:
    """A rotated or registered credential is random: re-deriving it from SECRET_KEY would lock the device out."""
    issued_at = dt.datetime(2026, 12, 4, 8, 0, tzinfo=dt.UTC)
    async with seed_db.session() as s, s.begin():
        rotated = (await s.execute(select(Device).where(Device.code == 'K01-PRN'))).scalar_one()
        rotated.credential_hash, rotated.credential_issued_at = credential_hash('from-admin'), issued_at
        retired = (await s.execute(select(Device).where(Device.code == 'K02-CAM'))).scalar_one()
        retired.retired_at = issued_at
        derived = (await s.execute(select(Device).where(Device.code == 'K01-QR'))).scalar_one()
        derived.credential_hash = 'stale'
    report = await load(seed_db)
    assert report.updated == Counter({'device': 1}) and not report.created
    devices = {d.code: d for d in await rows(seed_db, Device)}
    assert devices['K01-PRN'].credential_hash == credential_hash('from-admin')
    assert devices['K02-CAM'].retired_at == issued_at
    assert devices['K01-QR'].credential_hash == credential_hash(device_credential(SECRET, 'K01-QR'))
