"""A queue ticket as ESC/POS bytes: the small subset every 58/80 mm receipt printer understands.

The hub builds the bytes itself (python-escpos is the bridge's), and a ticket needs only: initialise,
align, bold, double size, text in GB18030 (the code page of Chinese receipt printers), a QR code
(GS ( k, model 2) and a cut. docs/device-protocol.md lists the exact commands so a printer bridge can
check them. The 纸质版简化指南 (what to bring, the steps ahead) is printed in double height and bold,
so a citizen who goes by paper can read it without glasses.
"""

from __future__ import annotations

from app.services.kiosk import TicketSlip

ESC, GS, LF = b'\x1b', b'\x1d', b'\n'
INIT = ESC + b'@'
CENTER, LEFT = ESC + b'a\x01', ESC + b'a\x00'
BOLD_ON, BOLD_OFF = ESC + b'E\x01', ESC + b'E\x00'
DOUBLE, NORMAL = GS + b'!\x11', GS + b'!\x00'
TALL = GS + b'!\x01'  # double height: large type that still fits 24 Chinese characters a line on 80 mm
CUT = GS + b'V\x42\x00'  # feed and partial cut
QR_MODULE_SIZE = 6
ENCODING = 'gb18030'


def slip_lines(slip: TicketSlip) -> list[str]:
    """The slip's lines below its number; `track_url` is printed as a QR code after them."""
    ahead = '—' if slip.people_ahead is None else str(slip.people_ahead)
    eta = '—' if slip.eta_minutes is None else f'约 {slip.eta_minutes} 分钟 / ~{slip.eta_minutes} min'
    return [
        f'事项 / Service: {slip.service_name}',
        f'窗口 / Window: {slip.window_hint}',
        f'前面等候 / Ahead: {ahead} 人',
        f'预计等候 / Wait: {eta}',
        f'取号时间 / Taken: {slip.taken_at:%Y-%m-%d %H:%M}',
    ]


def guide_lines(slip: TicketSlip) -> list[tuple[str, list[str]]]:
    """The slip's simplified guide: headed sections, each line printed large."""
    sections = []
    if slip.bring:
        sections.append(('请带好以下材料 / Bring', [f'□ {item}' for item in slip.bring]))
    if slip.next_steps:
        sections.append(('接下来 / Next', [f'{n}. {step}' for n, step in enumerate(slip.next_steps, start=1)]))
    return sections


def large(text: str) -> bytes:
    return TALL + BOLD_ON + text.encode(ENCODING) + LF + BOLD_OFF + NORMAL


def qr_code(data: str) -> bytes:
    """GS ( k: model 2, module size, error correction M, store the data, print it."""
    payload = data.encode('ascii')
    store_length = len(payload) + 3
    return b''.join(
        [
            GS + b'(k\x04\x001A2\x00',  # model 2
            GS + b'(k\x03\x001C' + bytes([QR_MODULE_SIZE]),
            GS + b'(k\x03\x001E1',  # error correction level M
            GS + b'(k' + bytes([store_length % 256, store_length // 256]) + b'1P0' + payload,
            GS + b'(k\x03\x001Q0',
        ]
    )


def render_ticket(ticket: TicketSlip, *, hall_name: str) -> bytes:
    parts = [INIT, CENTER, BOLD_ON, hall_name.encode(ENCODING), LF, BOLD_OFF, DOUBLE, ticket.number.encode(ENCODING)]
    parts += [LF, NORMAL, LEFT]
    for line in slip_lines(ticket):
        parts += [line.encode(ENCODING), LF]
    for heading, lines in guide_lines(ticket):
        parts += [LF, BOLD_ON, heading.encode(ENCODING), LF, BOLD_OFF]
        parts += [large(line) for line in lines]
    parts += [CENTER, qr_code(ticket.track_url), LF, '扫码查看进度 / scan to track'.encode(ENCODING), LF, CUT]
    return b''.join(parts)
