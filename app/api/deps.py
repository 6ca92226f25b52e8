"""Request dependencies: the process runtime and the authenticated principal."""

from __future__ import annotations

from fastapi import Request

from app.models.people import Role
from app.runtime import Runtime, current, ready
from app.services.errors import Forbidden, Unauthorized
from app.services.principal import Principal


async def runtime() -> Runtime:
    return await ready()


def bearer_token(request: Request) -> str:
    scheme, _, token = request.headers.get('authorization', '').partition(' ')
    if scheme.lower() != 'bearer' or not token:
        raise Unauthorized('not_authenticated', '需要登录令牌 / a bearer token is required')
    return token.strip()


async def staff_principal(request: Request) -> Principal:
    principal = await current().auth.authenticate(bearer_token(request))
    if not principal.has_role(Role.STAFF, Role.MANAGER):
        raise Forbidden('forbidden', '无权操作窗口 / your role cannot operate windows')
    return principal


def check_window_scope(principal: Principal, window_id: int) -> None:
    """Staff operate their own window; managers and admins any window."""
    if principal.role == Role.STAFF and principal.window_id != window_id:
        raise Forbidden('not_your_window', '只能操作本人所在窗口 / you can operate only your own window')
