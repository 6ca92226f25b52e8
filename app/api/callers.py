"""Who is calling over HTTP: the client's address and the `Principal` the services decide for.

The edges only identify; they never decide. A bearer token that does not check out is an error (401),
never a silent step down to anonymous, so a client with an expired token learns it at once.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.requests import HTTPConnection

from app.runtime import Runtime
from app.security.addresses import Network, client_address
from app.services.citizen_accounts import TOKEN_PREFIX
from app.services.errors import Unauthorized
from app.services.principal import Principal


def address_of(connection: HTTPConnection, proxies: Sequence[Network]) -> str:
    """The caller's address: the peer, or what a trusted proxy (TRUSTED_PROXIES) says it saw."""
    peer = connection.client.host if connection.client else ''
    return client_address(peer, connection.headers.get('x-forwarded-for'), proxies)


def bearer_token(connection: HTTPConnection) -> str | None:
    scheme, _, token = connection.headers.get('authorization', '').partition(' ')
    if not scheme and not token:
        return None
    if scheme.lower() != 'bearer' or not token.strip():
        raise Unauthorized('not_authenticated')
    return token.strip()


async def caller_of(connection: HTTPConnection, rt: Runtime) -> Principal:
    """A signed-in clerk or phone (bearer token; a citizen's starts 'c.') or an anonymous caller, with the address."""
    address = address_of(connection, rt.settings.trusted_proxies)
    token = bearer_token(connection)
    if token is None:
        return Principal.anonymous(address)
    if token.startswith(TOKEN_PREFIX):
        return (await rt.accounts.authenticate(token)).with_address(address)
    return (await rt.auth.authenticate(token)).with_address(address)


async def staff_of(connection: HTTPConnection, rt: Runtime) -> Principal:
    """A signed-in clerk; no token at all is 401 here (the services refuse roles that may not act: 403)."""
    token = bearer_token(connection)
    if token is None:
        raise Unauthorized('not_authenticated')
    if token.startswith(TOKEN_PREFIX):  # a citizen's phone session is no staff session
        raise Unauthorized('not_authenticated', text='not_authenticated.session')
    return (await rt.auth.authenticate(token)).with_address(address_of(connection, rt.settings.trusted_proxies))
