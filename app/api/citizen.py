"""Citizens sign in by phone: the API's handlers, and the browser's cookie hand-over.

The handlers are registered under /api/citizen by app/api/routes.py (so the API docs show them): ask for a
texted code, swap it for a bearer token ('c.' ...), end the session. `web_router`: `/me/complete` swaps the
sign-in page's one-time hand-over code for the HttpOnly `halltwin_citizen` cookie (a page's websocket
cannot set one), `/me/logout` ends it.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from app.api.callers import address_of, bearer_token
from app.api.deps import RuntimeDep
from app.api.web_session import browser_id, over_https, safe_next
from app.runtime import Runtime
from app.services.citizen_accounts import TOKEN_PREFIX
from app.services.errors import Unauthorized
from app.services.principal import Principal

CITIZEN_COOKIE = 'halltwin_citizen'
LOGIN_PATH = '/me/login'
HOME = '/me'
NO_STORE = {'cache-control': 'no-store'}

web_router = APIRouter(include_in_schema=False)


class CodeIn(BaseModel):
    phone: str = Field(min_length=1, max_length=20)


class CodeOut(BaseModel):
    expires_in: int  # seconds the code is good for at least


class SessionIn(BaseModel):
    phone: str = Field(min_length=1, max_length=20)
    code: str = Field(min_length=1, max_length=16)


class SessionOut(BaseModel):
    access_token: str
    token_type: str = 'bearer'
    expires_at: dt.datetime


def citizen_next(target: str | None) -> str:
    """Where to go after sign-in: a local path only (never another site, never a control character)."""
    if target and any(ord(char) < 0x20 or ord(char) == 0x7F for char in target):
        return HOME
    path = safe_next(target)
    return HOME if path == '/' else path


def citizen_login_url(next_path: str, reason: str = '') -> str:
    suffix = f'&reason={quote(reason)}' if reason else ''
    return f'{LOGIN_PATH}?next={quote(citizen_next(next_path))}{suffix}'


async def request_code(body: CodeIn, request: Request, rt: RuntimeDep) -> CodeOut:
    """Text a six-digit sign-in code to the phone (limited per phone and address). The answer is the same
    whether or not the phone has an account."""
    sent = await rt.accounts.request_code(body.phone, _anonymous(request, rt))
    return CodeOut(expires_in=sent.expires_in)


async def sign_in(body: SessionIn, request: Request, rt: RuntimeDep) -> SessionOut:
    """Swap the texted code (once) for a citizen's bearer token; wrong codes are limited (429 with Retry-After)."""
    caller = _anonymous(request, rt)
    signed = await rt.accounts.sign_in(body.phone, body.code, caller, user_agent=request.headers.get('user-agent', ''))
    return SessionOut(access_token=signed.token, expires_at=signed.expires_at)


async def sign_out(request: Request, rt: RuntimeDep) -> None:
    """End the citizen session of the bearer token (a staff token is refused: 401)."""
    token = bearer_token(request)
    if token is None or not token.startswith(TOKEN_PREFIX):
        raise Unauthorized('citizen_sign_in_required')
    caller = (await rt.accounts.authenticate(token)).with_address(address_of(request, rt.settings.trusted_proxies))
    await rt.accounts.sign_out(token, caller)


def _anonymous(request: Request, rt: Runtime) -> Principal:
    return Principal.anonymous(address_of(request, rt.settings.trusted_proxies))


@web_router.get('/me/complete')
async def complete(request: Request, rt: RuntimeDep, code: str = '', next: str = HOME) -> RedirectResponse:
    """Swap the sign-in page's hand-over code for the cookie, only in the browser that signed in."""
    token = rt.accounts.handoff.redeem(code, browser_id(request))
    if token is None:
        return RedirectResponse(citizen_login_url(next, 'expired'), status_code=303, headers=NO_STORE)
    response = RedirectResponse(citizen_next(next), status_code=303, headers=NO_STORE)
    response.set_cookie(
        CITIZEN_COOKIE,
        token,
        httponly=True,
        samesite='lax',
        secure=over_https(request),
        max_age=rt.settings.citizen_session_days * 24 * 3600,
        path='/',
    )
    return response


LOGOUT_PAGE = """<!doctype html><html lang="zh-CN"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<body style="font-family:sans-serif;padding:1.5rem;max-width:30rem;margin:auto">
<h1 style="font-size:1.4rem">{title}</h1>
<form method="post" action="/me/logout">
<button type="submit" data-testid="citizen-logout" style="font-size:1.2rem;padding:.6em 1.5em;width:100%">
{title}</button></form>
<p><a href="{home}">返回我的 / back</a></p></body></html>"""


@web_router.get('/me/logout')
async def logout_page() -> HTMLResponse:
    """A button, not a link that signs out: a page elsewhere cannot sign a citizen out by an image or a link."""
    return HTMLResponse(LOGOUT_PAGE.format(title=escape('退出登录 / Sign out'), home=HOME), headers=NO_STORE)


@web_router.post('/me/logout')
async def logout(request: Request, rt: RuntimeDep) -> Response:
    token = request.cookies.get(CITIZEN_COOKIE)
    if token and token.startswith(TOKEN_PREFIX):  # SameSite=Lax: another site's form post carries no cookie
        await rt.accounts.sign_out(token, _anonymous(request, rt))
    response = RedirectResponse(citizen_login_url(HOME, 'logged_out'), status_code=303, headers=NO_STORE)
    response.delete_cookie(CITIZEN_COOKIE, path='/')
    return response
