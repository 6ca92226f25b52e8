"""The wait estimator's arithmetic."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.services import eta


def test_no_data_falls_back_to_the_configured_mean() -> None:
    stats = eta.handling_stats([], prior_mean=12)
    assert stats.mean == 12 and stats.samples == 0


def test_recent_times_pull_the_mean_towards_them() -> None:
    stats = eta.handling_stats([20.0] * 20, prior_mean=10)
    assert 17 < stats.mean < 20


def test_idle_windows_mean_no_wait() -> None:
    stats = eta.handling_stats([], prior_mean=10)
    estimate = eta.estimate_wait(ahead=1, capacity=3, idle_windows=2, stats=stats)
    assert estimate is not None and estimate.minutes == 0


def test_no_capacity_means_no_estimate() -> None:
    assert eta.estimate_wait(ahead=3, capacity=0, idle_windows=0, stats=eta.handling_stats([], prior_mean=5)) is None


def test_capacity_is_shared_by_demand_and_tier() -> None:
    windows = [eta.WindowLoad({1: 1}, busy=True), eta.WindowLoad({1: 1, 2: 2}, busy=True)]
    only_one = eta.service_capacity(1, windows, {1: 5, 2: 0})
    assert 1.8 < only_one < 2
    assert eta.service_capacity(2, windows, {1: 5, 2: 0}) < 0.1


@given(ahead=st.integers(0, 200), capacity=st.floats(0.1, 30), mean=st.floats(1, 60))
def test_range_brackets_the_estimate_and_grows_with_position(ahead: int, capacity: float, mean: float) -> None:
    stats = eta.handling_stats([], prior_mean=mean)
    estimate = eta.estimate_wait(ahead=ahead, capacity=capacity, idle_windows=0, stats=stats)
    later = eta.estimate_wait(ahead=ahead + 1, capacity=capacity, idle_windows=0, stats=stats)
    assert estimate is not None and later is not None
    assert 0 <= estimate.low <= estimate.minutes <= estimate.high
    assert later.minutes > estimate.minutes
