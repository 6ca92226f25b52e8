"""/admin in NiceGUI's simulated browser: an enrolled admin account, and that admin signed in on the console."""

from __future__ import annotations

from nicegui.testing import User

from app.api.web_session import SESSION_COOKIE
from app.db import Database
from app.models.people import Role
from app.runtime import Runtime
from app.users import add_user
from tests import totp
from tests.running import ready

ADMIN = ('adm01', 'Admin-0001-pass')


async def add_admin(url: str) -> None:
    """The admin account with its second factor set up (admins need one to sign in)."""
    db = Database(url)
    try:
        await add_user(db, username=ADMIN[0], role=Role.ADMIN, password=ADMIN[1], window_number=None)
        await totp.enrol(db)
    finally:
        await db.dispose()


async def open_admin(user: User) -> Runtime:
    """Sign in as the admin with a fresh code and open /admin."""
    rt = await ready()
    issued = await totp.login(rt.auth, *ADMIN, client_address='10.0.7.1')
    user.http_client.cookies.set(SESSION_COOKIE, issued.token)
    await user.open('/admin')
    return rt
