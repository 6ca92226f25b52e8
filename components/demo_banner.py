"""演示模式: the small mark every page shows while the hall runs with a stand-in (app/services/stand_ins.py).

Small on purpose: it must not cover a call or a button, only say that what is seen is partly invented.
Its tooltip names each stand-in in words.
"""

from __future__ import annotations

from collections.abc import Collection

from nicegui import ui

from app.settings import StandIn
from components.testids import tid
from components.texts import register, t

register(
    {
        'demo.banner': ('演示模式', 'Demo mode'),
        'demo.list_separator': ('、', ', '),
        'demo.stand_in.simulation': ('模拟客流', 'simulated visitors'),
        'demo.stand_in.devices': ('模拟设备', 'simulated devices'),
        'demo.stand_in.sms': ('短信未发出（写入文件）', 'texts not sent (written to a file)'),
        'demo.stand_in.department_data': ('示例部门数据', 'sample department data'),
        'demo.stand_in.demo_accounts': ('演示账户', 'demo accounts'),
    }
)


def stand_in_words(stand_ins: Collection[StandIn]) -> str:
    """What the hall pretends, in the page's language, in a fixed order."""
    return t('demo.list_separator').join(t(f'demo.stand_in.{one}') for one in StandIn if one in stand_ins)


def demo_banner(stand_ins: Collection[StandIn], *, classes: str = '') -> None:
    """The mark, where the caller is drawing; nothing at all when no stand-in is on."""
    if not stand_ins:
        return
    with tid(ui.label(t('demo.banner')), 'demo-banner').classes(
        f'text-xs font-bold px-2 py-0.5 rounded bg-amber-300 text-black whitespace-nowrap cursor-default {classes}'
    ):
        ui.tooltip(stand_in_words(stand_ins))
