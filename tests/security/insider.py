"""What an insider with write access to the database, but without SECRET_KEY, can compute for an audit row."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from app.models.security import AuditEntry


def sha256_hash(entry: AuditEntry) -> str:
    """The chain's canonical payload hashed the only way they can: plain SHA-256, no key."""
    payload = {
        'at': entry.at.astimezone(dt.UTC).isoformat(timespec='microseconds'),
        'actor': entry.actor,
        'role': entry.role,
        'action': entry.action,
        'target': entry.target,
        'outcome': entry.outcome,
        'detail': entry.detail,
        'client_address': entry.client_address,
        'prev_hash': entry.prev_hash,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(',', ':'), ensure_ascii=False)
    return hashlib.sha256(canonical.encode('utf-8')).hexdigest()
