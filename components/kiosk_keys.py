"""The kiosk by keyboard or number pad alone, and what a screen reader is told as the steps change.

One listener per kiosk page (kiosk_keys.js): a digit moves the focus to the choice showing that number
(two digits in a row for 10 and up), Enter confirms the focused choice, or the step's main action when
nothing is focused, and Escape (or Backspace) goes one step back, else to the start. The views mark
their elements with the helpers here; the rules of the flow stay in app/services.
"""

from __future__ import annotations

from typing import TypeVar

from nicegui import ui

E = TypeVar('E', bound=ui.element)

KEYS_CSS = """
/* Quasar's buttons carry .no-outline (an !important in its last layer): only an earlier layer's !important wins */
@layer overrides {
  .kiosk-root :focus-visible { outline: 4px solid #0b57d0 !important; outline-offset: 4px; }
  .kiosk-root.elder :focus-visible { outline: 5px solid #ffd600 !important; outline-offset: 5px; }
  .kiosk-root [data-kiosk-heading]:focus { outline: none !important; }
}
.kiosk-root .kiosk-key { display: inline-block; min-width: 1.5em; padding: 0 0.3em; border: 2px solid currentColor;
  border-radius: 0.3em; font-weight: 700; font-family: ui-monospace, Menlo, monospace; text-align: center;
  line-height: 1.3; }
"""


class KioskKeys(ui.element, component='kiosk_keys.js'):
    """The page's one key listener; it also puts the focus back after a step is redrawn."""

    def __init__(self) -> None:
        super().__init__()
        ui.add_css(KEYS_CSS)


def heading(element: E) -> E:
    """The step's title: announced as a heading, and where the focus goes when a new step is drawn."""
    return element.props('role=heading aria-level=1 tabindex=-1 data-kiosk-heading')


def numbered(element: E, number: int) -> E:
    """A choice picked with the digit(s) of `number` (said by screen readers through aria-keyshortcuts); draw its
    `key_cap` inside it."""
    return element.props(f'data-kiosk-key={number} aria-keyshortcuts={number}')


def key_cap(number: int) -> ui.label:
    """The number to press, drawn like a key (screen readers hear it from the choice's aria-keyshortcuts)."""
    return ui.label(str(number)).classes('kiosk-key shrink-0').props('aria-hidden=true')


def tappable(element: E, name: str) -> E:
    """A tile that acts when tapped: reachable with Tab and named, so Enter or Space acts on it too."""
    element.props('role=button tabindex=0')
    element.props['aria-label'] = name
    return element


def confirms(element: E) -> E:
    """The step's main action: Enter when no control has the focus."""
    return element.props('data-kiosk-enter')


def goes_back(element: E) -> E:
    """The step's way back: Escape or Backspace."""
    return element.props('data-kiosk-back')


def goes_home(element: E) -> E:
    """Back to the start: Escape or Backspace on a step without its own way back."""
    return element.props('data-kiosk-home')
