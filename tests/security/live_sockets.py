"""A light page's public live socket as a browser opens it, for the attacker tests of `/live/track/{code}` and
`/live/proxy/{token}`: the first text it is told, the HTTP answer of a refused upgrade, the code it was closed with.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect


@contextmanager
def listening(
    url: str, page_origin: str, fields: Collection[str], **kwargs: object
) -> Iterator[tuple[ClientConnection, dict[str, object]]]:
    """The socket with the page's Origin (`origin=` another, or None: none at all), and the whole status it was
    told first."""
    kwargs.setdefault('origin', page_origin)
    with connect(url, open_timeout=10, **kwargs) as socket:  # type: ignore[arg-type]
        snapshot = json.loads(socket.recv(timeout=10))
        assert set(snapshot) == set(fields)
        yield socket, snapshot


@dataclass(frozen=True)
class Refusal:
    status_code: int
    body: bytes

    def json(self) -> dict[str, object]:
        return dict(json.loads(self.body))


def refused(url: str, page_origin: str, **kwargs: object) -> Refusal:
    """The HTTP answer to the upgrade (the socket never opened)."""
    kwargs.setdefault('origin', page_origin)
    with pytest.raises(InvalidStatus) as refusal, connect(url, open_timeout=10, **kwargs):  # type: ignore[arg-type]
        pass
    response = refusal.value.response
    return Refusal(response.status_code, response.body or b'')


def closed_with(socket: ClientConnection, seconds: float = 10) -> int | None:
    """Read until the server closes the socket: its close code."""
    with pytest.raises(ConnectionClosed) as closing:
        while True:
            socket.recv(timeout=seconds)
    return closing.value.rcvd.code if closing.value.rcvd else None
