"""The public sockets' one door (pages/public_socket.py), with a stand-in socket: a refusal before the socket opens is
the upgrade's HTTP answer, an error once it is open is raised as it was, and every way out gives the place back.
Over real sockets, per route: tests/security/test_track_socket.py, test_proxy_socket.py, test_me_live_socket.py."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import cast

import pytest
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketState

from app.services.errors import DomainError, Forbidden
from pages.parts import Parts, Started
from pages.public_socket import PublicSocketDoor, Refused


class Upgrade:
    """A websocket upgrade request as the door sees it: its headers, its peer, and what it was answered."""

    def __init__(self, origin: str | None = None, peer: str = '10.9.0.1') -> None:
        self.headers = {'origin': origin} if origin is not None else {}
        self.client = SimpleNamespace(host=peer)
        self.application_state = WebSocketState.CONNECTING
        self.denied: Response | None = None

    async def send_denial_response(self, response: Response) -> None:
        assert self.application_state == WebSocketState.CONNECTING
        self.application_state = WebSocketState.RESPONSE
        self.denied = response

    async def accept(self) -> None:
        self.application_state = WebSocketState.CONNECTED


class Ready:
    """The composition root's parts, already started; only the settings' language is read here."""

    async def ready(self) -> Parts:
        return cast(Parts, SimpleNamespace(runtime=SimpleNamespace(settings=SimpleNamespace(lang='zh-CN'))))


def door(per_address: int = 2) -> PublicSocketDoor:
    return PublicSocketDoor(cast(Started, Ready()), per_address=per_address, total=10)


async def admit(
    gate: PublicSocketDoor, upgrade: Upgrade, error: Exception | None, *, accept: bool = False
) -> list[str]:
    """Let `upgrade` through `gate` to a listener that accepts first (when told) and then raises `error`."""
    heard: list[str] = []

    async def listen(parts: Parts, address: str) -> None:
        heard.append(address)
        if accept:
            await upgrade.accept()
        if error is not None:
            raise error

    await gate.admit(cast(WebSocket, upgrade), listen)
    return heard


async def test_a_pages_or_a_services_no_before_the_socket_opens_is_the_upgrades_answer_and_frees_the_place() -> None:
    gate = door()
    page_no, service_no = Upgrade(), Upgrade()

    assert await admit(gate, page_no, Refused(404, 'this code follows a case, not a ticket')) == ['10.9.0.1']
    await admit(gate, service_no, Forbidden('proxy_ended'))

    assert page_no.denied is not None and service_no.denied is not None
    assert (page_no.denied.status_code, bytes(page_no.denied.body)) == (404, b'this code follows a case, not a ticket')
    assert service_no.denied.status_code == 403
    assert json.loads(bytes(service_no.denied.body))['code'] == 'proxy_ended'
    assert (gate.limits.count, dict(gate.limits.open)) == (0, {})


async def test_an_error_once_the_socket_is_open_is_raised_as_it_was_not_answered_and_frees_the_place() -> None:
    gate = door()
    upgrade = Upgrade()
    with pytest.raises(DomainError):
        await admit(gate, upgrade, Forbidden('proxy_ended'), accept=True)
    assert upgrade.denied is None and upgrade.application_state == WebSocketState.CONNECTED
    assert gate.limits.count == 0


async def test_a_foreign_origin_and_one_socket_too_many_are_refused_before_any_listener_hears_them() -> None:
    gate = door(per_address=1)
    foreign = Upgrade(origin='http://evil.example')
    assert await admit(gate, foreign, None) == []
    assert foreign.denied is not None and foreign.denied.status_code == 403

    gate.limits.take('10.9.0.1')  # one socket of this address is open
    again = Upgrade()
    assert await admit(gate, again, None) == []
    assert again.denied is not None and again.denied.status_code == 429
    assert await admit(gate, Upgrade(peer='10.9.0.2'), None) == ['10.9.0.2']  # another address is let through
    assert gate.limits.count == 1
