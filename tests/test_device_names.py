"""The short device names of 登录设备: known systems and apps named, the User-Agent itself never kept."""

from __future__ import annotations

import pytest

from app.services.device_names import LONGEST, device_name

IPHONE_WECHAT = (
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) '
    'Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN'
)
ANDROID_CHROME = (
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) '
    'Chrome/124.0.0.0 Mobile Safari/537.36'
)
WINDOWS_EDGE = (
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) '
    'Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0'
)
IPAD_SAFARI = (
    'Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) '
    'Version/17.4 Mobile/15E148 Safari/604.1'
)


@pytest.mark.parametrize(
    ('agent', 'name'),
    [
        (IPHONE_WECHAT, 'iPhone · WeChat'),
        (ANDROID_CHROME, 'Android · Chrome'),
        (WINDOWS_EDGE, 'Windows · Edge'),
        (IPAD_SAFARI, 'iPad · Safari'),
        ('curl/8.5.0', ''),
        ('', ''),
    ],
    ids=['iphone-wechat', 'android-chrome', 'windows-edge', 'ipad-safari', 'curl', 'none'],
)
def test_a_known_system_and_app_are_named_and_an_unknown_agent_is_not(agent: str, name: str) -> None:
    assert device_name(agent) == name


def test_the_name_fits_its_column_and_carries_nothing_of_the_agent_beyond_the_names() -> None:
    crafted = 'iPhone Chrome/1 <script>alert(1)</script>' + 'x' * 10_000
    assert device_name(crafted) == 'iPhone · Chrome' and len(device_name(crafted)) <= LONGEST
