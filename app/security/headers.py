"""Security headers on every HTTP response (pure ASGI, so it also covers NiceGUI's own routes).

NiceGUI compiles Vue templates in the browser and injects inline scripts, so the CSP needs
'unsafe-inline' and 'unsafe-eval' for scripts; everything else is locked to our own origin.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = '; '.join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self' ws: wss:",
        "media-src 'self' data: blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

STATIC_HEADERS = {
    'content-security-policy': CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'permissions-policy': 'camera=(self), microphone=(), geolocation=()',
    'cross-origin-opener-policy': 'same-origin',
}
HSTS = 'max-age=31536000; includeSubDomains'


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return
        forwarded = dict(scope.get('headers') or []).get(b'x-forwarded-proto', b'').decode()
        tls = scope.get('scheme') == 'https' or forwarded == 'https'

        async def send_with_headers(message: Message) -> None:
            if message['type'] == 'http.response.start':
                headers = MutableHeaders(scope=message)
                for name, value in STATIC_HEADERS.items():
                    headers.setdefault(name, value)
                if tls:
                    headers.setdefault('strict-transport-security', HSTS)
            await send(message)

        await self.app(scope, receive, send_with_headers)
