"""Role checks for staff pages, on the server: at page load and again before every action.

A page that passes `Guard.require` is registered with the process's session watch (pages/session_watch.py),
which ends it when its session ends or its person's role, window or department changes. The composition
root builds the one Guard and hands it to the pages (pages/parts.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from nicegui import ui

from app.api.callers import address_of
from app.api.web_session import SESSION_COOKIE, login_url
from app.models.people import Role
from app.services import audit
from app.services.auth import ENROLMENT_REQUIRED, AuthService, SessionEnd, principal_changed
from app.services.errors import Unauthorized
from app.services.principal import Principal
from app.settings import Settings
from pages import session_watch
from pages.session_watch import SessionWatch

FORBIDDEN_PAGE = """<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>403</title>
<body style="font-family:sans-serif;padding:3rem"><h1>无权访问 / Forbidden</h1>
<p>您的角色不能打开此页面。/ Your role cannot open this page.</p><p><a href="/">返回大厅 / back</a></p></body></html>"""


@dataclass
class StaffSession:
    """The logged-in person behind one open page; `recheck` before each action catches logout, timeouts and a
    change of role, window or department since the page was built (the page then ends)."""

    auth: AuthService
    token: str
    principal: Principal
    roles: tuple[Role, ...]
    path: str
    opened_as: Principal = field(init=False)

    def __post_init__(self) -> None:
        self.opened_as = self.principal

    async def recheck(self) -> Principal | None:
        try:
            principal = await self.auth.authenticate(self.token)
        except Unauthorized:
            why = (await self.auth.ended([self.opened_as])).get(self.opened_as, SessionEnd.EXPIRED)
            session_watch.end_page(ui.context.client, self.path, why)
            return None
        if principal_changed(self.opened_as, principal):
            session_watch.end_page(ui.context.client, self.path, SessionEnd.CHANGED)
            return None
        self.principal = principal
        return principal


@dataclass(frozen=True)
class Guard:
    """Who may open a staff page: checked by the auth service, refusals audited, admitted pages watched."""

    auth: AuthService
    audit_log: audit.AuditLog
    settings: Settings
    sessions: SessionWatch

    async def require(self, request: Request, *roles: Role) -> StaffSession | Response:
        """The staff session for a page, or the response to send instead (login redirect or 403)."""
        path = request.url.path + (f'?{request.url.query}' if request.url.query else '')
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return RedirectResponse(login_url(path), status_code=303)
        try:
            principal = await self.auth.authenticate(token)
        except Unauthorized as refused:
            if refused.code == ENROLMENT_REQUIRED:
                return RedirectResponse(f'/enrol?next={quote(path)}', status_code=303)
            return RedirectResponse(login_url(path, 'expired'), status_code=303)
        if not principal.has_role(*roles):
            await self.audit_log.write(
                actor=principal.name,
                role=principal.role,
                action=audit.ROLE_DENIED,
                target=request.url.path,
                outcome='denied',
                client_address=address_of(request, self.settings.trusted_proxies),
            )
            return HTMLResponse(FORBIDDEN_PAGE, status_code=403)
        self.sessions.watch(ui.context.client, principal, path)
        return StaffSession(self.auth, token, principal, roles, path)
