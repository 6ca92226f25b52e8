"""长辈模式 (large text) in ONE place: the toggle every citizen page shows, the CSS it switches, read-aloud.

The mode is the class `elder` on <body>, set in the browser by elder_mode.js: remembered per browser
(localStorage; a kiosk screen is one browser), settable by a link (`?elder=1` / `?elder=0`), and forced by a
kiosk for a citizen aged 65+. No server state and no round trip per page: the public pages stay cheap.

The CSS follows the 工信部 适老化 rules: body text at least 18 px (the kiosk 24 px, see elder_frame.py),
line height at least 1.3, touch targets at least 48 px, text contrast 7:1 or better. A page puts its
content in an `elder-scope` element; the call board and the rating pad have their own large rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from nicegui import ui

from components.testids import tid
from components.texts import register, t

register(
    {
        'elder.toggle': ('长辈模式', 'Large text'),
        'elder.read': ('朗读', 'Read aloud'),
        'elder.repeat': ('再听一遍', 'Say it again'),
    }
)

DARK_TEXT = '#1a1a1a'  # 16:1 on white
DARK_BLUE = '#0b3d78'  # 11:1 on white; white on it the same

ELDER_CSS = f"""
.elder-toggle, .voice-button {{
  display: inline-flex; align-items: center; gap: 6px; min-height: 48px; min-width: 48px; padding: 0 14px;
  border: 2px solid currentColor; border-radius: 24px; background: transparent; color: inherit;
  font: inherit; font-size: 16px; line-height: 1.3; cursor: pointer; white-space: nowrap;
}}
.elder-toggle[aria-pressed="true"] {{ background: #ffd600; color: #000; border-color: #ffd600; }}
.elder-toggle:focus-visible, .voice-button:focus-visible {{ outline: 3px solid #ffd600; outline-offset: 2px; }}
.elder-read {{ display: none; }}
body.elder .elder-read {{ display: inline-flex; }}
body.elder :is(.elder-toggle, .voice-button) {{ font-size: 18px; }}
body.elder .elder-scope {{ font-size: 20px; line-height: 1.5; }}
body.elder .elder-scope :is(.text-xs, .text-sm, .text-caption, .text-body2) {{ font-size: 18px; line-height: 1.4; }}
body.elder .elder-scope :is(.text-base, .text-body1) {{ font-size: 20px; line-height: 1.5; }}
body.elder .elder-scope .text-lg {{ font-size: 22px; line-height: 1.4; }}
body.elder .elder-scope .text-xl {{ font-size: 26px; line-height: 1.35; }}
body.elder .elder-scope .text-2xl {{ font-size: 30px; line-height: 1.3; }}
body.elder .elder-scope [class*="text-["] {{ font-size: 18px; line-height: 1.4; }}
body.elder .elder-scope :is(.leading-tight, .leading-none, .leading-6) {{ line-height: 1.35; }}
body.elder .elder-scope :is(.q-btn, .q-field__native, .q-field__label, .q-radio__label, .q-checkbox__label,
  .q-toggle__label, .q-item, .q-tab__label, .q-badge, .q-chip) {{ font-size: 18px; line-height: 1.4; }}
body.elder .elder-scope :is(.q-btn, .q-radio, .q-checkbox, .q-toggle, .q-field__control, .q-item, .q-tab) {{
  min-height: 48px; min-width: 48px;
}}
body.elder .elder-scope a {{ display: inline-flex; align-items: center; min-height: 48px; }}
body.elder .elder-scope .overflow-x-elder {{ overflow-x: auto; }}
body.elder .elder-scope .elder-wide {{ min-width: 720px; }}
/* Quasar's colour classes are !important inside a cascade layer; only an earlier layer's !important beats them */
@layer overrides {{
  body.elder .elder-scope :is(.text-grey-5, .text-grey-6, .text-grey-7, .text-grey-8, .text-gray-500,
    .opacity-80) {{ color: {DARK_TEXT} !important; opacity: 1; }}
  body.elder :is(.elder-scope .text-primary, .elder-scope.text-primary) {{ color: {DARK_BLUE} !important; }}
  body.elder .elder-scope .text-negative {{ color: #8a0000 !important; }}
  body.elder .elder-scope .text-positive {{ color: #14501a !important; }}
  body.elder .elder-scope .text-warning {{ color: #6b4100 !important; }}
  body.elder .bg-primary {{ background: {DARK_BLUE} !important; }}
  body.elder header.elder-scope, body.elder header.elder-scope .opacity-80 {{ color: #fff !important; }}
}}
"""


ELDER_PARAM = 'elder'  # `?elder=1` / `?elder=0`: read in the browser, never an answer or a filter


def without_elder(params: Mapping[str, str]) -> dict[str, str]:
    """A page's query without the mode switch (the guide takes the rest as answers)."""
    return {key: value for key, value in params.items() if key != ELDER_PARAM}


class ElderToggle(ui.element, component='elder_mode.js'):
    """The 长辈模式 button (aria-pressed says whether it is on); `on_change` hears the mode as it now is."""

    def __init__(self, on_change: Callable[[bool], Any] | None = None) -> None:
        super().__init__()
        self._props['label'] = t('elder.toggle')
        if on_change is not None:
            self.on('change', lambda e: on_change(bool(e.args)))

    def force(self, elder: bool | None) -> None:
        """Switch the mode for the person at the screen now (None: back to what this browser chose)."""
        self.run_method('force', elder)


class Voice(ui.element, component='voice.js'):
    """Speaks in the browser: `say` replaces what is being said; the button repeats it, or reads `read_root`."""

    def __init__(self, *, label: str, read_root: str = '') -> None:
        super().__init__()
        self._props['label'] = label
        self._props['lang'] = 'zh-CN'
        self._props['readRoot'] = read_root
        self.said: list[list[str]] = []

    def say(self, texts: list[str]) -> None:
        self.said.append(texts)
        self.run_method('say', texts)


def elder_css() -> None:
    """The mode's CSS, once per page."""
    ui.add_css(ELDER_CSS)


def elder_toggle(on_change: Callable[[bool], Any] | None = None) -> ElderToggle:
    elder_css()
    return tid(ElderToggle(on_change), 'elder-toggle')


def read_aloud(root: str) -> Voice:
    """朗读: shown in elder mode only; reads the page part matching the CSS selector `root`."""
    return tid(Voice(label=t('elder.read'), read_root=root), 'elder-read').classes('elder-read')
