"""Every API error is JSON with a stable `code` and a human `message` in the hall's language."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from app.services.errors import DomainError, StorageUnavailable, render
from app.services.limits import TooManyRequests


def error_body(code: str, message: str, **extra: object) -> dict[str, object]:
    return {'code': code, 'message': message, **extra}


def _domain_error(lang: str) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def answer(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, DomainError)
        retry = isinstance(error, TooManyRequests | StorageUnavailable)
        headers = {'Retry-After': str(error.retry_after)} if retry else None
        return JSONResponse(error_body(error.code, error.render(lang)), status_code=error.status, headers=headers)

    return answer


def _validation_error(lang: str) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def answer(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        problems = error.errors()
        if any(p.get('type') == 'json_invalid' for p in problems):
            return JSONResponse(error_body('malformed_json', render('malformed_json', lang)), 400)
        fields = [
            {'field': '.'.join(str(part) for part in p.get('loc', ()) if part != 'body'), 'problem': p.get('msg', '')}
            for p in problems
        ]
        first = fields[0] if fields else {'field': '', 'problem': ''}
        message = render('invalid_request', lang, field=first['field'], problem=first['problem'])
        return JSONResponse(error_body('invalid_request', message, fields=fields), status_code=422)

    return answer


def install_error_handlers(app: FastAPI, lang: str) -> None:
    app.add_exception_handler(DomainError, _domain_error(lang))
    app.add_exception_handler(RequestValidationError, _validation_error(lang))
