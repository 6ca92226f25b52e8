"""A relative's light status page (亲情代办): /track's light status document (components/track_status.py) for
the ticket a grant covers, with the grant's banner, its own socket, and an end.

Why light: a relative follows from home, often for hours, as the citizen does; a NiceGUI client per open page
is what the public pages must not cost. What moves arrives over `/live/proxy/{token}` from the ticket's shared
channel (the grant's cases, components/proxy_cases.py, over `/live/proxy/{token}/cases`); when the grant ends or
runs out the server closes the socket with `ACCESS_ENDED` and the page says the access ended. What the relative
can do (say a material is ready, ask for a home visit) stays on the full `/proxy/{token}` page, linked from here.
Which of the two an invitation opens: `invitation_path`.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote
from zoneinfo import ZoneInfo

from app.clock import as_utc
from app.models.proxy import ProxyGrant
from components import proxy_texts as _proxy_texts  # noqa: F401 - registers the texts
from components.texts import register, t
from components.track_status import StatusFrame

register(
    {
        'proxy.live.full': ('协助准备材料、申请上门服务', 'Help with the documents or ask for a home visit'),
        'proxy.live.case': ('查看办件详情', 'See the case in full'),
        'proxy.live.keep': ('只看进度（可长时间打开）', 'Follow only (fine to keep open)'),
    }
)
SOCKET_PATH = '/live/proxy'
ACCESS_ENDED = 4403  # the socket's close code once the grant ended or ran out (light_socket.js knows it)


def proxy_status_path(token: str) -> str:
    """The relative's light page of an invitation link."""
    return f'/proxy/{quote(token, safe="")}/status'


def invitation_path(token: str, grant: ProxyGrant) -> str:
    """Where the invitation's link and QR lead: a follow-only grant, of a ticket or of a case, to the light page
    (following is all its relative does, often for hours or days: no server client behind it); a grant that lets
    them help to the full page where they act (which links on to the light one)."""
    if grant.can_fill:
        return f'/proxy/{quote(token, safe="")}'
    return proxy_status_path(token)


def proxy_frame(token: str, grant: ProxyGrant, tz: ZoneInfo) -> StatusFrame:
    """The relative's page: the grant's banner (whom they help, until when), its socket, its full page."""
    path = quote(token, safe='')
    until = as_utc(grant.expires_at).astimezone(tz).strftime('%m-%d %H:%M')
    banner = (
        '<section class="card" data-testid="proxy-banner">'
        f'<p><strong>{escape(t("proxy.banner", relation=grant.relation))}</strong></p>'
        f'<p class="muted">{escape(t("proxy.banner.until", at=until))}</p></section>'
    )
    return StatusFrame(
        socket=f'{SOCKET_PATH}/{path}',
        link=f'/proxy/{path}',
        link_text=t('proxy.live.full' if grant.can_fill else 'proxy.live.case'),
        banner=banner,
        ended=t('proxy.ended'),
        title=t('proxy.page'),
        next=t('proxy.next'),
    )
