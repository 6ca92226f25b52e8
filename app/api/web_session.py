"""Browser sessions for staff pages: an HttpOnly, SameSite=Strict cookie holding the session token."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from app.api.callers import address_of
from app.api.deps import RuntimeDep

SESSION_COOKIE = 'ht_session'
router = APIRouter(include_in_schema=False)


def safe_next(target: str | None) -> str:
    """Only local paths: an open redirect would let a phishing link ride on our login page."""
    if not target or not target.startswith('/') or target.startswith('//') or '\\' in target:
        return '/'
    return target


def login_url(next_path: str, reason: str = '') -> str:
    suffix = f'&reason={reason}' if reason else ''
    return f'/login?next={quote(safe_next(next_path))}{suffix}'


def browser_id(request: Request) -> str | None:
    """NiceGUI's id of this browser, from its signed `session` cookie (None without one)."""
    if 'session' not in request.scope:
        return None
    value = request.session.get('id')
    return value if isinstance(value, str) else None


def over_https(request: Request) -> bool:
    """The browser reached us over HTTPS (directly or through a proxy that says so): cookies get `Secure`."""
    return request.url.scheme == 'https' or request.headers.get('x-forwarded-proto') == 'https'


@router.get('/auth/complete')
async def complete_login(request: Request, rt: RuntimeDep, code: str = '', next: str = '/') -> RedirectResponse:
    """Swap a login page's one-time code for the session cookie, only in the browser that logged in."""
    token = rt.auth.handoff.redeem(code, browser_id(request))
    if token is None:
        return RedirectResponse(login_url(next, 'expired'), status_code=303)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite='strict',
        secure=over_https(request),
        max_age=rt.settings.token_absolute_hours * 3600,
        path='/',
    )
    return response


@router.post('/auth/logout')
async def logout(request: Request, rt: RuntimeDep) -> RedirectResponse:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await rt.auth.logout(token, client_address=address_of(request, rt.settings.trusted_proxies))
    response = RedirectResponse('/login?reason=logged_out', status_code=303)
    response.delete_cookie(SESSION_COOKIE, path='/')
    return response
