"""Signing a citizen in by phone in tests, the real way: ask for the code, read it from the SMS outbox, send it back.

`citizen_token` drives the API of a running app (tests/apphost.py) and reads its `var/sms-outbox.jsonl`;
`citizen_signed_in` signs NiceGUI's `user` in through the app's own service and gives the browser the
`halltwin_citizen` cookie, as /me/login's hand-over does; `seeded_sessions` writes many sessions at once (benches).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import secrets
from collections.abc import Sequence
from pathlib import Path

import httpx
from nicegui.testing import User
from sqlalchemy import update
from sqlmodel import Session, col, create_engine

from app.api.citizen import CITIZEN_COOKIE
from app.models.citizen_account import CitizenAccount, CitizenSession
from app.models.ticket import Ticket
from app.services.citizen_accounts import TOKEN_PREFIX, token_hash
from app.services.principal import Principal
from tests.running import ready

SIGN_IN_CODE = re.compile(r'登录验证码为(\d{6})')


def outbox_lines(outbox: Path) -> int:
    return len(outbox.read_text(encoding='utf-8').splitlines()) if outbox.exists() else 0


async def code_from_outbox(outbox: Path, after: int, *, wait: float = 10.0) -> str:
    """The first sign-in code texted after line `after` of the outbox (codes go out at once; this waits a little)."""
    for _ in range(int(wait / 0.05)):
        if outbox.exists():
            for line in outbox.read_text(encoding='utf-8').splitlines()[after:]:
                found = SIGN_IN_CODE.search(str(json.loads(line).get('text', '')))
                if found:
                    return found.group(1)
        await asyncio.sleep(0.05)
    raise AssertionError(f'no sign-in code texted to {outbox}')


async def _post(client: httpx.AsyncClient | httpx.Client, path: str, body: dict[str, str]) -> httpx.Response:
    if isinstance(client, httpx.AsyncClient):
        return await client.post(path, json=body)
    return client.post(path, json=body)


async def citizen_token(client: httpx.AsyncClient | httpx.Client, phone: str, outbox: Path) -> str:
    """A citizen's bearer token ('c.' ...) for `phone`, by POST /api/citizen/code and /api/citizen/session.

    `outbox` is the app's var/sms-outbox.jsonl (`app.tmp_dir / 'var' / 'sms-outbox.jsonl'` for an AppProcess).
    """
    after = outbox_lines(outbox)
    asked = await _post(client, '/api/citizen/code', {'phone': phone})
    assert asked.status_code == 202, asked.text
    code = await code_from_outbox(outbox, after)
    answered = await _post(client, '/api/citizen/session', {'phone': phone, 'code': code})
    assert answered.status_code == 200, answered.text
    return str(answered.json()['access_token'])


async def texted_sign_in_code() -> str:
    """The newest sign-in code the app of NiceGUI's `user` texted (its SMS gateway is the phone's inbox)."""
    for sent in reversed((await ready()).journey.sms.sent):
        found = SIGN_IN_CODE.search(str(sent['text']))
        if found:
            return found.group(1)
    raise AssertionError('no sign-in code texted')


async def citizen_signed_in(user: User, phone: str, *, address: str = '10.77.0.1') -> Principal:
    """Sign NiceGUI's `user` in as the citizen of `phone` (texted code from the app's SMS gateway); the account."""
    rt = await ready()
    caller = Principal.anonymous(address)
    await rt.accounts.request_code(phone, caller)
    code = await texted_sign_in_code()
    signed = await rt.accounts.sign_in(phone, code, caller)
    user.http_client.cookies.set(CITIZEN_COOKIE, signed.token)
    return await rt.accounts.authenticate(signed.token)


def seeded_sessions(db_url: str, ticket_codes: Sequence[str], *, days: int = 1) -> list[str]:
    """A phone account with a live session for each ticket, the ticket made that account's own, written straight
    into a running app's SQLite database: for benches that need a thousand signed-in citizens at once (the texted
    code is limited per address and per phone, as it must be). Returns the session tokens (the cookies' values)."""
    now = dt.datetime.now(dt.UTC)
    tokens = [TOKEN_PREFIX + secrets.token_urlsafe(32) for _ in ticket_codes]
    engine = create_engine('sqlite:///' + db_url.split(':///', 1)[1], connect_args={'timeout': 30})
    with Session(engine) as s:
        accounts = [
            CitizenAccount(phone_hash=f'seeded-{secrets.token_hex(16)}', phone_enc='', created_at=now) for _ in tokens
        ]
        s.add_all(accounts)
        s.flush()
        for account, token, code in zip(accounts, tokens, ticket_codes, strict=True):
            assert account.id is not None
            expires = now + dt.timedelta(days=days)
            s.add(
                CitizenSession(
                    account_id=account.id,
                    token_hash=token_hash(token),
                    created_at=now,
                    last_seen_at=now,
                    expires_at=expires,
                )
            )
            s.execute(update(Ticket).where(col(Ticket.code) == code).values(account_id=account.id))
        s.commit()
    engine.dispose()
    return tokens
