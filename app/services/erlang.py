"""Erlang C (M/M/c): the expected wait of a queue with c servers, for whole and fractional c.

Windows share their time among several services, so a service often has 2.4 windows' worth of
capacity, not 2 or 3. The Erlang B formula has a standard continuous extension in c,

    1 / B(x, a) = integral_0^inf exp(-u) (1 + u / a)^x du,

computed here for the fractional part with Gauss-Laguerre quadrature and carried up by the usual
recursion B(x + 1) = a B(x) / (x + 1 + a B(x)); for whole c it gives the textbook values exactly.
Below one server the extension behaves oddly, so there a fraction of a window is one slower window
(M/M/1 with service rate c / mean), which meets the formula at c = 1.
"""

from __future__ import annotations

import math
from functools import cache

from numpy.polynomial.laguerre import laggauss

_NODES, _WEIGHTS = (list(map(float, values)) for values in laggauss(48))


def erlang_b(servers: float, load: float) -> float:
    """Blocking probability of `servers` servers offered `load` erlangs (arrival rate x mean service time)."""
    if load <= 0:
        return 0.0
    whole = math.floor(servers)
    fraction = servers - whole
    b = (
        1.0
        if fraction == 0
        else 1.0 / sum(w * (1 + u / load) ** fraction for u, w in zip(_NODES, _WEIGHTS, strict=True))
    )
    for k in range(whole):
        x = fraction + k + 1
        b = load * b / (x + load * b)
    return b


def erlang_c(servers: float, load: float) -> float:
    """Probability that an arrival has to wait; 1 when the queue is unstable (load >= servers)."""
    if load <= 0:
        return 0.0
    if servers <= load:
        return 1.0
    if servers < 1:
        return load / servers
    b = erlang_b(servers, load)
    return servers * b / (servers - load * (1 - b))


def expected_wait(servers: float, arrivals_per_minute: float, handling_minutes: float) -> float:
    """Mean minutes in the queue (before a window calls) in steady state; inf when it cannot keep up."""
    load = arrivals_per_minute * handling_minutes
    if load <= 0:
        return 0.0
    if servers <= load:
        return math.inf
    return erlang_c(servers, load) * handling_minutes / (servers - load)


@cache
def servers_needed(arrivals_per_hour: float, handling_minutes: float, target_wait_minutes: float) -> int:
    """The fewest whole windows that keep the expected wait at or under the target."""
    servers = max(1, math.ceil(arrivals_per_hour * handling_minutes / 60))
    while expected_wait(servers, arrivals_per_hour / 60, handling_minutes) > target_wait_minutes:
        servers += 1
    return servers
