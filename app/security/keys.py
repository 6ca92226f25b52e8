"""One key per purpose, derived from SECRET_KEY with HKDF, so no two uses ever share key material.

Why: a key that signs session cookies must not also sign QR codes, chain the audit log or sign bus
events; leaking or rotating one use must not touch the others. Every holder gets only the key of its
purpose (the device simulator gets device credentials, never SECRET_KEY).
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class Purpose(StrEnum):
    SESSION_SIGNING = 'session-signing'  # NiceGUI's signed browser-session cookie
    FIELD_ENCRYPTION = 'field-encryption'  # AES-GCM of ID numbers, phones, names, face templates
    LOOKUP = 'lookup-hmac'  # keyed hashes to find an encrypted value
    DEVICE_CREDENTIALS = 'device-credentials'  # each device's own credential
    KIOSK_PAIRING = 'kiosk-pairing'  # keyed hashes of one-time kiosk pairing codes
    CODE_SIGNING = 'code-signing'  # QR codes we issue (appointments, tracking)
    AUDIT = 'audit-chain'  # the audit log's keyed hash chain and its anchors
    BUS = 'bus-signing'  # events shared between processes over Redis
    LIMITS = 'limit-subjects'  # keyed hashes of the addresses and phones that abuse limits count
    ONE_TIME_CODES = 'one-time-codes'  # the texted /track codes (computed, never stored)
    KEY_CHECK = 'key-check'  # the database's key check value: which SECRET_KEY wrote it


@lru_cache(maxsize=64)
def derive_key(secret: bytes, purpose: Purpose | str) -> bytes:
    """32 bytes for `purpose`; the same secret and purpose always give the same key."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b'halltwin', info=str(purpose).encode()).derive(secret)
