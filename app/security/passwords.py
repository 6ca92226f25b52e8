"""Password hashing through the passlib API (the maintained libpass fork) with argon2."""

from __future__ import annotations

import re
import secrets
import string

from passlib.context import CryptContext

_context = CryptContext(schemes=['argon2'], deprecated='auto')

MIN_LENGTH = 10
_CLASSES = (r'[a-z]', r'[A-Z]', r'[0-9]', r'[^A-Za-z0-9]')


class WeakPasswordError(ValueError):
    """The password does not meet the strength rule; the message says which part."""


def hash_password(password: str) -> str:
    return _context.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return _context.verify(password, password_hash)
    except (ValueError, TypeError):
        return False


def check_strength(password: str) -> None:
    """At least 10 characters from at least three of: lower, upper, digit, symbol."""
    if len(password) < MIN_LENGTH:
        raise WeakPasswordError(f'密码至少 {MIN_LENGTH} 位 / at least {MIN_LENGTH} characters')
    if sum(bool(re.search(pattern, password)) for pattern in _CLASSES) < 3:
        raise WeakPasswordError(
            '密码需含大小写字母、数字、符号中的至少三类 / use three of: lower case, upper case, digits, symbols'
        )


def generate_password() -> str:
    """A random password that passes the strength rule (for seeded demo accounts)."""
    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = ''.join(secrets.choice(alphabet) for _ in range(14)) + secrets.choice('!#%+-=@')
        try:
            check_strength(candidate)
        except WeakPasswordError:
            continue
        return candidate
