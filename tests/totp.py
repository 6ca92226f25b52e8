"""Second factor in tests: seeded managers and admins share one fixed TOTP secret, and `code(key)` gives a fresh code.

The app refuses a code whose time step is not later than the last one it accepted for that person, so
`code(key)` hands out each step once per app and person (the key names both): one step behind now (only while
more than SAFE_SECONDS of this step are left), now, one ahead; a later sign-in of the same person on the same
app waits for the next step.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
from typing import Any

import httpx
import pyotp
from playwright.sync_api import Error as PlaywrightError
from sqlmodel import col, select

from app.clock import utcnow
from app.db import Database
from app.models.people import Role, StaffTotp, StaffUser
from app.security.crypto import FieldCipher
from app.services import second_factor
from app.services.auth import AuthService, IssuedToken
from app.services.errors import Unauthorized
from app.settings import load_settings

TEST_TOTP_SECRET = 'HALLTWINTESTSECRETFORTOTP234567A'
ENROLLED_ROLES = (Role.MANAGER, Role.ADMIN, Role.CITY)
_last_step: dict[str, int] = {}


def cipher(secret_key: bytes | None = None) -> FieldCipher:
    """The cipher of apps in this run (SECRET_KEY set by the root conftest)."""
    return FieldCipher({'k1': secret_key or load_settings().secret}, 'k1')


async def enrol(db: Database, *, roles: tuple[Role, ...] = ENROLLED_ROLES, secret_key: bytes | None = None) -> None:
    """Give every user of `roles` without a second factor the fixed test secret, confirmed."""
    sealer = cipher(secret_key)
    async with db.session() as s, s.begin():
        users = (await s.execute(select(StaffUser).where(col(StaffUser.role).in_(roles)))).scalars().all()
        for user in users:
            assert user.id is not None
            if await s.get(StaffTotp, user.id) is None:
                s.add(
                    StaffTotp(
                        user_id=user.id,
                        secret_enc=second_factor.seal(sealer, user.id, TEST_TOTP_SECRET),
                        confirmed_at=utcnow(),
                        created_at=utcnow(),
                    )
                )


def code_at(step: int, secret: str = TEST_TOTP_SECRET) -> str:
    return pyotp.TOTP(secret).at(step * second_factor.STEP_SECONDS)


IN_PROCESS_ORIGIN = 'http://test'  # NiceGUI's `user` fixture: every in-process app answers here


def person(origin: str, username: str) -> str:
    """The key of `code()`: one person on one app. Apps run in-process all share one origin but each test's has
    its own database (DATABASE_URL, read when it starts), which holds the last step used: a new database starts
    afresh, so its sign-ins need not wait for the steps an earlier test's app used."""
    origin = str(origin).rstrip('/')
    if origin == IN_PROCESS_ORIGIN:
        origin = f'{origin}@{os.environ.get("DATABASE_URL", "")}'
    return f'{origin}|{username}'


SAFE_SECONDS = 10.0  # a code one step behind is given only this long before the step ends: the app checks it later


def _earliest(when: dt.datetime) -> int:
    """The earliest step whose code the app will still take a moment from now: one step behind while enough of
    this step is left (its code is good until the step ends), else this step's."""
    now_step = second_factor.step_at(when)
    left = second_factor.STEP_SECONDS - when.timestamp() % second_factor.STEP_SECONDS
    return now_step - 1 if left > SAFE_SECONDS else now_step


def code(key: str) -> str:
    """A code of a step never handed out before for `key` (app origin and username), valid now (waits if
    all valid ones are used)."""
    now = utcnow()
    now_step = second_factor.step_at(now)
    step = max(_earliest(now), _last_step.get(key, 0) + 1)
    if step > now_step + 1:
        time.sleep((step - 1) * second_factor.STEP_SECONDS - time.time() + 0.5)
    _last_step[key] = step
    return code_at(step)


async def fresh_code(auth: AuthService, username: str) -> str:
    """A code the app behind `auth` accepts now (its own clock, fake or real): past the last step it used."""
    async with auth.db.read_session() as s:
        statement = select(StaffTotp.last_step).join(StaffUser).where(col(StaffUser.username) == username)
        last = (await s.execute(statement)).scalar_one_or_none() or 0
    now = auth.clock()
    now_step = second_factor.step_at(now)
    step = max(_earliest(now), last + 1)
    if step > now_step + 1:
        assert auth.clock is utcnow, 'three sign-ins used every valid code: advance the fake clock 30 s'
        await asyncio.sleep((step - 1) * second_factor.STEP_SECONDS - time.time() + 0.5)
    return code_at(step)


async def login(auth: AuthService, username: str, password: str, **kwargs: Any) -> IssuedToken:
    """`auth.login`, adding a fresh code when the person has a second factor."""
    try:
        return await auth.login(username, password, **kwargs)
    except Unauthorized as refused:
        if refused.code != 'second_factor_required':
            raise
    return await auth.login(username, password, totp=await fresh_code(auth, username), **kwargs)


def token_body(
    client: httpx.Client, username: str, password: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    """POST /api/auth/token, again with a fresh code when the answer asks for one."""
    response = client.post('/api/auth/token', json={'username': username, 'password': password}, headers=headers or {})
    key = person(str(client.base_url), username)
    if response.status_code == 401 and response.json().get('code') == 'second_factor_required':
        body = {'username': username, 'password': password, 'totp': code(key)}
        response = client.post('/api/auth/token', json=body, headers=headers or {})
    if response.status_code == 401 and response.json().get('code') == 'bad_second_factor':  # restarted app, same db
        body = {'username': username, 'password': password, 'totp': code(key)}
        response = client.post('/api/auth/token', json=body, headers=headers or {})
    return response


async def token_body_async(
    client: httpx.AsyncClient, username: str, password: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    response = await client.post(
        '/api/auth/token', json={'username': username, 'password': password}, headers=headers or {}
    )
    key = person(str(client.base_url), username)
    if response.status_code == 401 and response.json().get('code') == 'second_factor_required':
        body = {'username': username, 'password': password, 'totp': code(key)}
        response = await client.post('/api/auth/token', json=body, headers=headers or {})
    return response


def asks_for_code(text: str) -> bool:
    """The login page's notice that a code is wanted (its field is being shown), not a refusal."""
    return '请输入动态验证码' in text or 'enter the code' in text


def finish_login(page: Any, timeout: float = 20.0) -> None:
    """After clicking 'log in' on /login (Playwright page): give a fresh code if the page asks for one.

    Returns once the page has left /login, shows an error without asking for a code, or has taken the code.
    The code field is looked at first: the page asks for it with a notice in the error line.
    """
    field, error = page.get_by_test_id('login-totp'), page.get_by_test_id('login-error')
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if '/login' not in page.url:
                return
            if field.is_visible():
                origin = '/'.join(page.url.split('/')[:3])
                field.fill(code(person(origin, page.get_by_test_id('login-username').input_value())))
                page.get_by_test_id('login-submit').click()
                return
            said = (error.first.text_content(timeout=500) or '').strip() if error.count() else ''
            if said and not asks_for_code(said):
                return  # a refusal (the code field is not coming)
        except PlaywrightError:  # the page navigated away between two looks
            return
        time.sleep(0.1)
