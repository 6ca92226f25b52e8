"""A short name for the device a citizen signed in on ("iPhone · WeChat"), read from its User-Agent once.

Why: a citizen who lost a phone must tell it apart from this one in 登录设备. Only the short name is kept, never
the User-Agent itself (it is a fingerprint); an unknown agent is named by nothing, and the list shows the place.
"""

from __future__ import annotations

import re

# (pattern, name), first match wins: specific before generic (an iPad says "Mac OS", Android phones say "Linux")
_SYSTEMS = (
    (r'iPad', 'iPad'),
    (r'iPhone', 'iPhone'),
    (r'HarmonyOS|OpenHarmony', 'HarmonyOS'),
    (r'Android', 'Android'),
    (r'Windows', 'Windows'),
    (r'Macintosh|Mac OS X', 'Mac'),
    (r'CrOS', 'ChromeOS'),
    (r'Linux', 'Linux'),
)
_APPS = (
    (r'MicroMessenger', 'WeChat'),
    (r'AlipayClient', 'Alipay'),
    (r'Edg/|EdgA/|EdgiOS/', 'Edge'),
    (r'Firefox/|FxiOS/', 'Firefox'),
    (r'HuaweiBrowser', 'Huawei Browser'),
    (r'MiuiBrowser', 'Xiaomi Browser'),
    (r'UCBrowser', 'UC Browser'),
    (r'QQBrowser', 'QQ Browser'),
    (r'Chrome/|CriOS/', 'Chrome'),
    (r'Safari/', 'Safari'),
)
LONGEST = 40  # the column's width


def device_name(user_agent: str) -> str:
    """'System · app' from the parts of `user_agent` we know; '' when we know none."""
    text = (user_agent or '')[:512]
    parts = [next((name for pattern, name in table if re.search(pattern, text)), '') for table in (_SYSTEMS, _APPS)]
    return ' · '.join(part for part in parts if part)[:LONGEST]
