"""AES-GCM encryption of sensitive fields and keyed (HMAC) lookup hashes.

Keys are derived from SECRET_KEY with HKDF, one per purpose. Every ciphertext carries the id of
the key that made it (`k1:<base64url nonce+ciphertext>`), so keys can rotate: new values use the
current key, old values stay readable while their key id is still configured.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.security.keys import Purpose, derive_key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))


class FieldCipher:
    """Encrypts and decrypts personal values; `lookup` gives the keyed hash used to find them."""

    def __init__(self, secrets_by_id: dict[str, bytes], current: str, *, lookup_key_id: str | None = None) -> None:
        """`lookup_key_id` (default: the first key) must stay fixed: lookups are hashes, not ciphertexts,
        so changing it would orphan every stored hash. Rotating `current` re-encrypts nothing and loses nothing."""
        if current not in secrets_by_id:
            raise ValueError(f'current key id {current!r} has no secret')
        lookup_key_id = lookup_key_id or next(iter(secrets_by_id))
        if lookup_key_id not in secrets_by_id:
            raise ValueError(f'lookup key id {lookup_key_id!r} has no secret')
        self.current = current
        self._aead = {kid: AESGCM(derive_key(key, Purpose.FIELD_ENCRYPTION)) for kid, key in secrets_by_id.items()}
        self._mac_key = derive_key(secrets_by_id[lookup_key_id], Purpose.LOOKUP)

    def encrypt(self, plaintext: str, *, context: str = '') -> str:
        nonce = os.urandom(12)
        sealed = self._aead[self.current].encrypt(nonce, plaintext.encode(), context.encode())
        return f'{self.current}:{_b64(nonce + sealed)}'

    def decrypt(self, token: str, *, context: str = '') -> str:
        kid, _, body = token.partition(':')
        if kid not in self._aead:
            raise ValueError(f'no key with id {kid!r}')
        raw = _unb64(body)
        return self._aead[kid].decrypt(raw[:12], raw[12:], context.encode()).decode()

    def lookup(self, value: str) -> str:
        """Deterministic keyed hash: equal inputs match, the table alone reveals nothing."""
        return hmac.new(self._mac_key, value.strip().upper().encode(), hashlib.sha256).hexdigest()

    def encrypt_bytes(self, data: bytes, *, context: str = '') -> str:
        return self.encrypt(_b64(data), context=context)

    def decrypt_bytes(self, token: str, *, context: str = '') -> bytes:
        return _unb64(self.decrypt(token, context=context))
