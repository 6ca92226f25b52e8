"""Domain errors carry a stable code (for clients) and a human message (zh-CN / English)."""

from __future__ import annotations


class DomainError(Exception):
    status = 400

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    """The request is valid but the current state does not allow it (closed window, done ticket)."""

    status = 409


class Invalid(DomainError):
    status = 422


class Unauthorized(DomainError):
    status = 401


class Forbidden(DomainError):
    status = 403


class Locked(DomainError):
    status = 423


class StorageUnavailable(DomainError):
    """The database cannot store or answer right now (disk full, server restarting): nothing was changed,
    and the same request may simply be tried again once it is back (app/storage.py)."""

    status = 503
    retry_after = 30
