"""The wait estimator's arithmetic."""

from __future__ import annotations

import math

import pytest
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


# ---- the look-ahead -----------------------------------------------------------------------------

A, B = 1, 2
MEANS = {A: 10.0, B: 10.0}


def test_look_ahead_follows_tiers_busy_windows_and_adds_a_probe_last() -> None:
    desks = [eta.Desk({A: 1, B: 2}, free_in=3.0), eta.Desk({B: 1}, free_in=6.0)]
    queues = {A: [eta.Queued(1, 2, 5.0)], B: [eta.Queued(2, 2, 8.0), eta.Queued(3, 2, 1.0)]}
    calls = eta.look_ahead(desks, queues, MEANS, cap=20)
    assert [c.minutes for c in calls[A]] == [3.0, 13.0]  # A's ticket first at its main window; then a newcomer
    assert [c.minutes for c in calls[B]] == [6.0, 13.0, 16.0]  # the older B at window 2, the next when one frees


def test_look_ahead_calls_a_ticket_past_the_fairness_cap_first() -> None:
    desks = [eta.Desk({A: 1, B: 2}, free_in=2.0)]
    queues = {A: [eta.Queued(1, 2, 1.0)], B: [eta.Queued(2, 2, 25.0)]}
    calls = eta.look_ahead(desks, queues, MEANS, cap=20)
    assert calls[B][0].minutes == 2.0 and calls[A][0].minutes == 12.0


def test_arrivals_for_a_preferred_service_delay_a_fallback_one() -> None:
    desks = [eta.Desk({A: 1, B: 2})]
    queues = {B: [eta.Queued(1, 2, 0.0)]}
    quiet = eta.look_ahead(desks, queues, MEANS, cap=60)
    busy = eta.look_ahead(desks, queues, MEANS, cap=60, arrivals={A: 1 / 5})
    assert quiet[B][0].minutes == 0 and busy[B][0].minutes == 0  # the window is free now
    assert busy[B][1].minutes > quiet[B][1].minutes  # the next B waits behind A's arrivals


def test_a_stream_of_newcomers_behind_a_long_queue_does_not_use_up_the_step_budget() -> None:
    desks = [eta.Desk({A: 1})]
    queues = {A: [eta.Queued(n, 2, 30.0 - n / 10) for n in range(40)]}
    calls = eta.look_ahead(desks, queues, MEANS, cap=600, arrivals={A: 10.0}, max_steps=100)
    assert [c.minutes for c in calls[A]] == [10.0 * n for n in range(19)]  # one call every 10 minutes to the horizon


def test_residual_time_uses_the_cases_that_lasted_longer() -> None:
    assert eta.residual_minutes([4, 6, 12, 14, 16], 10, 10) == 4.0
    assert eta.residual_minutes([], 4, 10) == 6.0
    assert eta.residual_minutes([], 30, 10) == 2.5


def test_call_estimates_bracket_the_call_time() -> None:
    stats = eta.handling_stats([], prior_mean=10)
    now = eta.call_estimate(eta.ProjectedCall(0.0, 1), stats=stats, windows=3)
    assert now.minutes == 0 and now.high >= 1
    later = eta.call_estimate(eta.ProjectedCall(30.0, 9), stats=stats, windows=3)
    stretched = eta.call_estimate(eta.ProjectedCall(30.0, 9), stats=stats, windows=3, jumps=0.2)
    assert later.low < 30 < later.high and stretched.minutes == 37.5


# ---- the range is pinned, and it is an 80% range -----------------------------------------------------


def _gamma_cdf(x: float, *, mean: float, sd: float) -> float:
    """P(X <= x) for the gamma variable with this mean and sd (series of the regularized incomplete gamma)."""
    shape, scale = (mean / sd) ** 2, sd * sd / mean
    z = x / scale
    term = total = 1 / shape
    n = 0
    while term > 1e-15 * total:
        n += 1
        term *= z / (shape + n)
        total += term
    return math.exp(shape * math.log(z) - z - math.lgamma(shape)) * total


def test_the_wait_range_is_pinned_for_fixed_inputs_and_covers_80_percent() -> None:
    """4 ahead, 2 windows, 10-minute cases (sd 6, the prior): 25 minutes, 16.9 to 33.9 (the 10th and 90th
    percentiles of the gamma whose mean is 25 and sd is sqrt(5) * 6 / 2)."""
    stats = eta.handling_stats([], prior_mean=10)
    estimate = eta.estimate_wait(ahead=4, capacity=2, idle_windows=0, stats=stats)
    assert estimate is not None
    assert (estimate.minutes, estimate.low, estimate.high) == pytest.approx((25.0, 16.885, 33.880), abs=0.001)
    sd = math.sqrt(5) * 6 / 2
    assert _gamma_cdf(estimate.low, mean=25, sd=sd) == pytest.approx(0.10, abs=0.005)
    assert _gamma_cdf(estimate.high, mean=25, sd=sd) == pytest.approx(0.90, abs=0.005)


def test_the_call_estimate_range_is_pinned_for_fixed_inputs() -> None:
    stats = eta.handling_stats([], prior_mean=10)
    later = eta.call_estimate(eta.ProjectedCall(30.0, 9), stats=stats, windows=3)
    assert (later.minutes, later.low, later.high) == pytest.approx((30.0, 21.510, 39.176), abs=0.001)
    variance = eta.GAP_WEIGHT * (0.36 / 3 + 2 / 3) * 30.0**2 / 9 + (eta.CASE_SHARE * 10) ** 2
    assert _gamma_cdf(later.high, mean=30, sd=math.sqrt(variance)) - _gamma_cdf(
        later.low, mean=30, sd=math.sqrt(variance)
    ) == pytest.approx(0.80, abs=0.01)
