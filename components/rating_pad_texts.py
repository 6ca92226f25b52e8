"""Texts of the window rating pad `/rate/{window}` (zh-CN, English): large, short, for every age."""

from __future__ import annotations

from components.texts import register

register(
    {
        'pad.title': ('{number}号窗口 · 服务评价', 'Window {number} · Rate our service'),
        'pad.idle': ('欢迎对本窗口的服务进行评价', 'You can rate this window’s service here'),
        'pad.idle.hint': ('业务办结后，请在这里点一下评价', 'When your matter is done, tap once here to rate it'),
        'pad.ask': ('请您对本次服务进行评价', 'Please rate the service you just received'),
        'pad.ticket': ('号码 {number}', 'Number {number}'),
        'pad.clerk': ('服务人员 {name}', 'Served by {name}'),
        'pad.thanks': ('感谢您的评价！', 'Thank you for your rating!'),
        'pad.thanks.hint': ('您的意见会帮助我们改进服务', 'Your opinion helps us serve you better'),
        'pad.closed': ('本屏幕的配对已解除，请联系管理员', 'This screen is no longer paired; please ask an admin'),
        'pad.level.very_good': ('非常满意', 'Very satisfied'),
        'pad.level.good': ('满意', 'Satisfied'),
        'pad.level.basic': ('基本满意', 'Fairly satisfied'),
        'pad.level.bad': ('不满意', 'Dissatisfied'),
        'pad.level.very_bad': ('非常不满意', 'Very dissatisfied'),
    }
)
