"""Codes we hand out: tracking codes (unguessable) and signed QR payloads (HMAC, ASCII only).

zbar garbles short UTF-8 payloads, so every payload is ASCII: `HT1.<kind>.<value>.<signature>`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from app.security.keys import Purpose, derive_key
from app.services.errors import Invalid

_VALUE = re.compile(r'[A-Za-z0-9_-]{1,64}')
_PREFIX = 'HT1'


def tracking_code() -> str:
    """120 random bits, URL-safe (an unguessable code, so no signature is needed)."""
    return secrets.token_urlsafe(15)


def reference() -> str:
    return secrets.token_hex(6).upper()


def _signature(code_key: bytes, kind: str, value: str) -> str:
    """Signed with the code-signing key derived from SECRET_KEY (never SECRET_KEY itself)."""
    digest = hmac.new(code_key, f'{_PREFIX}.{kind}.{value}'.encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b'=').decode()


def sign(secret: bytes, kind: str, value: str) -> str:
    return sign_with_key(derive_key(secret, Purpose.CODE_SIGNING), kind, value)


def sign_with_key(code_key: bytes, kind: str, value: str) -> str:
    """For a holder of only the code-signing key (`settings.key(Purpose.CODE_SIGNING)`): the simulator's samples."""
    if not (_VALUE.fullmatch(kind) and _VALUE.fullmatch(value)):
        raise ValueError('kind and value must be short ASCII tokens')
    return f'{_PREFIX}.{kind}.{value}.{_signature(code_key, kind, value)}'


def verify(secret: bytes, kind: str, payload: str) -> str:
    """The signed value, or `Invalid('forged_code')` for anything we did not issue."""
    parts = payload.strip().split('.')
    if len(parts) != 4 or parts[0] != _PREFIX or parts[1] != kind or not _VALUE.fullmatch(parts[2]):
        raise Invalid('forged_code')
    if not hmac.compare_digest(parts[3], _signature(derive_key(secret, Purpose.CODE_SIGNING), kind, parts[2])):
        raise Invalid('forged_code', text='forged_code.altered')
    return parts[2]
