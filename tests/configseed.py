"""The default seed without its staff accounts: the hall's configuration alone (accounts are not configuration,
and hashing their passwords is slow), for the hall-configuration tests."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlmodel import select

from app.db import Database
from app.models import Hall
from seed.loader import load_seed
from seed.schema import SEED_ROOT

SECRET = b'test-secret-key-that-is-long-enough-0123456789'


def staffless_seed(root: Path) -> Path:
    """root/default: seed/default with an empty staff.yaml; returns `root` (the loader's seed_root)."""
    shutil.copytree(SEED_ROOT / 'default', root / 'default')
    (root / 'default' / 'staff.yaml').write_text('[]\n', encoding='utf-8')
    return root


async def seeded(db: Database, seed_root: Path) -> int:
    """Load the staff-less default hall into `db`; its hall id."""
    await load_seed(db, seed_name='default', secret=SECRET, seed_root=seed_root)
    async with db.read_session() as s:
        hall_id = (await s.execute(select(Hall.id))).scalars().one()
    assert hall_id is not None
    return hall_id
