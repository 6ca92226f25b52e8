"""Who is on the other end: the peer address, or, behind a trusted reverse proxy, the address it saw.

Why it matters: limits and lockouts count per address. Behind nginx every request comes from the
proxy, so counting the peer would lump all visitors together (one attacker locks out every clerk);
believing X-Forwarded-For from anyone would let an attacker pick a fresh address per request.
So the header is read only when the peer is a listed proxy (TRUSTED_PROXIES), and then from the
right: the first entry that is not itself a trusted proxy is the client (entries to its left were
written by the client and prove nothing).

The audit keeps no address as given (`stored_address`): only its network and a keyed digest.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Sequence
from functools import lru_cache

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


STORED_NETWORK = {4: (ipaddress.IPv4Network, 24), 6: (ipaddress.IPv6Network, 48)}  # what abuse spotting needs
DIGEST_CHARS = 16  # 64 bits of the keyed digest: equal addresses match, different ones practically never
_ADDRESS_KEY_LABEL = b'halltwin audit client address v1'


@lru_cache(maxsize=8)  # one audit key per process: its derived key is not worked out again for every audit row
def address_key(audit_key: bytes) -> bytes:
    """The key of stored address digests, derived from the audit key (settings.key(Purpose.AUDIT)): nobody
    without SECRET_KEY can test a guessed address against a stored row, and the audit key itself is never
    used for anything but the chain."""
    return hmac.new(audit_key, _ADDRESS_KEY_LABEL, hashlib.sha256).digest()


@lru_cache(maxsize=4096)  # every audited request of a kiosk or a desk stores the same few addresses (~7 us each)
def stored_address(address: str, key: bytes) -> str:
    """What the audit keeps of a client address, never the address itself: its network (IPv4 /24, IPv6 /48)
    and a keyed digest of the whole address, e.g. '203.0.113.0/24#1f0c…'. Equal addresses store equal (an
    IPv6 written two ways, an IPv4-mapped IPv6 and its IPv4 are one address), so "same client" can still be
    compared; a value that is no address (a test client's name, garbage) keeps only its digest ('?#…')."""
    text = address.strip()
    if not text:
        return ''
    parsed = _address(text)
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    canonical = str(parsed) if parsed is not None else text
    digest = hmac.new(key, canonical.encode('utf-8'), hashlib.sha256).hexdigest()[:DIGEST_CHARS]
    if parsed is None:
        return f'?#{digest}'
    kind, prefix = STORED_NETWORK[parsed.version]
    network = kind((int(parsed), prefix), strict=False)  # from the number: an IPv6 zone (%eth0) never leaks
    return f'{network}#{digest}'
