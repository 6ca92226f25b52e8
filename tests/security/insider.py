"""What an insider with write access to the database, but without SECRET_KEY, can compute for an audit row."""

from __future__ import annotations

import hashlib

from app.models.security import AuditEntry
from app.services.audit import canonical_payload


def sha256_hash(entry: AuditEntry) -> str:
    """The chain's canonical payload hashed the only way they can: plain SHA-256, no key."""
    return hashlib.sha256(canonical_payload(entry)).hexdigest()
