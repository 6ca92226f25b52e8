"""Texts of the admin console (zh-CN, English), registered with the shared text registry."""

from __future__ import annotations

from components.texts import register

register(
    {
        'admin.title': ('管理控制台', 'Admin console'),
        'admin.tab.kiosks': ('屏幕配对', 'Screens'),
        'admin.kiosks': ('屏幕配对：自助取号机与窗口评价器', 'Screen pairing: kiosks and window rating pads'),
        'admin.kiosks.hint': (
            '每台自助取号机、每个窗口评价器只有一块已配对的屏幕；未配对的屏幕只显示配对页，收不到任何信息。',
            'Each kiosk and each window rating pad has one paired screen; an unpaired screen shows only the '
            'pairing page and hears nothing.',
        ),
        'admin.kiosks.none': ('本大厅没有登记自助取号机或评价器', 'This hall has no kiosks or rating pads'),
        'admin.kiosk.window': ('{number}号窗口', 'window {number}'),
        'admin.kiosk.paired': ('已配对', 'Paired'),
        'admin.kiosk.unpaired': ('未配对', 'Not paired'),
        'admin.kiosk.since': ('配对于 {at}，由 {by} 发码', 'Paired {at}, code issued by {by}'),
        'admin.kiosk.from': ('屏幕地址 {address}', 'Screen address {address}'),
        'admin.kiosk.seen': ('最近在线 {at}', 'Last seen {at}'),
        'admin.kiosk.pending': ('配对码有效至 {at}', 'Pairing code valid until {at}'),
        'admin.kiosk.issue': ('生成配对码', 'Pairing code'),
        'admin.kiosk.revoke': ('解除配对', 'Unpair'),
        'admin.code.title': ('{name}（{code}）的配对码', 'Pairing code for {name} ({code})'),
        'admin.code.until': (
            '有效至 {at}（10 分钟内有效，只能使用一次）',
            'Valid until {at} (10 minutes, once only)',
        ),
        'admin.code.how': (
            '在该取号机屏幕上打开 /kiosk/{code}，输入配对码，或用取号机的扫码器扫描右侧二维码。',
            'On the kiosk screen open /kiosk/{code}, type the code or scan the QR code with the kiosk scanner.',
        ),
        'admin.code.how.pad': (
            '在该窗口评价器的平板上打开 /rate/{number}，输入配对码。',
            'On the rating pad tablet open /rate/{number} and type the code.',
        ),
        'admin.code.replaces': (
            '配对后，该取号机原来的屏幕将立即停止服务。',
            'Pairing stops the screen this kiosk had before, at once.',
        ),
        'admin.code.close': ('关闭', 'Close'),
        'admin.code.used': ('{code} 已完成配对', '{code} is paired'),
        'admin.revoke.title': ('解除 {name}（{code}）的配对？', 'Unpair {name} ({code})?'),
        'admin.revoke.body': (
            '该屏幕将在一分钟内停止服务，需重新配对后才能使用；未使用的配对码同时作废。',
            'Its screen stops within a minute and needs pairing again; an unused pairing code ends too.',
        ),
        'admin.revoke.confirm': ('解除配对', 'Unpair'),
        'admin.revoke.cancel': ('取消', 'Cancel'),
        'admin.revoked': ('{code} 已解除配对', '{code} is unpaired'),
        'admin.never': ('—', '—'),
    }
)
