"""/track's live status as one light HTML document: drawn here, kept current by track_status.js.

Why not a NiceGUI page: a hall's waiting citizens keep this open on their phones for an hour, each a server-side
client otherwise. The document is drawn once from the ticket as it is; what moves (status, place, wait, window, and
the other hall of a ticket sent there) arrives over `/live/track/{code}` (twin/ticket_feed.py), the same text for
every page of the ticket. It shows what the code alone shows on /track today, nothing about the person; the
person's sections (texted code, case, messages, rating, consents) stay on `/track/{code}`, linked from here.
长辈模式 and the language as on every page.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from html import escape
from urllib.parse import quote

from app.settings import StandIn, get_settings
from components import journey_texts as _journey_texts  # noqa: F401 - registers the texts
from components.call_board import ELDER_ICON, demo_banner_html
from components.elder_mode import ELDER_CSS
from components.texts import register, t

register(
    {
        'track.live.person': (
            '本人验证后查看办件进度、消息和评价',
            'Verify it is you for your case, messages and rating',
        ),
        'track.live.offline': ('正在重新连接…', 'Reconnecting…'),
    }
)
SCRIPT_PATH = '/static/track_status.js'
SOCKET_PATH = '/live/track'
STATUSES = ('waiting', 'called', 'parked', 'completed', 'no_show', 'cancelled', 'transferred')

TRACK_CSS = """
*, *::before, *::after { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; background: #f5f7fa; color: #1a1a1a; font-family: "Noto Sans CJK SC", "Noto Sans SC", system-ui,
  sans-serif; font-size: 16px; line-height: 1.5; }
h1, h2, p { margin: 0; }
header { background: #1565c0; color: #fff; padding: 8px 12px; display: flex; gap: 8px; align-items: baseline;
  flex-wrap: wrap; }
