"""A hall describes itself: any folder (HALL_SEED may be a path), a committed schema, an empty start, errors by line."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlmodel import func, select

from app.db import Database
from app.models import Device, Hall, StaffUser, Window
from app.models.cases import DepartmentRecord
from app.models.operations import ArrivalHistory
from app.settings import get_settings
from seed import SeedError, load_seed, read_seed
from seed.__main__ import main
from seed.department_records import read_records
from seed.schema import SEED_ROOT
from tests.dbs import SqliteTemplate

ROOT = SEED_ROOT.parent
EXAMPLE = SEED_ROOT / 'examples' / 'small'
SCHEMA_FILE = ROOT / 'docs' / 'hall-description.schema.json'
DOC = ROOT / 'docs' / 'hall-description.md'
SECRET = b'hall-description-secret-0123456789-0123'


def example_copy(tmp_path: Path) -> Path:
    folder = tmp_path / 'hall'
    shutil.copytree(EXAMPLE, folder)
    return folder


def edit(folder: Path, file: str, old: str, new: str) -> str:
    """Replace text once in one file of the folder; returns the file's new text."""
    path = folder / file
    text = path.read_text(encoding='utf-8')
    assert text.count(old) == 1
    path.write_text(text.replace(old, new), encoding='utf-8')
    return text.replace(old, new)


def line_of(text: str, fragment: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), 1) if fragment in line)


async def count(db: Database, model: type[Any]) -> int:
    async with db.session() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


async def test_the_small_example_loads_into_a_fresh_database_and_a_second_load_changes_nothing(db: Database) -> None:
    first = await load_seed(db, seed_name=str(EXAMPLE), secret=SECRET)
    assert first.created == Counter(
        hall=1, zone=3, department=2, service_item=2, window=2, window_service=3, staff_user=3, device=6
    )
    assert sorted(first.new_passwords) == ['clerk1', 'clerk2', 'hrss_review']
    second = await load_seed(db, seed_name=str(EXAMPLE), secret=SECRET)
    assert second.changes == 0 and not second.new_passwords
    async with db.session() as s:
        assert (await s.execute(select(Hall.code))).scalars().all() == ['small']
        hours = dict((await s.execute(select(Window.number, Window.hours))).all())
    assert hours == {
        1: [],
        2: [{'start': '09:00', 'end': '12:00', 'days': []}, {'start': '13:30', 'end': '17:30', 'days': [1, 2, 3, 4]}],
    }


def test_hall_seed_may_be_an_absolute_or_a_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = example_copy(tmp_path)
    assert read_seed(str(folder)).hall.code == 'small'
    monkeypatch.chdir(tmp_path)
    assert read_seed('./hall').hall.code == 'small'
    with pytest.raises(SeedError, match=re.escape(f"HALL_SEED 'hall': no folder {SEED_ROOT / 'hall'}")):
        read_seed('hall')  # a bare name is a folder under seed/, never the working directory
    with pytest.raises(SeedError, match=re.escape("HALL_SEED './elsewhere': no folder elsewhere")):
        read_seed('./elsewhere')


def test_staff_and_devices_may_be_left_out(tmp_path: Path) -> None:
    folder = example_copy(tmp_path)
    (folder / 'staff.yaml').unlink()
    (folder / 'devices.yaml').unlink()
    seed = read_seed(str(folder))
    assert seed.staff == [] and seed.devices == [] and len(seed.windows) == 2


def test_a_bad_value_is_named_by_file_line_and_entry(tmp_path: Path) -> None:
    folder = example_copy(tmp_path)
    text = edit(folder, 'windows.yaml', 'zone: permits', 'zone: lobby')
    line = line_of(text, 'number: 2')
    with pytest.raises(SeedError, match=re.escape(f"windows.yaml:{line}: window 2: zone 'lobby' is not a zone")):
        read_seed(str(folder))


def test_a_material_condition_names_its_own_line(tmp_path: Path) -> None:
    folder = example_copy(tmp_path)
    text = edit(folder, 'services.yaml', "condition: {married_before: 'yes'}", "condition: {married_before: 'twice'}")
    line = line_of(text, 'twice')
    message = f"services.yaml:{line}: service MARRIAGE: material 离婚证或配偶死亡证明: 'twice' is not an option"
    with pytest.raises(SeedError, match=re.escape(message)):
        read_seed(str(folder))


def test_every_shape_error_of_a_file_gets_its_own_line(tmp_path: Path) -> None:
    folder = example_copy(tmp_path)
    edit(folder, 'devices.yaml', 'kind: printer', 'kind: robot')
    text = edit(folder, 'devices.yaml', 'x: 200', 'x: far')
    with pytest.raises(SeedError) as refused:
        read_seed(str(folder))
    lines = str(refused.value).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(
        f'devices.yaml:{line_of(text, "robot")}: entry #3 (code=K01-PRN) > kind: Input should be'
    )
    assert lines[1].startswith(f'devices.yaml:{line_of(text, "far")}: entry #6 (code=SEAT-01) > x: Input should be')


def test_shape_errors_of_every_file_are_listed_in_one_run(tmp_path: Path) -> None:
    folder = example_copy(tmp_path)
    departments = edit(folder, 'departments.yaml', '- {code: HRSS,', '- {code: [HRSS,')
    devices = edit(folder, 'devices.yaml', 'kind: printer', 'kind: robot')
    with pytest.raises(SeedError) as refused:
        read_seed(str(folder))
    lines = str(refused.value).splitlines()
    assert [line.split(': ', 1)[0] for line in lines] == [
        f'departments.yaml:{line_of(departments, "[HRSS")}',
        f'devices.yaml:{line_of(devices, "robot")}',
    ]


