"""A seed folder's YAML, parsed into typed specs and checked as a whole before anything is written.

The specs and checks live in `app/services/hall_spec.py` (the admin console's editor and import use the
same ones); this module reads the folder. Texts the database has no column for (hall prompts, kiosk
questions) are read from here by the app.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from app.services.hall_spec import (
    REQUIRED_PROMPTS,
    DepartmentSpec,
    DeviceSpec,
    HallSpec,
    MaterialSpec,
    OptionSpec,
    Prompt,
    QuestionSpec,
    Seed,
    SeedError,
    ServiceSpec,
    StaffSpec,
    WindowServiceSpec,
    WindowSpec,
    ZoneSpec,
    check,
    parse,
)

__all__ = [
    'REQUIRED_PROMPTS',
    'SEED_ROOT',
    'DepartmentSpec',
    'DeviceSpec',
    'HallSpec',
    'MaterialSpec',
    'OptionSpec',
    'Prompt',
    'QuestionSpec',
    'Seed',
    'SeedError',
    'ServiceSpec',
    'StaffSpec',
    'WindowServiceSpec',
    'WindowSpec',
    'ZoneSpec',
    'read_seed',
]

SEED_ROOT = Path(__file__).resolve().parent
_SEED_NAME = re.compile(r'^[A-Za-z0-9_-]+$')


def read_seed(seed_name: str, *, seed_root: Path | None = None) -> Seed:
    """Parse and cross-check seed_root/seed_name/*.yaml (seed_root defaults to this package)."""
    if not _SEED_NAME.match(seed_name):
        raise SeedError(f'HALL_SEED {seed_name!r}: use letters, digits, "-" or "_"')
    folder = (seed_root or SEED_ROOT) / seed_name
    if not folder.is_dir():
        raise SeedError(f'no seed folder {folder}')
    seed = Seed(
        hall=_parse(folder, 'hall.yaml', HallSpec),
        departments=_parse(folder, 'departments.yaml', list[DepartmentSpec]),
        services=_parse(folder, 'services.yaml', list[ServiceSpec]),
        windows=_parse(folder, 'windows.yaml', list[WindowSpec]),
        staff=_parse(folder, 'staff.yaml', list[StaffSpec]),
        devices=_parse(folder, 'devices.yaml', list[DeviceSpec]),
    )
    check(seed)
    return seed


def _parse(folder: Path, file: str, shape: Any) -> Any:
    try:
        text = (folder / file).read_text(encoding='utf-8')
    except FileNotFoundError:
        raise SeedError(f'{file}: missing from {folder}') from None
    return parse(file, text, shape)