header h1 { font-size: 16px; font-weight: 700; }
header span { font-size: 14px; opacity: .9; }
.wrap { max-width: 576px; margin: 0 auto; padding: 12px; display: flex; flex-direction: column; gap: 12px; }
.tools { display: flex; justify-content: flex-end; color: #1565c0; }
.card { background: #fff; border-radius: 8px; padding: 16px; box-shadow: 0 1px 3px rgba(0,0,0,.15);
  display: flex; flex-direction: column; gap: 4px; }
.head { display: flex; justify-content: space-between; align-items: baseline; gap: 8px; }
.number { font-family: ui-monospace, monospace; font-size: 36px; font-weight: 700; color: #1565c0; }
.green { background: #1b7f3b; color: #fff; border-radius: 4px; padding: 0 8px; align-self: flex-start; }
.big { font-size: 24px; font-weight: 700; }
.called { color: #8a3ffc; }
.muted { color: #4a4a4a; }
.offline { color: #8a5300; font-size: 14px; }
.qr { width: 160px; height: 160px; align-self: center; }
a.person { display: flex; align-items: center; min-height: 48px; color: #0b3d78; font-weight: 700; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.demo-banner { font-size: 12px; font-weight: 700; padding: 2px 8px; border-radius: 4px; background: #fcd34d;
  color: #000; white-space: nowrap; }
body.elder { font-size: 20px; }
body.elder .number { font-size: 48px; }
body.elder .big { font-size: 30px; }
body.elder .muted { color: #1a1a1a; }
body.elder header h1, body.elder header span { font-size: 20px; }
"""


def status_texts() -> dict[str, str]:
    """What track_status.js writes itself, in the page's language (placeholders kept for the script)."""
    texts = {f'status.{s}': t(f'track.status.{s}') for s in STATUSES}
    texts |= {
        'ahead': t('track.ahead', n='{n}'),
        'next': t('track.next'),
        'eta': t('track.eta', m='{m}'),
        'no_eta': t('track.no_eta'),
        'called': t('track.called', n='{n}'),
        'offline': t('track.live.offline'),
        'handoff': t('track.handoff', hall='{hall}', service='{service}'),
        'handoff_pending': t('track.handoff.pending'),
        'handoff_number': t('track.handoff.number', number='{number}'),
    }
    return texts


@dataclass(frozen=True)
class StatusFrame:
    """Whose status page it is: where its socket listens, where its link leads, and what else it says.

    /track's page (`for_code`) and a relative's (components/proxy_status.py) show the same ticket status from the
    same shared texts; `banner` is ready HTML above the ticket, `ended` what the page says once the server ends
    its access (empty: a page whose access never ends while open)."""

    socket: str
    link: str
    link_text: str
    banner: str = ''
    ended: str = ''
    title: str = ''  # the header's page name: /track's when empty
    next: str = ''  # what it says when the ticket is next: /track's "you are next" when empty
    after: str = ''  # ready HTML under the ticket (a relative's cases, components/proxy_cases.py)
    css: str = ''  # the styles `after` needs

    @classmethod
    def for_code(cls, code: str) -> StatusFrame:
        path = quote(code, safe='')
        return cls(f'{SOCKET_PATH}/{path}', f'/track/{path}', t('track.live.person'))


def status_path(code: str) -> str:
    """The light status page of the slip's code (the slip's and the kiosk ticket's QR lead here)."""
    return f'/track/{quote(code, safe="")}/status'


def status_document(
    *,
    frame: StatusFrame,
    number: str,
    service_name: str,
    green: bool,
    arrival_qr: str,
    hall_name: str,
    stand_ins: Collection[StandIn],
) -> str:
    """The page for one ticket; `arrival_qr` a data URI while a remote ticket's citizen is not yet in the hall."""
    lang = get_settings().lang
    title = frame.title or t('track.title')
    own = {key: text for key, text in (('ended', frame.ended), ('next', frame.next)) if text}
    texts = escape(json.dumps(status_texts() | own, ensure_ascii=False))
    green_mark = f'<span class="green" data-testid="track-green">{escape(t("track.green"))}</span>' if green else ''
    how = escape(t('track.remote_arrival'))
    arrival = (
        f'<p class="muted" data-testid="track-remote">{how}</p>'
        f'<img class="qr" data-testid="track-arrival-qr" src="{escape(arrival_qr)}" alt="{how}">'
        if arrival_qr
        else ''
    )
    return f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · {escape(hall_name)}</title>
<style>{TRACK_CSS}{frame.css}{ELDER_CSS}</style>
<script type="module" src="{SCRIPT_PATH}"></script>
</head><body>
<header><h1>{escape(hall_name)}</h1><span>{escape(title)}</span>{demo_banner_html(stand_ins)}</header>
<main class="wrap" data-testid="track-live" data-socket="{escape(frame.socket)}" data-texts="{texts}">
<div class="tools"><button type="button" class="elder-toggle" aria-pressed="false" data-testid="elder-toggle">
{ELDER_ICON}<span>{escape(t('elder.toggle'))}</span></button></div>{frame.banner}
<p class="card big" data-testid="track-ended" role="alert" hidden></p>
<section class="card" data-testid="track-ticket" aria-labelledby="track-number">
<div class="head"><h2 class="number" id="track-number" data-testid="track-number">{escape(number)}</h2>
<span data-testid="track-status" role="status" aria-live="polite"></span></div>
<p>{escape(service_name)}</p>{green_mark}
<p class="big" data-testid="track-ahead" aria-live="polite"></p>
<p class="muted" data-testid="track-eta"></p>
<p class="big called" data-testid="track-window" role="alert"></p>
<p class="big" data-testid="track-handoff" role="alert"></p>
<p class="muted" data-testid="track-handoff-pending"></p>
<p class="number" data-testid="track-handoff-number"></p>
<div data-testid="track-arrival">{arrival}</div>
<p class="offline" data-testid="track-offline" hidden></p>
</section>{frame.after}
<a class="person" data-testid="track-person-link" href="{escape(frame.link)}">{escape(frame.link_text)} →</a>
</main></body></html>"""
