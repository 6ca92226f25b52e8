"""What the arrival pages draw: the printable entrance sheet (a big QR), and a phone's arrival result."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence

from nicegui import ui

from app.services.queue_views import TicketView
from app.settings import StandIn
from components.demo_banner import demo_banner
from components.kiosk_ticket import qr_data_uri
from components.readable import readable
from components.testids import tid
from components.texts import register, t

register(
    {
        'arrive.title': ('到厅签到', 'Arrival'),
        'arrive.done': ('已确认到厅，请留意叫号', 'You are checked in: watch the call board'),
        'arrive.none': ('您今天没有待到厅的远程取号', 'You have no remote ticket waiting for your arrival today'),
        'arrive.refused': ('未能确认到厅', 'Arrival not confirmed'),
        'arrive.sign_in': (
            '请先用手机号登录，登录后回到本页确认到厅',
            'Sign in with your phone first, then confirm here',
        ),
        'arrive.sign_in_button': ('手机号登录', 'Sign in'),
        'arrive.confirm': ('我已到厅，确认签到', 'I am in the hall: check in'),
        'arrive.ticket': ('{number}号 · {service}', 'No. {number} · {service}'),
        'arrive.position': ('前面还有{ahead}人', '{ahead} ahead of you'),
        'arrive.next': ('下一位就是您', 'You are next'),
        'entrance.title': ('入口签到码', 'Entrance check-in code'),
        'entrance.hint': (
            '远程取号的群众到厅后，用手机扫描此码确认到达；也可在自助机出示手机上的号码二维码',
            'Citizens with a remote ticket scan this code with their phone on arrival, or show their ticket QR at a '
            'kiosk',
        ),
        'entrance.print': ('打印', 'Print'),
    }
)


def entrance_sheet(url: str, *, hall_name: str, stand_ins: Collection[StandIn]) -> None:
    """A printable page: the hall's name, the entrance QR (it opens the arrival page) and how to use it;
    a demo hall's sheet says 演示模式, printed too."""
    ui.page_title(f'{t("entrance.title")} · {hall_name}')
    readable()
    ui.add_css('@media print { .no-print { display: none !important; } }')
    with ui.column().classes('w-full items-center gap-4 p-6'):
        demo_banner(stand_ins)
        ui.label(hall_name).classes('text-2xl font-bold text-center')
        ui.label(t('entrance.title')).classes('text-3xl font-bold text-primary')
        qr = tid(ui.image(qr_data_uri(url)), 'entrance-qr').classes('w-80 h-80 max-w-full').props('no-spinner')
        qr.props['alt'] = t('entrance.hint')
        ui.label(t('entrance.hint')).classes('text-lg text-center max-w-xl')
        ui.button(t('entrance.print'), icon='print', on_click=lambda: ui.run_javascript('window.print()')).classes(
            'no-print'
        )


def sign_in_first(login_url: str) -> None:
    """A phone not signed in: the way to /me/login, which brings it back to this page."""
    tid(ui.label(t('arrive.sign_in')), 'arrive-sign-in').classes('text-base')
    ui.button(t('arrive.sign_in_button'), on_click=lambda: ui.navigate.to(login_url)).props('unelevated').classes(
        'w-full'
    )


def confirm_button(on_confirm: Callable[[], Awaitable[None]]) -> ui.button:
    """The tap that checks the phone's remote tickets in (a page load alone changes nothing)."""
    button = tid(ui.button(t('arrive.confirm'), icon='how_to_reg', on_click=on_confirm), 'arrive-confirm')
    return button.props('unelevated size=lg').classes('w-full')


def arrival_result(views: Sequence[TicketView] | None, refusal: str) -> None:
    """The phone's answer: the tickets now confirmed in the hall, none to confirm, or why it was refused."""
    if views is None:
        with tid(ui.card(), 'arrive-refused').classes('w-full p-4 gap-1 no-shadow bg-red-1 text-red-10'):
            ui.label(t('arrive.refused')).classes('text-lg font-bold')
            ui.label(refusal)
        return
    if not views:
        tid(ui.label(t('arrive.none')), 'arrive-none').classes('text-base')
        return
    tid(ui.label(t('arrive.done')), 'arrive-done').classes('text-lg font-bold text-positive')
    for view in views:
        with tid(ui.card(), 'arrive-ticket').classes('w-full p-4 gap-1 no-shadow border'):
            ui.label(t('arrive.ticket', number=view.ticket.number, service=view.service.name)).classes(
                'text-xl font-bold'
            )
            if view.position is not None:
                ahead = view.position - 1
                ui.label(t('arrive.next') if ahead == 0 else t('arrive.position', ahead=ahead))
