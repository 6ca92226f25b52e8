"""Texts of the booking page (/book) and its screen, zh-CN and English."""

from __future__ import annotations

from components.texts import register

register(
    {
        'book.title': ('预约办事', 'Book a visit'),
        'book.pick_day': ('选择日期', 'Pick a day'),
        'book.pick_slot': ('选择时段（点一下即预约）', 'Pick a time (one tap books it)'),
        'book.pick_new_slot': ('选择新的时段（点一下即改约）', 'Pick the new time (one tap moves it)'),
        'book.left': ('余{n}', '{n} left'),
        'book.full': ('已满', 'full'),
        'book.none': ('这一天没有可预约的时段', 'No bookable times on this day'),
        'book.not_bookable': ('该事项暂无窗口办理，不能预约', 'No window serves this service: it cannot be booked'),
        'book.yours': ('您的预约', 'Your booking'),
        'book.current': ('当前预约：{when}', 'Booked now: {when}'),
        'book.when': ('时间：{when}', 'Time: {when}'),
        'book.reference': ('预约号：{reference}', 'Reference: {reference}'),
        'book.how': (
            '请在预约时段内（可提前{early}分钟）到大厅自助机扫描此二维码签到，或输入预约号。',
            'Check in at a hall kiosk in your time (up to {early} min early): scan this code or type the reference.',
        ),
        'book.cancel': ('取消预约', 'Cancel booking'),
        'book.move': ('改约', 'Change time'),
        'book.keep': ('不改了', 'Keep this time'),
        'book.cancelled': ('预约已取消', 'Booking cancelled'),
    }
)
