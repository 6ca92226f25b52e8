"""Texts of "我的" (/me), zh-CN and English."""

from __future__ import annotations

from components.texts import register

register(
    {
        'me.title': ('我的', 'My account'),
        'me.sign_out': ('退出登录', 'Sign out'),
        'me.guide': ('办事指南', 'Service guide'),
        'me.tickets': ('我的排队', 'My tickets'),
        'me.no_tickets': ('近 30 天没有排队记录', 'No tickets in the last 30 days'),
        'me.track': ('查看进度', 'Follow it'),
        'me.arrive_hint': (
            '远程取号：到达大厅后请扫描入口签到码，或在自助机上扫描此号的二维码签到。未签到时轮到您会暂挂。',
            'Remote ticket: when you arrive, scan the entrance QR code, or show this ticket at a kiosk. '
            'Until then it is held when your turn comes.',
        ),
        'me.online': ('线上取号', 'Taken online'),
        'me.done': ('已结束', 'Finished'),
        'me.remote': ('远程取号', 'Queue from your phone'),
        'me.remote.why': (
            '今天要到大厅办理？先在手机上取号，在家等候，快到您时我们发短信请您出发。',
            'Coming to the hall today? Take a number here and wait at home: we text you when it is time to leave.',
        ),
        'me.remote.service': ('办理事项', 'Service'),
        'me.remote.take': ('取号', 'Take a number'),
        'me.remote.taken': ('已取号 {number}', 'Your number is {number}'),
        'me.bookings': ('我的预约', 'My bookings'),
        'me.no_bookings': ('没有预约', 'No bookings'),
        'me.book': ('去预约', 'Book a visit'),
        'me.booking.status.booked': ('已预约', 'Booked'),
        'me.booking.status.checked_in': ('已签到', 'Checked in'),
        'me.booking.status.cancelled': ('已取消', 'Cancelled'),
        'me.booking.status.missed': ('未到', 'Missed'),
        'me.booking.show_qr': (
            '到大厅后在自助机扫描此码签到（预约码 {reference}）',
            'At the hall, scan this at a kiosk ({reference})',
        ),
        'me.booking.cancel': ('取消预约', 'Cancel'),
        'me.booking.cancelled': ('预约已取消', 'Booking cancelled'),
        'me.cases': ('我的办件', 'My cases'),
        'me.no_cases': ('暂无办件', 'No cases'),
        'me.consents': ('我的授权', 'My consents'),
        'me.no_consents': ('没有授权记录', 'No consents'),
        'me.consent.live': ('有效', 'In force'),
        'me.consent.revoked': ('已撤回', 'Withdrawn'),
        'me.consent.revoke': ('撤回', 'Withdraw'),
        'me.consent.revoked_now': ('已撤回授权', 'Consent withdrawn'),
        'me.consent.purpose.face_ticket': ('刷脸取号', 'Face sign-in'),
        'me.consent.purpose.department_data': ('调取部门数据', 'Department data'),
        'me.consent.purpose.proxy': ('亲情代办', 'Family proxy'),
        'me.grants': ('亲友代办', 'Family helpers'),
        'me.no_grants': ('没有正在进行的代办授权', 'No family helper is active'),
        'me.grant.line': ('{relation} · 号票 {number} · 至 {until}', '{relation} · ticket {number} · until {until}'),
        'me.grant.end': ('结束代办', 'End access'),
        'me.grant.ended': ('已结束代办，亲友的链接已失效', 'Ended: the link no longer works'),
        'me.devices': ('登录设备', 'Signed-in devices'),
        'me.devices.this': ('本机', 'This phone'),
        'me.devices.other': ('其他设备', 'Another device'),
        'me.devices.unknown_place': ('位置未知', 'place unknown'),
        'me.devices.times': ('登录于 {since} · 最近使用 {seen}', 'Signed in {since} · last used {seen}'),
        'me.devices.end': ('退出', 'Sign out'),
        'me.devices.end_all': ('退出其他所有设备', 'Sign out all other devices'),
        'me.devices.only_this': ('只有本机登录。', 'Only this phone is signed in.'),
        'me.devices.ended': ('已退出，该设备需重新登录', 'Signed out: that device must sign in again'),
        'me.unlinked': (
            '您的手机号尚未与本人身份关联。下次到大厅办理时，请窗口工作人员核验您的身份证并关联此手机号，'
            '即可在此查看全部办件与授权。',
            'Your phone is not yet linked to you. Next time at a window, ask the clerk to check your ID card '
            'and link this phone: then all your cases and consents show here.',
        ),
    }
)
