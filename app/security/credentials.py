"""Device credentials: high-entropy secrets derived from the device-credential key, stored only as SHA-256.

A random 256-bit credential needs no slow hash (that protects guessable passwords); SHA-256 keeps
500 devices reconnecting at once cheap. The in-process simulator is handed only the values its devices
hold (devices/lifecycle.py derives them); `python -m devices.sim`, run on the server, derives them itself.
"""

from __future__ import annotations

import hashlib
import hmac

from app.security.keys import Purpose, derive_key


def device_credential(secret: bytes, device_code: str) -> str:
    """`secret` is SECRET_KEY; the credential comes from its device-credential key, so it reveals nothing else."""
    key = derive_key(secret, Purpose.DEVICE_CREDENTIALS)
    return hmac.new(key, f'device:{device_code}'.encode(), hashlib.sha256).hexdigest()


def credential_hash(credential: str) -> str:
    return hashlib.sha256(credential.encode()).hexdigest()


def credential_matches(credential: str, stored_hash: str) -> bool:
    return hmac.compare_digest(credential_hash(credential), stored_hash)
