"""演示模式 on every kind of page while a stand-in is on, nothing without one; the footer names the version."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from nicegui import ui
from nicegui.testing import User

import pages
from app.services.call_board import BoardScope
from app.settings import StandIn
from app.version import version
from components.call_board import board_document
from components.demo_banner import stand_in_words
from components.elder_frame import kiosk_frame
from components.frame import frame
from components.phone_frame import phone_frame
from tests.factories import SmallHall
from tests.running import parts

FrameOf = Callable[[frozenset[StandIn]], AbstractContextManager[object]]
FRAMES: dict[str, FrameOf] = {
    'frame': lambda stand_ins: frame('标题', hall_name='测试大厅', stand_ins=stand_ins),
    'phone': lambda stand_ins: phone_frame('标题', hall_name='测试大厅', stand_ins=stand_ins),
    'kiosk': lambda stand_ins: kiosk_frame('标题', stand_ins=stand_ins),
}


@pytest.mark.parametrize('path', ['/', '/guide', '/display', '/login'])
async def test_the_hall_pages_say_demo_mode_while_texts_only_go_to_a_file(
    ui_hall: SmallHall, user: User, path: str
) -> None:
    """The test app runs with SMS_PROVIDER=file (the only provider yet): a stand-in, so every page says so."""
    assert (await parts()).runtime.stand_ins == {StandIn.SMS}
    if path in pages.LIGHT_PAGES:  # a plain document (the call board): read as the browser gets it
        shown = (await user.http_client.get(path)).text
        assert 'data-testid="demo-banner"' in shown and '演示模式' in shown
        return
    await user.open(path)
    await user.should_see(marker='demo-banner', content='演示模式')


@pytest.mark.parametrize('path', ['/', '/guide'])
async def test_the_footer_names_the_version_and_what_is_pretended(ui_hall: SmallHall, user: User, path: str) -> None:
    await user.open(path)
    await user.should_see(marker='page-footer', content=f'HallTwin {version()} 版')
    await user.should_see(marker='page-footer', content='演示模式: 短信未发出（写入文件）')


@pytest.mark.parametrize('kind', sorted(FRAMES))
async def test_each_frame_shows_the_banner_only_while_a_stand_in_is_on(
    ui_hall: SmallHall, user: User, kind: str
) -> None:
    @ui.page('/frame-with')
    def with_stand_ins() -> None:
        with FRAMES[kind](frozenset({StandIn.SIMULATION, StandIn.DEVICES})):
            ui.label('内容')

    @ui.page('/frame-without')
    def without() -> None:
        with FRAMES[kind](frozenset()):
            ui.label('内容')

    await user.open('/frame-with')
    await user.should_see(marker='demo-banner')
    await user.should_see('模拟客流、模拟设备')
    await user.open('/frame-without')
    await user.should_see('内容')
    await user.should_not_see(marker='demo-banner')


def test_the_call_board_shows_the_banner_only_while_a_stand_in_is_on() -> None:
    shown = board_document(BoardScope(''), hall_name='测试大厅', queues=[], stand_ins={StandIn.DEMO_ACCOUNTS})
    assert 'data-testid="demo-banner"' in shown and '演示模式' in shown and 'title="演示账户"' in shown
    plain = board_document(BoardScope(''), hall_name='测试大厅', queues=[], stand_ins=frozenset())
    assert '测试大厅' in plain and 'data-testid="demo-banner"' not in plain and '演示模式' not in plain


def test_stand_ins_are_named_in_words_in_a_fixed_order() -> None:
    assert stand_in_words({StandIn.DEMO_ACCOUNTS, StandIn.SIMULATION}) == '模拟客流、演示账户'
