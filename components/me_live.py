"""/me/live as one light HTML document: the frame drawn here, the citizen's tickets and cases drawn by me_live.js.

Why not a NiceGUI page: a citizen keeps this open on the phone while waiting, and a hall's citizens would each be a
server-side client. The document holds nothing personal (it is the same for every citizen): what is theirs arrives
over `/live/me` (twin/citizen_live.py), their day's tickets and open cases first, then each ticket's shared status
texts. Actions (cancel a booking, withdraw a consent, end a grant, take a number) stay on the full /me, linked here.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from html import escape

from app.settings import StandIn, get_settings
from components import me_texts as _me_texts  # noqa: F401 - registers the texts
from components.call_board import ELDER_ICON, demo_banner_html
from components.elder_mode import ELDER_CSS
from components.texts import register, t
from components.track_status import TRACK_CSS, status_texts

register(
    {
        'me.live.title': ('我的排队进度', 'My queue, live'),
        'me.live.tickets': ('今天的排队', "Today's tickets"),
        'me.live.no_tickets': ('今天还没有排队', 'No tickets today'),
        'me.live.cases': ('办理中的办件', 'Open cases'),
        'me.live.no_cases': ('没有办理中的办件', 'No open cases'),
        'me.live.due': ('办结期限 {date}', 'Due {date}'),
        'me.live.taken': ('{time} 取号', 'Taken at {time}'),
        'me.live.loading': ('正在读取…', 'Loading…'),
        'me.live.full': ('预约、授权等更多操作', 'Bookings, consents and more'),
        'me.live.open_live': ('实时查看今天的排队', "Follow today's tickets live"),
        'me.live.ended': ('登录已结束，页面不再更新。', 'Your sign-in has ended; this page no longer updates.'),
        'me.live.sign_in': ('重新登录', 'Sign in again'),
        'me.live.follow': ('查看进度', 'Follow it'),
    }
)
SCRIPT_PATH = '/static/me_live.js'
SOCKET_PATH = '/live/me'
PAGE_PATH = '/me/live'
CASE_STATUSES = ('open', 'returned', 'completed')

ME_CSS = """
.list { display: flex; flex-direction: column; gap: 12px; }
h3 { margin: 0; }
.card h2.section { font-size: 18px; }
.ticket { border-top: 1px solid #e0e0e0; padding-top: 8px; display: flex; flex-direction: column; gap: 2px; }
.ticket:first-of-type { border-top: 0; padding-top: 0; }
.ticket .number { font-size: 28px; overflow-wrap: anywhere; }
.line { display: flex; justify-content: space-between; gap: 8px; flex-wrap: wrap; }
.case { display: flex; flex-direction: column; gap: 2px; }
a.more { display: flex; align-items: center; min-height: 48px; color: #0b3d78; font-weight: 700; }
.ended { color: #b00020; font-weight: 700; }
body.elder .ticket .number { font-size: 40px; }
"""


def _texts() -> dict[str, str]:
    """What me_live.js writes itself, in the page's language (placeholders kept for the script)."""
    texts = status_texts()
    texts |= {f'case.{s}': t(f'timeline.case.{s}') for s in CASE_STATUSES}
    texts |= {
        'no_tickets': t('me.live.no_tickets'),
        'no_cases': t('me.live.no_cases'),
        'due': t('me.live.due', date='{date}'),
        'taken': t('me.live.taken', time='{time}'),
        'follow': t('me.live.follow'),
        'arrive': t('me.arrive_hint'),
        'ended': t('me.live.ended'),
    }
    return texts


def me_live_document(*, hall_name: str, stand_ins: Collection[StandIn]) -> str:
    """The page's frame, the same for every citizen (their tickets and cases come over the socket)."""
    lang = get_settings().lang
    texts = escape(json.dumps(_texts(), ensure_ascii=False))
    title = escape(t('me.live.title'))
    sign_in = f'/me/login?next={PAGE_PATH}'
    return f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · {escape(hall_name)}</title>
<style>{TRACK_CSS}{ME_CSS}{ELDER_CSS}</style>
<script type="module" src="{SCRIPT_PATH}"></script>
</head><body>
<header><h1>{escape(hall_name)}</h1><span>{title}</span>{demo_banner_html(stand_ins)}</header>
<main class="wrap" data-testid="me-live" data-socket="{SOCKET_PATH}" data-texts="{texts}">
<div class="tools"><button type="button" class="elder-toggle" aria-pressed="false" data-testid="elder-toggle">
{ELDER_ICON}<span>{escape(t('elder.toggle'))}</span></button></div>
<p class="ended" data-testid="me-live-ended" role="alert" hidden>{escape(t('me.live.ended'))}
<a href="{escape(sign_in)}" data-testid="me-live-sign-in">{escape(t('me.live.sign_in'))}</a></p>
<section class="card" aria-labelledby="me-live-tickets-title">
<h2 class="section" id="me-live-tickets-title">{escape(t('me.live.tickets'))}</h2>
<div class="list" data-testid="me-live-tickets" aria-live="polite">
<p class="muted">{escape(t('me.live.loading'))}</p></div>
</section>
<section class="card" aria-labelledby="me-live-cases-title">
<h2 class="section" id="me-live-cases-title">{escape(t('me.live.cases'))}</h2>
<div class="list" data-testid="me-live-cases"></div>
</section>
<p class="offline" data-testid="me-live-offline" hidden>{escape(t('track.live.offline'))}</p>
<a class="more" data-testid="me-live-full" href="/me">{escape(t('me.live.full'))} →</a>
<a class="more" data-testid="me-live-sign-out" href="/me/logout">{escape(t('me.sign_out'))}</a>
</main></body></html>"""
