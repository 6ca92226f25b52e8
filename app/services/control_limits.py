"""Control limits for the monthly report: is this month's figure outside what the prior months make usual?

Two charts, chosen by what the figure is:
- a rate (satisfied / ratings, online / tickets, ...) is a count of yes-or-no outcomes, so a p-chart: the centre
  is the prior months' pooled rate p̄, the limits p̄ ± 3·sqrt(p̄(1 − p̄)/n) with this month's n. The width
  follows this month's sample size, so a window with 12 ratings is not flagged for what is only chance.
- a mean time (waiting, serving, case time, MTTR) is a month's average, not a count, so an individuals chart on
  the monthly values: prior months' mean ± 3 standard deviations of those monthly values.
Both need MIN_PRIOR prior months with data: with fewer, there is no "usual" to leave, and nothing is flagged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import fmean, stdev

SIGMAS = 3.0
MIN_PRIOR = 3  # months with data before a limit means anything
HISTORY_MONTHS = 12  # prior months read for the limits


@dataclass(frozen=True)
class Limits:
    centre: float
    low: float
    high: float

    def outside(self, value: float) -> bool:
        return value < self.low or value > self.high


def p_chart(prior: Sequence[tuple[int, int]], n: int) -> Limits | None:
    """Limits for a rate with `n` trials this month, from prior months' (successes, trials)."""
    months = [(k, total) for k, total in prior if total > 0]
    if len(months) < MIN_PRIOR or n <= 0:
        return None
    p = sum(k for k, _ in months) / sum(total for _, total in months)
    spread = SIGMAS * math.sqrt(p * (1 - p) / n)
    return Limits(p, max(0.0, p - spread), min(1.0, p + spread))


def individuals_chart(prior: Sequence[float]) -> Limits | None:
    """Limits for a monthly mean from prior months' means."""
    if len(prior) < MIN_PRIOR:
        return None
    centre, spread = fmean(prior), SIGMAS * stdev(prior)
    return Limits(centre, max(0.0, centre - spread), centre + spread)
