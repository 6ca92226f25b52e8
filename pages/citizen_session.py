"""Who is on a citizen's page: the phone signed in by the `halltwin_citizen` cookie, or nobody.

Pages call `citizen_of` to draw for a signed-in citizen (anonymous when there is no valid cookie), and
`require_citizen` on pages only a signed-in citizen may see: an anonymous visitor is sent to /me/login
and comes back to the same page after signing in. The services still decide (`caller.require_account()`).
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse

from app.api.callers import address_of
from app.api.citizen import CITIZEN_COOKIE, citizen_login_url
from app.services.citizen_accounts import TOKEN_PREFIX
from app.services.errors import Unauthorized
from app.services.principal import Principal
from pages.parts import Started


async def citizen_of(request: Request, started: Started) -> Principal:
    """The signed-in citizen of this browser, with the client's address; anonymous without a valid cookie."""
    rt = (await started.ready()).runtime
    address = address_of(request, rt.settings.trusted_proxies)
    token = request.cookies.get(CITIZEN_COOKIE, '')
    if not token.startswith(TOKEN_PREFIX):
        return Principal.anonymous(address)
    try:
        return (await rt.accounts.authenticate(token)).with_address(address)
    except Unauthorized:
        return Principal.anonymous(address)


async def require_citizen(request: Request, started: Started) -> Principal | RedirectResponse:
    """The signed-in citizen, or the redirect to /me/login that brings them back here afterwards."""
    caller = await citizen_of(request, started)
    if caller.account_id is not None:
        return caller
    path = request.url.path + (f'?{request.url.query}' if request.url.query else '')
    reason = 'expired' if request.cookies.get(CITIZEN_COOKIE) else ''
    return RedirectResponse(citizen_login_url(path, reason), status_code=303)
