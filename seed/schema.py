"""A hall description (a folder of YAML, docs/hall-description.md) read from its folder.

The specs and checks live in `app/services/hall_spec.py` (the admin console's editor and import use the
same ones); this module finds the folder (`HALL_SEED`: a name under seed/ or a path) and reads its files.
Texts the database has no column for (hall prompts, kiosk questions) are read from here by the app.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from app.services.assistant_vocabulary import FILE as VOCABULARY_FILE
from app.services.assistant_vocabulary import Vocabulary
from app.services.hall_spec import (
    REQUIRED_PROMPTS,
    DepartmentSpec,
    DeviceSpec,
    HallSpec,
    Marks,
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
    'read_file',
    'read_seed',
    'read_vocabulary',
    'seed_folder',
]

SEED_ROOT = Path(__file__).resolve().parent
_SEED_NAME = re.compile(r'^[A-Za-z0-9_-]+$')


def seed_folder(seed: str, *, seed_root: Path | None = None) -> Path:
    """HALL_SEED is a folder's name under seed/ (`default`) or a path to a hall's own folder (`./hall`, `/srv/hall`)."""
    if _SEED_NAME.match(seed):
        folder = (seed_root or SEED_ROOT) / seed
    elif seed.strip():
        folder = Path(seed).expanduser()
    else:
        raise SeedError('HALL_SEED is empty: name a folder under seed/ or give a path')
    if not folder.is_dir():
        raise SeedError(f'HALL_SEED {seed!r}: no folder {folder}')
    return folder.resolve()


def read_seed(seed_name: str, *, seed_root: Path | None = None, empty: bool = False) -> Seed:
    """Parse and cross-check a hall description; `empty` leaves out its people (staff.yaml)."""
    folder = seed_folder(seed_name, seed_root=seed_root)
    marks = Marks()
    problems: list[str] = []

    def part(file: str, shape: Any, *, optional: bool = False) -> Any:
        """One file's specs; its problems are kept, so every file is read before the load is refused."""
        try:
            return _parse(folder, file, shape, marks, optional=optional)
        except SeedError as error:
            problems.append(str(error))
            return None

    parts = {
        'hall': part('hall.yaml', HallSpec),
        'departments': part('departments.yaml', list[DepartmentSpec]),
        'services': part('services.yaml', list[ServiceSpec]),
        'windows': part('windows.yaml', list[WindowSpec]),
        'staff': [] if empty else part('staff.yaml', list[StaffSpec], optional=True),
        'devices': part('devices.yaml', list[DeviceSpec], optional=True),
    }
    if problems:
        raise SeedError('\n'.join(problems))
    seed = Seed(**parts)
    check(seed, marks)
    return seed


def read_vocabulary(seed_name: str, *, seed_root: Path | None = None) -> Vocabulary:
    """The assistant's vocabulary (assistant.yaml; without the file: no synonyms, no phone to offer)."""
    found = read_file(seed_folder(seed_name, seed_root=seed_root), VOCABULARY_FILE, Vocabulary)
    return found if isinstance(found, Vocabulary) else Vocabulary()


def read_file(folder: Path, file: str, shape: Any) -> Any:
    """One optional file of a hall description (absent or empty: []), checked against `shape`."""
    return _parse(folder, file, shape, Marks(), optional=True)


def _parse(folder: Path, file: str, shape: Any, marks: Marks, *, optional: bool = False) -> Any:
    try:
        text = (folder / file).read_text(encoding='utf-8')
    except FileNotFoundError:
        if optional:
            return []
        raise SeedError(f'{file}: missing from {folder}') from None
    return parse(file, text, shape, marks, optional=optional)
