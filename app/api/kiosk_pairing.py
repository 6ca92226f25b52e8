"""Pairing a kiosk or rating-pad screen over plain HTTP: the form an unpaired `/kiosk/{device}` or `/rate/{window}`
shows, and `POST /kiosk/pair` (one form, one service for both kinds).

A NiceGUI page talks over its websocket, which cannot set an HttpOnly cookie; a form post can. The
pairing page is plain HTML on purpose: no NiceGUI client is created for an unpaired browser, so it
has no socket and hears no device events. The code can be typed, or scanned by the kiosk's scanner
(scanners type what they read, then Enter, into the focused field).
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.api.callers import address_of
from app.api.deps import RuntimeDep
from app.api.web_session import over_https
from app.models.device import DeviceKind
from app.services.errors import DomainError, render
from app.services.limits import TooManyRequests
from app.settings import Settings

KIOSK_COOKIE = 'ht_kiosk'
COOKIE_MAX_AGE = 400 * 24 * 3600  # the longest a browser keeps a cookie (Chromium caps it at 400 days)
PAIR_PATH = '/kiosk/pair'
NOT_PAIRED = '本屏幕不是已登记的自助取号机 / This screen is not a registered kiosk'
PAD_NOT_PAIRED = '本屏幕不是已登记的评价器 / This screen is not a registered rating pad'
NO_STORE = {'cache-control': 'no-store'}
# The form's own page sends its origin with the post (under the hall-wide no-referrer policy a browser sends
# `Origin: null`, which a form on any other site can send too).
PAGE_HEADERS = {**NO_STORE, 'referrer-policy': 'same-origin'}

router = APIRouter(include_in_schema=False)

PAGE = """<!doctype html><html lang="zh-CN"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<body style="font-family:sans-serif;padding:3rem;font-size:1.4rem;max-width:44rem;margin:auto">
<h1 data-testid="kiosk-not-paired">{title}</h1>
<p>{hall} · {device}</p>
{hint}
{message}
<form method="post" action="{action}" style="display:flex;gap:1rem;flex-wrap:wrap;align-items:center">
<input type="hidden" name="device" value="{device}">
<label for="code">配对码 / Pairing code</label>
<input id="code" name="code" data-testid="kiosk-pair-code" required autofocus autocomplete="off"
 autocapitalize="characters" spellcheck="false" maxlength="16"
 style="font-size:2rem;font-family:monospace;letter-spacing:.2em;width:12em;padding:.3em">
<button type="submit" data-testid="kiosk-pair-submit" style="font-size:1.4rem;padding:.5em 1.5em">
配对 / Pair</button>
</form>
<p><a href="/">返回大厅 / back to the hall</a></p></body></html>"""


KIOSK_HINT = """<p>请管理员在「管理控制台 /admin」为本机生成配对码，在此输入或用本机扫码器扫描。<br>
An admin generates a pairing code for this kiosk on /admin; type it here or scan it with the kiosk's scanner.</p>"""
PAD_HINT = """<p>请管理员在「管理控制台 /admin」的屏幕配对页为本窗口的评价器生成配对码，在此输入。<br>
An admin generates a pairing code for this window's rating pad on /admin (Screen pairing); type it here.</p>"""


def pairing_page(
    device_code: str, *, hall_name: str, status_code: int, message: str = '', pad: bool = False
) -> HTMLResponse:
    """'Not a registered kiosk', with the pairing form; never cached, never a NiceGUI client. The form is for
    whoever sets the kiosk up, in both languages; `message`, a refusal, is in the hall's language."""
    notice = f'<p role="alert" data-testid="kiosk-pair-error" style="color:#b00020">{escape(message)}</p>'
    html = PAGE.format(
        title=escape(PAD_NOT_PAIRED if pad else NOT_PAIRED),
        hint=PAD_HINT if pad else KIOSK_HINT,
        hall=escape(hall_name),
        device=escape(device_code),
        action=PAIR_PATH,
        message=notice if message else '',
    )
    return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)


def _foreign_origin(request: Request, settings: Settings) -> bool:
    """A browser says where a form came from; a pairing form posted from anywhere but our page is refused."""
    if request.headers.get('sec-fetch-site') in ('cross-site', 'same-site'):
        return True
    origin = request.headers.get('origin')
    return origin is not None and origin.rstrip('/') not in settings.allowed_origins


@router.post(PAIR_PATH)
async def pair(request: Request, rt: RuntimeDep, device: str = Form(''), code: str = Form('')) -> Response:
    """A live code for this kiosk or pad buys the browser its screen credential (HttpOnly cookie), then its page."""
    device = device.strip()[:32]
    if _foreign_origin(request, rt.settings):
        message = render('pairing_cross_site', rt.settings.lang)
        return pairing_page(device, hall_name=rt.hall.name, status_code=403, message=message)
    try:
        screen = await rt.pairing.pair(device, code, address=address_of(request, rt.settings.trusted_proxies))
    except DomainError as error:
        page = pairing_page(
            device, hall_name=rt.hall.name, status_code=error.status, message=error.render(rt.settings.lang)
        )
        if isinstance(error, TooManyRequests):
            page.headers['retry-after'] = str(error.retry_after)
        return page
    home = f'/kiosk/{quote(screen.device_code)}'
    if screen.kind == DeviceKind.RATING_PAD:
        home = f'/rate/{screen.window_number}'
    response = RedirectResponse(home, status_code=303, headers=NO_STORE)
    response.set_cookie(
        KIOSK_COOKIE,
        screen.token,
        max_age=COOKIE_MAX_AGE,
        path='/',
        secure=over_https(request),
        httponly=True,
        samesite='strict',
    )
    return response
