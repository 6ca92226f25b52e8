"""The cases (办件) a relative follows on their light page (亲情代办): a section drawn by proxy_cases.js, and the
whole page for a grant that covers a case without a ticket.

Why light: as for the ticket (components/proxy_status.py), a relative follows a case from home, often for days of
steps; a NiceGUI client per open page is what the public pages must not cost. The section holds nothing of the
case itself: its steps, what is current and what the citizen must still bring arrive over
`/live/proxy/{token}/cases` (twin/case_feed.py), the same text for every page of the grant's scope. A grant of a
ticket shows the section under the ticket once the window opened a case from it (hidden until then); when the
grant ends or runs out the server closes the socket with `ACCESS_ENDED` and the page says the access ended.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from html import escape
from urllib.parse import quote

from app.settings import StandIn, get_settings
from components import journey_texts as _journey_texts  # noqa: F401 - registers the texts
from components.call_board import ELDER_ICON, demo_banner_html
from components.elder_mode import ELDER_CSS
from components.proxy_status import SOCKET_PATH, StatusFrame
from components.texts import register, t
from components.track_status import TRACK_CSS

register(
    {
        'proxy.cases.title': ('办件进度', 'Case progress'),
        'proxy.cases.loading': ('正在读取…', 'Loading…'),
        'proxy.cases.none': ('还没有办件', 'No case yet'),
        'proxy.cases.current': ('当前：{step}', 'Now: {step}'),
        'proxy.cases.finished': ('已全部办完', 'Every step is done'),
        'proxy.cases.needs': ('还需本人提交的材料', 'Still to bring'),
        'proxy.cases.no_needs': ('目前不需要补充材料', 'Nothing to bring right now'),
        'proxy.cases.asked': ('退回补正：{note}', 'Returned: {note}'),
        'proxy.cases.history': ('办理经过', 'Steps so far'),
        'proxy.cases.due': ('办结期限 {date}', 'Due {date}'),
        'proxy.cases.started': ('开始 {at}', 'started {at}'),
        'proxy.cases.step_finished': ('完成 {at}', 'finished {at}'),
        'proxy.cases.step_due': ('时限 {at}', 'due {at}'),
    }
)
SCRIPT_PATH = '/static/proxy_cases.js'
STEP_STATUSES = ('pending', 'active', 'approved', 'done', 'returned', 'transferred')
CASE_STATUSES = ('open', 'returned', 'completed')

CASES_CSS = """
.cases { display: flex; flex-direction: column; gap: 16px; }
.case { display: flex; flex-direction: column; gap: 6px; }
.case + .case { border-top: 1px solid #e0e0e0; padding-top: 12px; }
.case h3 { margin: 0; font-size: 18px; }
.case ul, .case ol { margin: 0; padding-left: 20px; }
.case li { overflow-wrap: anywhere; }
.step-status { font-weight: 700; }
.step-status.active { color: #0b3d78; }
.step-status.returned { color: #b00020; }
.step-status.approved, .step-status.done { color: #1b6b34; }
.asked { color: #b00020; font-weight: 700; overflow-wrap: anywhere; }
h2.section { font-size: 20px; }
body.elder h2.section { font-size: 26px; }
body.elder .case h3 { font-size: 24px; }
"""


def cases_socket_path(token: str) -> str:
    return f'{SOCKET_PATH}/{quote(token, safe="")}/cases'


def _texts() -> dict[str, str]:
    """What proxy_cases.js writes itself, in the page's language (placeholders kept for the script)."""
    texts = {f'step.{s}': t(f'timeline.status.{s}') for s in STEP_STATUSES}
    texts |= {f'case.{s}': t(f'timeline.case.{s}') for s in CASE_STATUSES}
    keys = ('none', 'finished', 'needs', 'no_needs', 'history')
    texts |= {key: t(f'proxy.cases.{key}') for key in keys}
    texts |= {
        'current': t('proxy.cases.current', step='{step}'),
        'asked': t('proxy.cases.asked', note='{note}'),
        'due': t('proxy.cases.due', date='{date}'),
        'started': t('proxy.cases.started', at='{at}'),
        'step_finished': t('proxy.cases.step_finished', at='{at}'),
        'step_due': t('proxy.cases.step_due', at='{at}'),
        'offline': t('track.live.offline'),
        'ended': t('proxy.ended'),
    }
    return texts


def cases_section(token: str, *, hidden_until_cases: bool) -> str:
    """The grant's cases, filled by proxy_cases.js; under a ticket it stays hidden until a case is opened from it."""
    texts = escape(json.dumps(_texts(), ensure_ascii=False))
    loading = '' if hidden_until_cases else f'<p class="muted">{escape(t("proxy.cases.loading"))}</p>'
    return f"""<section class="card" data-testid="proxy-cases" aria-labelledby="proxy-cases-title"
 data-socket="{escape(cases_socket_path(token))}" data-texts="{texts}"{' hidden' if hidden_until_cases else ''}>
<h2 class="section" id="proxy-cases-title">{escape(t('proxy.cases.title'))}</h2>
<div class="cases" data-testid="proxy-cases-list" aria-live="polite">{loading}</div>
<p class="offline" data-testid="proxy-cases-offline" hidden></p>
</section>
<script type="module" src="{SCRIPT_PATH}"></script>"""


def cases_document(*, frame: StatusFrame, token: str, hall_name: str, stand_ins: Collection[StandIn]) -> str:
    """The light page of a grant that covers a case without a ticket: the grant's banner, the case, the full page."""
    lang = get_settings().lang
    title = frame.title
    return f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · {escape(hall_name)}</title>
<style>{TRACK_CSS}{CASES_CSS}{ELDER_CSS}</style>
</head><body>
<header><h1>{escape(hall_name)}</h1><span>{escape(title)}</span>{demo_banner_html(stand_ins)}</header>
<main class="wrap" data-testid="proxy-case-page">
<div class="tools"><button type="button" class="elder-toggle" aria-pressed="false" data-testid="elder-toggle">
{ELDER_ICON}<span>{escape(t('elder.toggle'))}</span></button></div>{frame.banner}
<p class="card big" data-testid="track-ended" role="alert" hidden></p>
{cases_section(token, hidden_until_cases=False)}
<a class="person" data-testid="track-person-link" href="{escape(frame.link)}">{escape(frame.link_text)} →</a>
</main></body></html>"""
