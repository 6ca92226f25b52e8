"""Files that hold the hall's data are created readable by their owner only, from the first byte.

Why: SQLite and shutil create files with the process umask (often 0644: every local account may read
the database, its -wal, a backup). Creating the file ourselves as 0600 before anything writes to it
closes that window; SQLite then gives the database's -wal and -shm files the database file's mode.
Existing files keep the mode the operator gave them.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def private_dir(path: Path) -> None:
    """Create the folder (0700, its missing parents with the default mode) unless it exists."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)


def private_file(path: Path) -> None:
    """Create `path` empty as 0600 unless it exists (an empty file is a valid new SQLite database)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return
    os.close(fd)
