"""Texts of /admin's messages tab (zh-CN, English): deliveries per kind, and problems with their causes."""

from __future__ import annotations

from components.texts import register

register(
    {
        'admin.tab.messages': ('消息发送', 'Messages'),
        'admin.messages': ('消息发送情况（近 24 小时）', 'Messages sent (last 24 hours)'),
        'admin.messages.hint': (
            '短信、邮件和页面推送的发送情况。失败的消息列出原因；手机号和邮箱已打码。',
            'Texts, emails and page pushes: what went out, what waits for a retry and what failed, with the cause. '
            'Phone numbers and email addresses are masked.',
        ),
        'admin.messages.refresh': ('刷新', 'Refresh'),
        'admin.messages.none': ('近 24 小时没有消息', 'No messages in the last 24 hours'),
        'admin.messages.no_problems': ('没有失败或等待重试的消息', 'Nothing failed or waits for a retry'),
        'admin.messages.problems': ('失败与重试', 'Failures and retries'),
        'admin.messages.col.channel': ('渠道', 'Channel'),
        'admin.messages.col.kind': ('类别', 'Kind'),
        'admin.messages.col.sent': ('已发送', 'Sent'),
        'admin.messages.col.pending': ('待发送', 'Waiting'),
        'admin.messages.col.failed': ('失败', 'Failed'),
        'admin.messages.col.at': ('时间', 'Time'),
        'admin.messages.col.to': ('接收号码或邮箱', 'To'),
        'admin.messages.col.status': ('状态', 'Status'),
        'admin.messages.col.attempts': ('尝试次数', 'Attempts'),
        'admin.messages.col.reason': ('原因', 'Cause'),
        'admin.messages.channel.sms': ('短信', 'SMS'),
        'admin.messages.channel.push': ('页面推送', 'Page push'),
        'admin.messages.channel.email': ('邮件', 'Email'),
        'admin.messages.channel.other': ('其他渠道', 'Other channel'),
        'admin.messages.status.pending': ('等待重试', 'Will retry'),
        'admin.messages.status.sending': ('发送中', 'Sending'),
        'admin.messages.status.failed': ('已放弃', 'Given up'),
        'admin.messages.kind.called': ('叫号', 'Called'),
        'admin.messages.kind.queue_near': ('即将叫号', 'Turn is near'),
        'admin.messages.kind.booking': ('预约', 'Booking'),
        'admin.messages.kind.case_step': ('办件进度', 'Case progress'),
        'admin.messages.kind.pickup_ready': ('待领取', 'Ready for pickup'),
        'admin.messages.kind.evaluation': ('评价', 'Rating'),
        'admin.messages.kind.come_now': ('请出发', 'Please come now'),
        'admin.messages.kind.not_arrived': ('未到厅', 'Not arrived'),
        'admin.messages.kind.sla_at_risk': ('即将超时', 'Deadline at risk'),
        'admin.messages.kind.other': ('其他通知', 'Other notice'),
        'admin.messages.reason.capped': (
            '超过该号码每日短信上限，未发送',
            "Over this number's daily text limit: not sent",
        ),
        'admin.messages.reason.no_template': (
            '大厅描述中没有此类消息的短信模板编号（sms_templates）',
            'The hall description names no SMS template code for this kind (sms_templates)',
        ),
        'admin.messages.reason.no_phone': ('没有可发送的手机号', 'No phone number to text'),
        'admin.messages.reason.email_capped': (
            '超过该邮箱每日邮件上限，未发送',
            "Over this address's daily email limit: not sent",
        ),
        'admin.messages.reason.no_email': ('办件没有企业联系邮箱', 'The case has no business email'),
        'admin.messages.reason.provider': ('服务商答复：{words}', 'The provider answered: {words}'),
        'admin.messages.reason.other': ('发送失败，将按计划重试', 'Sending failed; it is retried on schedule'),
    }
)
