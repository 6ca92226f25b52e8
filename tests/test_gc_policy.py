"""The page collector: a full collection after every batch of departed pages, never more often than allowed."""

from __future__ import annotations

from app.gc_policy import PageCollector


def test_collects_after_a_batch_of_pages_and_not_too_often() -> None:
    now = [0.0]
    collections: list[float] = []
    collector = PageCollector(
        after=3, min_interval=5.0, clock=lambda: now[0], collect=lambda: collections.append(now[0])
    )
    assert [collector.page_left() for _ in range(3)] == [False, False, True]
    assert collections == [0.0] and collector.pending == 0
    now[0] = 1.0
    assert [collector.page_left() for _ in range(4)] == [False, False, False, False]  # too soon: it waits
    now[0] = 6.0
    assert collector.page_left() is True and collections == [0.0, 6.0] and collector.collections == 2
