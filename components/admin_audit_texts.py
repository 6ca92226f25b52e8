"""Texts of /admin's audit log tab (zh-CN, English): filters, columns, the chain check's answers, actions."""

from __future__ import annotations

from components.texts import register

register(
    {
        'admin.tab.audit': ('审计日志', 'Audit log'),
        'admin.audit': ('审计日志', 'Audit log'),
        'admin.audit.hint': (
            '每条记录都与前一条以密钥哈希相连，改动、删除或插入任何一条都能被核验发现。'
            '身份证号、手机号已打码；导出文件中完全隐去，且导出本身记入审计日志。',
            'Each row is chained to the one before with a keyed hash: an edited, deleted or inserted row is found '
            'by the check. ID and phone numbers are masked; an export hides them completely and is itself audited.',
        ),
        'admin.audit.actor': ('操作人（包含）', 'Actor (contains)'),
        'admin.audit.action': ('操作', 'Action'),
        'admin.audit.any': ('全部', 'Any'),
        'admin.audit.since': ('开始日期', 'From'),
        'admin.audit.until': ('结束日期', 'To'),
        'admin.audit.bad_date': ('日期格式应为 年-月-日', 'a date is written year-month-day'),
        'admin.audit.search': ('查询', 'Search'),
        'admin.audit.verify': ('核验审计链', 'Check the chain'),
        'admin.audit.export': ('导出 CSV', 'Export CSV'),
        'admin.audit.exported': (
            '已导出 {rows} 条记录；本次导出已记入审计日志',
            'Exported {rows} rows; the export itself is in the audit log',
        ),
        'admin.audit.count': ('共 {total} 条，第 {page}/{pages} 页', '{total} rows, page {page} of {pages}'),
        'admin.audit.none': ('没有符合条件的记录', 'No rows match'),
        'admin.audit.prev': ('上一页', 'Previous'),
        'admin.audit.next': ('下一页', 'Next'),
        'admin.audit.col.id': ('序号', 'No.'),
        'admin.audit.col.at': ('时间', 'Time'),
        'admin.audit.col.actor': ('操作人', 'Actor'),
        'admin.audit.col.role': ('角色', 'Role'),
        'admin.audit.col.action': ('操作', 'Action'),
        'admin.audit.col.target': ('对象', 'Target'),
        'admin.audit.col.outcome': ('结果', 'Outcome'),
        'admin.audit.col.detail': ('详情', 'Detail'),
        'admin.audit.col.address': ('来源网段', 'From network'),
        'admin.audit.ok': (
            '审计链完整：共 {rows} 条记录，均未被改动。',
            'The chain is intact: {rows} rows, none changed.',
        ),
        'admin.audit.ok.anchors': (
            '{held} 个签名锚点核对无误，末尾没有被截断。',
            '{held} signed anchors hold: nothing was cut off the end.',
        ),
        'admin.audit.ok.no_anchors': (
            '尚无签名锚点，无法发现末尾被删除的记录（运维可定期运行 python -m app.audit anchor）。',
            'No signed anchors yet, so rows cut off the end cannot be found '
            '(operators run python -m app.audit anchor).',
        ),
        'admin.audit.broken.edited': (
            '第 {row} 条记录被改动过：它的内容与签名不符。',
            'Row {row} was edited: its content does not match its signature.',
        ),
        'admin.audit.broken.link': (
            '第 {row} 条记录之前有记录被删除或插入：链条在这里断开。',
            'A row was deleted or inserted before row {row}: the chain breaks there.',
        ),
        'admin.audit.broken.truncated': (
            '末尾的记录被删除：签名锚点记下的第 {row} 条记录已不存在。',
            'Rows were cut off the end: row {row}, vouched for by a signed anchor, is gone.',
        ),
        'admin.audit.broken.rewritten': (
            '第 {row} 条记录与签名锚点记下的不同：记录被截断后重写。',
            'Row {row} differs from what a signed anchor vouched for: the log was cut and rewritten.',
        ),
        'admin.audit.anchors.rejected': (
            '{n} 个锚点是伪造或损坏的，未予采信。',
            '{n} anchors are forged or damaged and were not trusted.',
        ),
        'admin.audit.anchors.unreadable': ('{n} 处锚点无法读取。', '{n} anchor stores could not be read.'),
        'admin.audit.role.citizen': ('办事人', 'citizen'),
        'admin.audit.role.proxy': ('代办人', 'proxy'),
        'admin.audit.role.staff': ('窗口人员', 'staff'),
        'admin.audit.role.reviewer': ('审核人员', 'reviewer'),
        'admin.audit.role.manager': ('值班长', 'manager'),
        'admin.audit.role.admin': ('管理员', 'admin'),
        'admin.audit.role.device': ('设备', 'device'),
        'admin.audit.target.audit_log': ('审计日志', 'the audit log'),
        'admin.audit.outcome.ok': ('成功', 'done'),
        'admin.audit.outcome.denied': ('被拒绝', 'refused'),
        'admin.audit.outcome.failed': ('失败', 'failed'),
        'admin.audit.outcome.totp': ('成功（动态验证码）', 'done (authenticator code)'),
        'admin.audit.outcome.recovery_code': ('成功（恢复码）', 'done (recovery code)'),
        'admin.audit.outcome.enrol_required': ('成功，须先设置动态验证码', 'done, authenticator to be set up'),
        'admin.audit.outcome.bad_credentials': ('用户名或密码错误', 'wrong username or password'),
        'admin.audit.outcome.bad_code': ('验证码错误', 'wrong code'),
        'admin.audit.outcome.totp_failed': ('动态验证码错误', 'wrong authenticator code'),
        'admin.audit.action.login': ('登录', 'login'),
        'admin.audit.action.login_failed': ('登录失败', 'failed login'),
        'admin.audit.action.lockout': ('账户锁定', 'lockout'),
        'admin.audit.action.logout': ('退出', 'logout'),
        'admin.audit.action.unmask': ('查看完整信息', 'unmasked a value'),
        'admin.audit.action.consent_granted': ('授权同意', 'consent given'),
        'admin.audit.action.consent_revoked': ('撤回同意', 'consent revoked'),
        'admin.audit.action.rated': ('评价', 'rating'),
        'admin.audit.action.proxy_action': ('亲情代办操作', 'proxy action'),
        'admin.audit.action.call_out_of_order': ('越号呼叫', 'call out of order'),
        'admin.audit.action.window_reassigned': ('调整窗口', 'window reassigned'),
        'admin.audit.action.export': ('导出', 'export'),
        'admin.audit.action.certificate_issued': ('出具证明', 'certificate issued'),
        'admin.audit.action.role_denied': ('越权访问被拒', 'access refused'),
        'admin.audit.action.audit_rechained': ('审计链重新签名', 'audit chain re-signed'),
        'admin.audit.action.config.rules': ('修改大厅规则', 'hall rules changed'),
        'admin.audit.action.ticket_issued': ('取号', 'ticket issued'),
        'admin.audit.action.ticket_called': ('叫号', 'ticket called'),
        'admin.audit.action.ticket_recalled': ('重呼', 'ticket recalled'),
        'admin.audit.action.ticket_no_show': ('过号', 'no-show'),
        'admin.audit.action.ticket_completed': ('办结', 'ticket completed'),
        'admin.audit.action.ticket_transferred': ('转办', 'ticket transferred'),
        'admin.audit.action.ticket_parked': ('挂起', 'ticket parked'),
        'admin.audit.action.ticket_resumed': ('恢复办理', 'ticket resumed'),
    }
)
