"""A bare GET request as a browser at the hall would send it: for guards and clients tested without a server."""

from __future__ import annotations

from starlette.requests import Request


def get_request(
    path: str, query: str = '', *, cookie: tuple[str, str] | None = None, client: str = '10.3.0.9'
) -> Request:
    """A GET of `path?query` from `client`, with one cookie (name, value) when given."""
    headers = [(b'cookie', f'{cookie[0]}={cookie[1]}'.encode())] if cookie else []
    return Request(
        {
            'type': 'http',
            'method': 'GET',
            'scheme': 'http',
            'server': ('hall.test', 80),
            'client': (client, 50000),
            'root_path': '',
            'path': path,
            'query_string': query.encode(),
            'headers': headers,
        }
    )
