"""One name per element for both test tools: NiceGUI's `user` markers and Playwright's data-testid."""

from __future__ import annotations

from typing import TypeVar

from nicegui import ui

E = TypeVar('E', bound=ui.element)


def tid(element: E, name: str) -> E:
    return element.mark(name).props(f'data-testid={name}')
