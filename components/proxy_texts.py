"""Texts of 亲情代办 (family proxy help) on /track and /proxy, zh-CN and English."""

from __future__ import annotations

from components.texts import register

register(
    {
        # the citizen's section on /track
        'proxy.title': ('亲情代办', 'Family help'),
        'proxy.intro': (
            '邀请家人用他们自己的手机实时查看进度、协助准备材料；每项提交都需您本人确认，可随时结束。',
            'Let a relative follow this live on their own phone and help with the documents; you confirm '
            'everything they send and can end it at any time.',
        ),
        'proxy.none': ('当前没有亲友代办', 'No relative is helping right now'),
        'proxy.relation': ('与您的关系', 'Relation'),
        'proxy.hours': ('授权时长', 'For'),
        'proxy.hours.1': ('1小时', '1 hour'),
        'proxy.hours.4': ('4小时', '4 hours'),
        'proxy.hours.24': ('24小时', '24 hours'),
        'proxy.can_fill': ('允许协助准备材料（需我确认）', 'May help with documents (I confirm)'),
        'proxy.invite': ('生成邀请', 'Create the invitation'),
        'proxy.invited': (
            '请把下面的链接或二维码发给{relation}（只显示这一次）',
            'Send this link or QR code to your {relation} (shown only this once)',
        ),
        'proxy.copy': ('复制链接', 'Copy link'),
        'proxy.copied': ('已复制', 'Copied'),
        'proxy.until': ('授权至 {at}', 'until {at}'),
        'proxy.joined': ('已加入', 'joined'),
        'proxy.not_joined': ('尚未打开', 'not opened yet'),
        'proxy.fill': ('可协助', 'may help'),
        'proxy.watch': ('仅查看', 'follow only'),
        'proxy.end': ('结束代办', 'End'),
        'proxy.ended_now': ('已结束，对方立即无法访问', 'Ended: they have no access any more'),
        'proxy.proposal': ('{relation}说「{material}」已备好', 'Your {relation} says "{material}" is ready'),
        'proxy.accept': ('确认', 'Confirm'),
        'proxy.reject': ('不对', 'Not right'),
        'proxy.status.accepted': ('已确认', 'confirmed'),
        'proxy.status.rejected': ('未采纳', 'not taken'),
        'proxy.status.withdrawn': ('已失效', 'lapsed'),
        'proxy.status.pending': ('等待本人确认', 'waiting for confirmation'),
        # the relative's page /proxy/{token}
        'proxy.page': ('亲情代办', 'Family help'),
        'proxy.banner': ('您正在协助家人办事（{relation}）', 'You are helping a family member ({relation})'),
        'proxy.banner.until': ('授权至 {at}，本人可随时结束', 'Until {at}; they can end it at any time'),
        'proxy.help': ('协助准备材料', 'Help with the documents'),
        'proxy.help.none': ('目前没有需要准备的材料', 'No documents are needed right now'),
        'proxy.help.no_case': (
            '窗口受理后，这里会列出需要准备的材料',
            'The documents to bring are listed here once a window accepts the case',
        ),
        'proxy.next': (
            '下一个就是家人的号，请提醒他留意叫号',
            'Your family member is next: remind them to listen for it',
        ),
        'proxy.ready': ('已备好', 'Ready'),
        'proxy.sent': ('已告诉本人，等待确认', 'Sent: waiting for their confirmation'),
        'proxy.ended': (
            '本次代办已结束（本人已结束或授权已到期）。如需继续，请向本人重新索取链接。',
            'This help session has ended (ended by them, or its time ran out). Ask them for a new link.',
        ),
    }
)
