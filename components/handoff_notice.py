"""A sender's notice for 跨区通办: the ticket they sent while the other hall was not issuing has its number now.

The signal is `HandoffApplied` from this hall's inbox (app/handoff_inbox.py), relayed once per process by the journey
feed; a page subscribes inside itself, so the subscription ends with it. Only the sender's own pages (desk,
dashboard) show it, and only when their answer said "pending": an answer that had the number needs no second word.
"""

from __future__ import annotations

from nicegui import ui

from app.events import Event, HandoffApplied
from components import window_texts as _texts  # noqa: F401 - registers the desk's texts
from components.texts import t
from twin.journey_feed import JourneyFeed


def follow_sent_handoffs(feed: JourneyFeed, sender: str) -> None:
    """On this page, notify `sender` (a staff name) when a handoff they were told was pending is applied."""

    def heard(event: Event) -> None:
        if isinstance(event, HandoffApplied) and event.late and event.actor == sender:
            words = t('desk.ticket_hall.applied', number=event.from_number, hall=event.to_hall, new=event.new_number)
            ui.notify(words, type='info', multi_line=True, timeout=0, close_button=t('desk.ok'))

    feed.journey.subscribe(heard)
