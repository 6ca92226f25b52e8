"""Domain errors carry a stable code (for clients) and parameters; their words come from one registry.

`app/services/error_texts.py` holds each text as (中文, English); `render(lang)` picks the hall's language:
'zh-CN' gives '中文 / English' (the hall speaks Chinese first, English second), 'en' gives English alone.
Only words that come from outside (a device's own reason for a refused card or code) are passed whole,
as '中文 / English'.
"""

from __future__ import annotations

from app.services.error_texts import ERROR_TEXTS


def split_message(message: str) -> tuple[str, str]:
    """'中文 / English' -> ('中文', 'English'); a message without an English half is the same in both."""
    zh, sep, en = message.partition(' / ')
    return (zh, en) if sep else (message, message)


def in_language(zh: str, en: str, lang: str) -> str:
    if lang == 'en':
        return en
    return zh if zh == en else f'{zh} / {en}'


def render(key: str, lang: str, **params: object) -> str:
    """The registry's text `key` in `lang` (also for answers that are not a DomainError: a malformed request)."""
    zh, en = ERROR_TEXTS[key]
    return in_language(zh.format(**params), en.format(**params), lang)


class DomainError(Exception):
    status = 400

    def __init__(self, code: str, message: str | None = None, *, text: str | None = None, **params: object) -> None:
        self.code = code
        self.key = text or code
        self.params = params
        if message is None and self.key not in ERROR_TEXTS:
            raise KeyError(f'no text for domain error {self.key!r} (app/services/error_texts.py)')
        self._message = message
        super().__init__(self.message)

    def render(self, lang: str) -> str:
        """The message in `lang` ('zh-CN' or 'en')."""
        if self._message is None:
            return render(self.key, lang, **self.params)
        return in_language(*split_message(self._message), lang)

    @property
    def message(self) -> str:
        """Chinese first, English second: what logs and audits keep whatever the hall's language."""
        return self.render('zh-CN')


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
