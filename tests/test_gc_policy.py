"""The page collector: a full collection after every batch of departed pages, never more often than allowed."""

from __future__ import annotations

from app.gc_policy import PageCollector


def test_collects_after_a_batch_of_pages_and_not_too_often() -> None:
    now = [0.0]
    collections: list[float] = []
    collector = PageCollector(
        after=3, min_interval=5.0, clock=lambda: now[0], collect=lambda: collections.append(now[0])
    )
    now[0] = 5.0  # (the collector counts from its creation)
    assert [collector.page_left() for _ in range(3)] == [False, False, True]
    assert collections == [5.0] and collector.pending == 0
    now[0] = 6.0
    assert [collector.page_left() for _ in range(4)] == [False, False, False, False]  # too soon: it waits
    now[0] = 10.0
    assert collector.page_left() is True and collections == [5.0, 10.0] and collector.collections == 2


def test_a_full_collection_at_least_every_so_often() -> None:
    now = [0.0]
    collections: list[float] = []
    collector = PageCollector(full_every=600, clock=lambda: now[0], collect=lambda: collections.append(now[0]))
    now[0] = 599.0
    assert collector.tick() is False
    now[0] = 600.0
    assert collector.tick() is True and collections == [600.0]
    now[0] = 700.0
    assert collector.tick() is False