def test_every_failed_cross_check_is_listed_in_one_run(tmp_path: Path) -> None:
    folder = example_copy(tmp_path)
    windows = edit(folder, 'windows.yaml', 'zone: permits', 'zone: lobby')
    staff = edit(folder, 'staff.yaml', 'window: 2}', 'window: 9}')
    devices = edit(folder, 'devices.yaml', 'x: 380, y: 460, attached_to: K01}', 'x: 380, y: 460, attached_to: K09}')
    with pytest.raises(SeedError) as refused:
        read_seed(str(folder))
    assert str(refused.value).splitlines() == [
        f"windows.yaml:{line_of(windows, 'number: 2')}: window 2: zone 'lobby' is not a zone in hall.yaml",
        f'staff.yaml:{line_of(staff, "clerk2")}: clerk2: window 9 is not in windows.yaml',
        f"devices.yaml:{line_of(devices, 'K09')}: device K01-ID: attached_to 'K09' names no other device in this file",
    ]


def test_a_refused_id_number_in_department_records_names_its_line(tmp_path: Path) -> None:
    folder = example_copy(tmp_path)
    records = "- id_number: '11010119900307001X'\n  records: {identity: {name: 测试}}\n"
    (folder / 'department_records.yaml').write_text(records, encoding='utf-8')
    with pytest.raises(SeedError, match=r'^department_records\.yaml:1: entry #1 > id_number: Value error, ID number'):
        read_records(str(folder))


def test_a_yaml_syntax_error_names_its_line(tmp_path: Path) -> None:
    folder = example_copy(tmp_path)
    text = edit(folder, 'departments.yaml', '- {code: HRSS,', '- {code: [HRSS,')
    with pytest.raises(SeedError, match=rf'^departments\.yaml:{line_of(text, "[HRSS")}: not valid YAML: '):
        read_seed(str(folder))


def _in_fresh_loop(work: Any) -> Any:
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work).result()


@pytest.fixture
def seed_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_template: SqliteTemplate) -> Iterator[str]:
    """Settings for `python -m seed` on a fresh migrated SQLite file; yields its URL."""
    url = sqlite_template.copy_to(tmp_path / 'hall.db')
    monkeypatch.setenv('DATABASE_URL', url)
    monkeypatch.setenv('SECRET_KEY', SECRET.decode())
    monkeypatch.setenv('VAR_DIR', str(tmp_path / 'var'))
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


async def _counts(url: str) -> dict[str, int]:
    db = Database(url)
    try:
        models = (Window, Device, StaffUser, ArrivalHistory, DepartmentRecord)
        return {model.__tablename__: await count(db, model) for model in models}
    finally:
        await db.dispose()


def test_an_empty_start_loads_the_demo_hall_without_people_records_or_history(
    seed_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv('HALL_SEED', 'default')
    get_settings.cache_clear()
    assert main(['--empty']) == 0
    assert '首次初始化账户' not in capsys.readouterr().out
    counts = _in_fresh_loop(_counts(seed_env))
    assert counts['window'] == 25 and counts['device'] > 100
    assert counts['staff_user'] == counts['arrival_history'] == counts['department_record'] == 0


def test_a_hall_without_synthetic_history_gets_none_but_keeps_its_staff(
    seed_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv('HALL_SEED', str(EXAMPLE))
    get_settings.cache_clear()
    assert main([]) == 0
    assert 'hrss_review' in capsys.readouterr().out
    counts = _in_fresh_loop(_counts(seed_env))
    assert counts == {'window': 2, 'device': 6, 'staff_user': 3, 'arrival_history': 0, 'department_record': 0}


def test_the_cli_names_the_bad_line_and_exits_1(
    seed_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = example_copy(tmp_path)
    text = edit(folder, 'staff.yaml', 'window: 2}', 'window: 9}')
    monkeypatch.setenv('HALL_SEED', str(folder))
    get_settings.cache_clear()
    assert main([]) == 1
    error = capsys.readouterr().err
    line = line_of(text, 'clerk2')
    assert error == f'种子数据无效 / invalid seed: staff.yaml:{line}: clerk2: window 9 is not in windows.yaml\n'
    assert _in_fresh_loop(_counts(seed_env))['window'] == 0


def test_the_committed_schema_is_what_python_m_seed_schema_prints(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(['schema']) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(SCHEMA_FILE.read_text(encoding='utf-8')), (
        'regenerate it: python -m seed schema > docs/hall-description.schema.json'
    )


def test_the_example_in_the_doc_is_the_example_folder() -> None:
    """docs/hall-description.md shows each file of seed/examples/small as a block after its name."""
    blocks = dict(re.findall(r'^`([a-z_]+\.yaml)`:\n\n```yaml\n(.*?)```', DOC.read_text(encoding='utf-8'), re.M | re.S))
    files = sorted(path.name for path in EXAMPLE.iterdir())
    assert sorted(blocks) == files
    for name, block in blocks.items():
        assert yaml.safe_load(block) == yaml.safe_load((EXAMPLE / name).read_text(encoding='utf-8')), name
