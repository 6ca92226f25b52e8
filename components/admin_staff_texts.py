"""Texts of the admin console's staff accounts tab (zh-CN, English), registered with the shared text registry."""

from __future__ import annotations

from components.texts import register

register(
    {
        'admin.tab.staff': ('员工账号', 'Staff'),
        'admin.staff': ('员工账号', 'Staff accounts'),
        'admin.staff.hint': (
            '停用账号、重置密码或更改角色会立即结束此人的全部登录；重置后的临时密码只显示一次，此人下次登录时须设置新密码。',
            "Disabling, a password reset or a new role ends all of the person's sessions at once; a reset's "
            'one-time password is shown once and must be replaced at the next login.',
        ),
        'admin.staff.none': ('还没有员工账号', 'No staff accounts yet'),
        'admin.staff.col.person': ('姓名 / 用户名', 'Name / username'),
        'admin.staff.col.role': ('角色', 'Role'),
        'admin.staff.col.window': ('窗口', 'Window'),
        'admin.staff.col.department': ('部门', 'Department'),
        'admin.staff.col.state': ('状态', 'State'),
        'admin.staff.role.staff': ('窗口人员', 'Clerk'),
        'admin.staff.role.reviewer': ('审核人员', 'Reviewer'),
        'admin.staff.role.manager': ('大厅管理员', 'Hall manager'),
        'admin.staff.role.city_manager': ('城市管理员', 'City manager'),
        'admin.staff.role.admin': ('系统管理员', 'Admin'),
        'admin.staff.window': ('{number}号窗口', 'Window {number}'),
        'admin.staff.no_window': ('—', '—'),
        'admin.staff.active': ('在用', 'Active'),
        'admin.staff.disabled': ('已停用', 'Disabled'),
        'admin.staff.locked': ('登录受限', 'Login slowed'),
        'admin.staff.must_change': ('待设新密码', 'New password due'),
        'admin.staff.add': ('新建账号', 'New account'),
        'admin.staff.edit': ('修改', 'Change'),
        'admin.staff.reset': ('重置密码', 'Reset password'),
        'admin.staff.disable': ('停用', 'Disable'),
        'admin.staff.enable': ('启用', 'Enable'),
        'admin.staff.username': ('用户名', 'Username'),
        'admin.staff.display_name': ('姓名', 'Name'),
        'admin.staff.field.role': ('角色', 'Role'),
        'admin.staff.field.window': ('窗口（窗口人员）', 'Window (clerks)'),
        'admin.staff.field.department': ('部门（审核人员）', 'Department (reviewers)'),
        'admin.staff.save': ('保存', 'Save'),
        'admin.staff.cancel': ('取消', 'Cancel'),
        'admin.staff.add.title': ('新建员工账号', 'New staff account'),
        'admin.staff.edit.title': ('修改 {name} 的角色、窗口或部门', 'Change role, window or department of {name}'),
        'admin.staff.edit.note': (
            '更改角色会结束此人的全部登录；更改窗口或部门会关闭此人已打开的页面。',
            "A new role ends all of the person's sessions; a new window or department closes their open pages.",
        ),
        'admin.staff.disable.title': ('停用 {name} 的账号？', "Disable {name}'s account?"),
        'admin.staff.disable.body': (
            '此人立即退出所有页面（包括正在办理的窗口页面），之后无法登录，直到重新启用。',
            'They leave every page at once (an open window desk too) and cannot log in until enabled again.',
        ),
        'admin.staff.reset.title': ('重置 {name} 的密码？', "Reset {name}'s password?"),
        'admin.staff.reset.body': (
            '将生成一个临时密码，只显示一次；此人的全部登录立即结束，登录限制同时解除。',
            "A one-time password is made and shown once; the person's sessions end now and any login wait is lifted.",
        ),
        'admin.staff.reset_2fa': ('重置动态验证码', 'Reset authenticator'),
        'admin.staff.reset_2fa.title': ('重置 {name} 的动态验证码？', "Reset {name}'s authenticator?"),
        'admin.staff.reset_2fa.body': (
            '用于手机丢失或更换：此人的动态验证码和恢复码全部作废，全部登录立即结束，下次登录时须重新设置。'
            '请先当面核实是本人提出。',
            "For a lost or new phone: the person's authenticator and recovery codes stop working, every session "
            'ends now, and they set one up again at the next login. Check in person that they asked.',
        ),
        'admin.staff.reset_2fa.done': (
            '{name} 下次登录时重新设置动态验证码',
            '{name} sets up an authenticator at the next login',
        ),
        'admin.staff.password.title': ('{name} 的临时密码', 'One-time password for {name}'),
        'admin.staff.password.how': (
            '请当面或通过安全渠道告知本人。此密码只显示这一次，本人首次登录时须设置新密码。',
            'Give it to the person face to face or over a safe channel. It is shown only now; '
            'they must choose a new password at their first login.',
        ),
        'admin.staff.password.close': ('我已记下，关闭', 'Noted, close'),
        'admin.staff.added': ('已创建 {name}', '{name} was created'),
        'admin.staff.disabled.done': ('{name} 已停用，登录已全部结束', '{name} is disabled; every session ended'),
        'admin.staff.enabled.done': ('{name} 已启用', '{name} is enabled'),
        'admin.staff.changed.done': ('{name} 已更新', '{name} is updated'),
    }
)
