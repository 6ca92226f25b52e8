"""Fixed test passwords hashed once per run: argon2 is slow on purpose (about 0.3 s a hash on an idle core).

The small hall is built for most tests, each with the same two accounts; their hashes are real argon2 hashes
(a login still verifies them in full), only not recomputed for every database.
"""

from __future__ import annotations

from functools import cache

from app.security.passwords import hash_password


@cache
def hashed(password: str) -> str:
    """The argon2 hash of a fixed test password, computed the first time it is asked for."""
    return hash_password(password)
