"""The call board as one light HTML document: the layout is drawn here, the live part by call_board.js.

Why not a NiceGUI page: every open NiceGUI page is a server-side client (its element tree, its socket.io
connection, its outbox waking each second), and a hall's boards and a city's screens number in the
thousands. The board's document is the same for every visitor of a scope; what moves arrives over one
plain websocket per page (`/live/board`, twin/board_feed.py), the same text for every board.
Only ticket and window numbers are shown: no names, nothing personal. In 长辈模式 (`?elder=1` on the
board's URL, or its toggle: the same switch and CSS as every page, components/elder_mode.py) the current
call grows and the recent calls give way to it.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from html import escape

from app.services.call_board import BoardScope
from app.settings import StandIn, get_settings
from components.demo_banner import stand_in_words
from components.elder_mode import ELDER_CSS
from components.texts import register, t
from twin.hall import QueueTwin

register(
    {
        'board.title': ('叫号屏', 'Call board'),
        'board.now': ('正在呼叫', 'Now calling'),
        'board.recent': ('最近呼叫', 'Recent calls'),
        'board.none': ('暂无呼叫', 'No calls yet'),
        'board.window': ('{n} 号窗口', 'Window {n}'),
        'board.please': ('请到', 'please go to'),
        'board.waiting': ('等候人数', 'Waiting'),
        'board.recall': ('重呼', 'Recall'),
        'board.green': ('绿色通道', 'Green channel'),
        'board.offline': ('正在重新连接…', 'Reconnecting…'),
    }
)
SCRIPT_PATH = '/static/call_board.js'
SOCKET_PATH = '/live/board'
ELDER_ICON = (  # Material Icons "format_size", inline: the light page loads no icon font
    '<svg aria-hidden="true" viewBox="0 0 24 24" width="24" height="24" fill="currentColor">'
    '<path d="M9 4v3h5v12h3V7h5V4H9zm-6 8h3v7h3v-7h3V9H3v3z"/></svg>'
)

BOARD_CSS = """
*, *::before, *::after { box-sizing: border-box; }
html, body { margin: 0; height: 100%; }
body { background: #08172b; font-family: "Noto Sans CJK SC", "Noto Sans SC", system-ui, sans-serif; }
h1, h2, p, ul { margin: 0; padding: 0; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.board { color: #fff; font-size: 28px; display: flex; flex-direction: column; gap: 20px; min-height: 100vh;
  height: 100vh; padding: 24px; }
.board-head { display: flex; flex-wrap: wrap; align-items: baseline; justify-content: space-between; gap: 16px; }
.board-hall { font-size: 40px; font-weight: 700; }
.board-tools { display: flex; flex-wrap: wrap; align-items: center; gap: 16px; }
.board-body { display: flex; gap: 24px; flex: 1 1 auto; min-height: 0; align-items: stretch; }
.board-panel { background: #0f2744; border-radius: 18px; padding: 32px; min-width: 0; display: flex;
  flex-direction: column; }
.board-calls { flex: 3 1 0; gap: 24px; overflow: hidden; }  /* on a short screen the oldest recent calls give way */
.board-queues { flex: 2 1 0; gap: 12px; overflow: hidden; }
.board-muted { color: #9fb6d3; font-size: inherit; font-weight: inherit; }
.board-none { font-size: 48px; margin: auto; }
.board-now-box { display: flex; flex-direction: column; align-items: center; gap: 8px; padding: 16px 0;
  border-radius: 16px; }
.board-now { font-size: clamp(72px, 12vw, 180px); line-height: 1; font-weight: 800; color: #ffd600;
  font-family: ui-monospace, monospace; }
.board-please { display: flex; flex-wrap: wrap; align-items: baseline; justify-content: center; gap: 24px; }
.board-please .board-muted { font-size: 40px; }
.board-now-window { font-size: clamp(48px, 7vw, 96px); line-height: 1.1; font-weight: 700; }
.board-mark { border-radius: 4px; padding: 0 16px; font-size: 32px; }
.board-recall { background: #c0392b; }
.board-green { background: #1b7f3b; font-weight: 700; }
.board-recent-list { list-style: none; display: grid; grid-template-columns: repeat(2, minmax(0, 1fr));
  gap: 12px 40px; }
.board-recent-list li { display: flex; align-items: baseline; gap: 20px; flex-wrap: wrap; }
.board-recent-number { font-family: ui-monospace, monospace; font-weight: 700; font-size: 56px; color: #ffd600; }
.board-recent-window { font-size: 40px; }
.board-queue-list { list-style: none; display: grid; gap: 12px 32px; font-size: 36px; }
.board-queue-list.two { grid-template-columns: repeat(2, minmax(0, 1fr)); font-size: 28px; }
.board-queue-list li { display: flex; align-items: center; gap: 12px; min-width: 0; }
.board-prefix { background: #1f5fa8; border-radius: 4px; text-align: center; font-weight: 700; flex-shrink: 0;
  width: 1.6em; line-height: 1.6em; }
.board-name { flex: 1 1 auto; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.board-count { font-weight: 700; font-size: 1.3em; flex-shrink: 0; }
.board-offline { color: #ffd600; font-size: 20px; }
.demo-banner { font-size: 12px; font-weight: 700; padding: 2px 8px; border-radius: 4px; background: #fcd34d;
  color: #000; white-space: nowrap; cursor: default; opacity: .6; }
.board-flash { animation: board-flash 1s ease-in-out 3; }
@keyframes board-flash { 50% { background: #1f5fa8; } }
.voice-overlay { position: fixed; inset: 0; z-index: 6000; display: flex; align-items: center;
  justify-content: center; width: 100%; border: 0; background: rgba(0,0,0,.72); cursor: pointer; font: inherit; }
.voice-overlay[hidden] { display: none; }
.voice-overlay span { background: #ffd600; color: #000; padding: 48px 64px; border-radius: 24px; text-align: center;
  font-size: 48px; font-weight: 700; line-height: 1.4; }
.voice-overlay small { display: block; font-size: 32px; font-weight: 500; }
.voice-overlay:focus-visible span { outline: 4px solid #fff; outline-offset: 4px; }
body.elder .board { font-size: 36px; }
body.elder .board .board-muted { color: #fff; }
body.elder .board .board-now { font-size: clamp(96px, 16vw, 240px); }
body.elder .board .board-now-window { font-size: clamp(64px, 9vw, 128px); }
body.elder .board .board-recent { display: none; }
@media (max-width: 800px) {
  .board { height: auto; padding: 12px; font-size: 20px; gap: 12px; }
  .board-hall { font-size: 28px; }
  .board-body { flex-direction: column; }
  .board-panel { padding: 16px; }
  .board-none, .board-please .board-muted, .board-recent-window { font-size: 24px; }
  .board-recent-number { font-size: 32px; }
  .board-queue-list, .board-queue-list.two { grid-template-columns: 1fr; font-size: 24px; }
  .voice-overlay span { padding: 24px; font-size: 28px; }
  .voice-overlay small { font-size: 20px; }
  body.elder .board { font-size: 22px; }
}
"""


def socket_path(scope: BoardScope) -> str:
    return f'{SOCKET_PATH}/{scope.zone_code}' if scope.zone_code else SOCKET_PATH


def _texts() -> dict[str, str]:
    """What call_board.js writes itself, in the page's language."""
    keys = ('now', 'recent', 'none', 'window', 'please', 'recall', 'green', 'offline')
    return {key: t(f'board.{key}', n='{n}') if key == 'window' else t(f'board.{key}') for key in keys}


def _queue_rows(queues: Iterable[QueueTwin], scope: BoardScope) -> str:
    shown = [q for q in sorted(queues, key=lambda q: q.prefix) if scope.shows_service(q.service_id)]
    rows = ''.join(
        f'<li><span class="board-prefix" aria-hidden="true">{escape(q.prefix)}</span>'
        f'<span class="board-name">{escape(q.name)}</span>'
        f'<span class="board-count" data-testid="board-queue-{escape(q.code)}">{q.waiting}</span></li>'
        for q in shown
    )
    return f'<ul class="board-queue-list{" two" if len(shown) > 12 else ""}">{rows}</ul>'


def demo_banner_html(stand_ins: Collection[StandIn]) -> str:
    if not stand_ins:
        return ''
    words = escape(stand_in_words(stand_ins))
    return f'<span class="demo-banner" data-testid="demo-banner" title="{words}">{escape(t("demo.banner"))}</span>'


def board_document(
    scope: BoardScope, *, hall_name: str, queues: Iterable[QueueTwin], stand_ins: Collection[StandIn]
) -> str:
    """The whole page for a scope; the same for every visitor (counts as they are now, calls from the socket)."""
    lang = get_settings().lang
    title = ' · '.join(x for x in (t('board.title'), scope.title) if x)
    texts = escape(json.dumps(_texts(), ensure_ascii=False))
    return f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(t('board.title'))} · {escape(hall_name)}</title>
<style>{BOARD_CSS}{ELDER_CSS}</style>
<script type="module" src="{SCRIPT_PATH}"></script>
</head><body>
<div class="sr-only" role="status" aria-live="polite" aria-atomic="true" data-testid="board-said"></div>
<main class="board" data-testid="board" data-socket="{escape(socket_path(scope))}" data-texts="{texts}">
<header class="board-head"><h1 class="board-hall">{escape(hall_name)}</h1>
<div class="board-tools"><span class="board-muted">{escape(title)}</span>{demo_banner_html(stand_ins)}
<span class="board-offline" data-testid="board-offline" hidden></span>
<button type="button" class="elder-toggle" aria-pressed="false" data-testid="elder-toggle">{ELDER_ICON}
<span>{escape(t('elder.toggle'))}</span></button></div></header>
<div class="board-body">
<section class="board-panel board-calls" data-testid="board-calls" aria-label="{escape(t('board.now'))}"></section>
<section class="board-panel board-queues" aria-labelledby="board-waiting">
<h2 id="board-waiting" class="board-muted">{escape(t('board.waiting'))}</h2>{_queue_rows(queues, scope)}</section>
</div></main>
<button type="button" class="voice-overlay" data-testid="voice-overlay" hidden><span>点击开启语音播报
<small>tap to enable announcements</small></span></button>
</body></html>"""
