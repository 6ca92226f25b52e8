"""The client's address: X-Forwarded-For is believed from a trusted proxy only, and read from the right."""

from __future__ import annotations

import ipaddress

import pytest

from app.security.addresses import client_address
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
