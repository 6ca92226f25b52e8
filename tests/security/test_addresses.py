"""The client's address: X-Forwarded-For is believed from a trusted proxy only, and read from the right."""

from __future__ import annotations

import ipaddress

import pytest

from app.security.addresses import DIGEST_CHARS, address_key, client_address, stored_address
from app.settings import Settings

PROXY = (ipaddress.ip_network('10.0.0.5/32'), ipaddress.ip_network('192.168.9.0/24'))


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert client_address('203.0.113.7', '1.2.3.4', ()) == '203.0.113.7'
    assert client_address('10.0.0.5', '1.2.3.4', ()) == '10.0.0.5'


def test_from_a_trusted_proxy_the_last_untrusted_hop_is_the_client() -> None:
    assert client_address('10.0.0.5', '198.51.100.2', PROXY) == '198.51.100.2'
    # whatever the client wrote itself stands left of what the proxy added: it proves nothing
    assert client_address('10.0.0.5', '1.1.1.1, 198.51.100.2', PROXY) == '198.51.100.2'
    # a chain of our own proxies is walked back to the first outsider
    assert client_address('10.0.0.5', '198.51.100.2, 192.168.9.7', PROXY) == '198.51.100.2'
    assert client_address('10.0.0.5', '2001:db8::1', PROXY) == '2001:db8::1'


def test_a_header_from_an_untrusted_peer_or_a_garbled_one_changes_nothing() -> None:
    assert client_address('203.0.113.7', '198.51.100.2', PROXY) == '203.0.113.7'
    assert client_address('10.0.0.5', 'not-an-address', PROXY) == '10.0.0.5'
    assert client_address('10.0.0.5', '198.51.100.2, <script>', PROXY) == '10.0.0.5'
    assert client_address('10.0.0.5', '', PROXY) == '10.0.0.5'
    assert client_address('10.0.0.5', '192.168.9.7', PROXY) == '192.168.9.7'  # only proxies: the first one


def test_trusted_proxies_are_read_from_the_setting_and_a_bad_one_is_named() -> None:
    settings = Settings(TRUSTED_PROXIES='127.0.0.1, 10.0.0.0/24')
    assert [str(network) for network in settings.trusted_proxies] == ['127.0.0.1/32', '10.0.0.0/24']
    assert Settings().trusted_proxies == ()
    with pytest.raises(ValueError, match='nginx'):
        Settings(TRUSTED_PROXIES='nginx')


KEY = address_key(b'k' * 32)


def test_an_ipv4_address_is_stored_as_its_slash_24_and_a_keyed_digest() -> None:
    stored = stored_address('203.0.113.7', KEY)
    network, digest = stored.split('#')
    assert network == '203.0.113.0/24' and len(digest) == DIGEST_CHARS and '203.0.113.7' not in stored
    assert stored_address(' 203.0.113.7 ', KEY) == stored  # same address, same stored value
    assert stored_address('::ffff:203.0.113.7', KEY) == stored  # the IPv4-mapped form is the same client
    assert stored_address('203.0.113.8', KEY).split('#')[0] == network  # a neighbour shares the network only
    assert stored_address('203.0.113.8', KEY) != stored


def test_an_ipv6_address_is_stored_as_its_slash_48_however_it_is_written() -> None:
    stored = stored_address('2001:db8:1:2::7', KEY)
    assert stored.startswith('2001:db8:1::/48#') and '2::7' not in stored
    assert stored_address('2001:DB8:1:2:0:0:0:7', KEY) == stored
    assert stored_address('[2001:db8:1:2::7]', KEY) == stored
    zoned = stored_address('fe80::1%eth0', KEY)
    assert zoned.startswith('fe80::/48#') and 'eth0' not in zoned


def test_garbage_keeps_only_a_digest_and_an_empty_address_stays_empty() -> None:
    for garbage in ('testclient', '<script>alert(1)</script>', '999.1.2.3', '10.0.0.1, 10.0.0.2', 'x' * 64):
        stored = stored_address(garbage, KEY)
        assert stored.startswith('?#') and len(stored) == 2 + DIGEST_CHARS and garbage not in stored
    assert stored_address('testclient', KEY) == stored_address('testclient', KEY)
    assert stored_address('', KEY) == '' and stored_address('   ', KEY) == ''


def test_without_the_key_a_guess_cannot_be_checked_against_a_stored_address() -> None:
    other = address_key(b'o' * 32)
    assert stored_address('203.0.113.7', KEY) != stored_address('203.0.113.7', other)
    assert address_key(b'k' * 32) != b'k' * 32  # the audit key itself never hashes addresses


def test_the_client_behind_a_trusted_proxy_is_what_gets_masked() -> None:
    seen = client_address('10.0.0.5', '1.1.1.1, 198.51.100.2', PROXY)
    assert stored_address(seen, KEY) == stored_address('198.51.100.2', KEY)
    assert stored_address(seen, KEY).startswith('198.51.100.0/24#')
    spoofed = client_address('203.0.113.7', '198.51.100.2', PROXY)  # an untrusted peer's header is ignored
    assert stored_address(spoofed, KEY) == stored_address('203.0.113.7', KEY)
