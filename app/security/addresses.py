"""Who is on the other end: the peer address, or, behind a trusted reverse proxy, the address it saw.

Why it matters: limits and lockouts count per address. Behind nginx every request comes from the
proxy, so counting the peer would lump all visitors together (one attacker locks out every clerk);
believing X-Forwarded-For from anyone would let an attacker pick a fresh address per request.
So the header is read only when the peer is a listed proxy (TRUSTED_PROXIES), and then from the
right: the first entry that is not itself a trusted proxy is the client (entries to its left were
written by the client and prove nothing).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip('[]'))
    except ValueError:
        return None


def _trusted(text: str, proxies: Sequence[Network]) -> bool:
    address = _address(text)
    return address is not None and any(address in network for network in proxies)


def client_address(peer: str, forwarded_for: str | None, proxies: Sequence[Network]) -> str:
    """The caller's address (at most 64 characters): the peer unless it is a trusted proxy."""
    if not forwarded_for or not _trusted(peer, proxies):
        return peer[:64]
    hops = [hop.strip() for hop in forwarded_for.split(',') if hop.strip()]
    for hop in reversed(hops):
        if _address(hop) is None:
            return peer[:64]  # a malformed entry: trust nothing the chain says beyond our own proxy
        if not _trusted(hop, proxies):
            return hop[:64]
    return (hops[0] if hops else peer)[:64]
