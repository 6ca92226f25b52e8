"""Texts of /admin's device registry (zh-CN, English); device kinds and states come from manager_texts."""

from __future__ import annotations

from components import manager_texts  # noqa: F401 - registers device.kind.* and device.state.*
from components.texts import register

register(
    {
        'admin.tab.devices': ('设备', 'Devices'),
        'admin.devices': ('大厅设备', 'Hall devices'),
        'admin.devices.hint': (
            '登记、更换凭据或退役设备后立即生效，无需重启；新设备马上出现在大厅平面图上。取号机和评价器屏幕的配对在“屏幕配对”页。',
            'Registering, rotating a credential or retiring takes effect at once, without a restart; a new '
            'device appears on the floor map at once. Kiosk and rating pad screens are paired on the Screens tab.',
        ),
        'admin.devices.register': ('登记设备', 'Register a device'),
        'admin.devices.none': ('本大厅还没有设备', 'This hall has no devices yet'),
        'admin.devices.count': ('{n} 台', '{n}'),
        'admin.devices.retired': ('已退役设备（{n}）', 'Retired devices ({n})'),
        'admin.device.window': ('{zone} · {number}号窗口', '{zone} · window {number}'),
        'admin.device.attached': ('{zone} · 挂接于 {kiosk}', '{zone} · attached to {kiosk}'),
        'admin.device.seen': ('最近在线 {at}', 'Last seen {at}'),
        'admin.device.issued': ('凭据由管理员签发于 {at}', 'Credential issued on /admin {at}'),
        'admin.device.derived': ('凭据由大厅密钥派生', 'Credential derived from the hall key'),
        'admin.device.retired_at': ('退役于 {at}', 'Retired {at}'),
        'admin.device.rotate': ('更换凭据', 'New credential'),
        'admin.device.retire': ('退役', 'Retire'),
        'admin.form.title': ('登记设备', 'Register a device'),
        'admin.form.code': ('设备编号（如 K07、CD-W9）', 'Device code (e.g. K07, CD-W9)'),
        'admin.form.kind': ('设备类型', 'Kind'),
        'admin.form.name': ('名称', 'Name'),
        'admin.form.zone': ('区域', 'Zone'),
        'admin.form.window': ('所属窗口（仅窗口叫号屏）', 'Window (a window display only)'),
        'admin.form.no_window': ('不属于窗口', 'No window'),
        'admin.form.kiosk': ('挂接的取号机', 'Attached to kiosk'),
        'admin.form.x': ('平面图横坐标 x（0–{max}）', 'Floor plan x (0–{max})'),
        'admin.form.y': ('平面图纵坐标 y（0–{max}）', 'Floor plan y (0–{max})'),
        'admin.form.submit': ('登记并生成凭据', 'Register and issue a credential'),
        'admin.form.cancel': ('取消', 'Cancel'),
        'admin.credential.title': ('{name}（{code}）的设备凭据', 'Credential for {name} ({code})'),
        'admin.credential.once': (
            '凭据只显示这一次，关闭后无法再查看；遗失请重新“更换凭据”。',
            'It is shown only now and cannot be viewed again; if it is lost, issue a new one.',
        ),
        'admin.credential.copy': ('复制凭据', 'Copy'),
        'admin.credential.copied': ('已复制到剪贴板', 'Copied to the clipboard'),
        'admin.credential.bridge': (
            '设备接入桥：在该设备所连的电脑上把凭据写入 /etc/halltwin/credentials/{code}.key'
            '（仅接入桥用户可读，chmod 600），bridge.toml 中填写 device = "{code}"，'
            '然后运行 python -m devices.bridge --config /etc/halltwin/bridge.toml。',
            'Device bridge: on the PC the device is connected to, write it to /etc/halltwin/credentials/{code}.key '
            '(readable by the bridge user only, chmod 600), set device = "{code}" in bridge.toml, then run '
            'python -m devices.bridge --config /etc/halltwin/bridge.toml.',
        ),
        'admin.credential.protocol': (
            '自带固件的设备：连接 /ws/devices，第一帧 hello 携带 device = "{code}" 和该凭据'
            '（见 docs/device-protocol.md）。',
            'A device with its own firmware: connect to /ws/devices and send device = "{code}" and this credential in '
            'its first frame, hello (see docs/device-protocol.md).',
        ),
        'admin.credential.replaced': (
            '原凭据已失效，使用原凭据的连接已断开。',
            'The old credential no longer works; a connection that used it was closed.',
        ),
        'admin.credential.close': ('我已保存，关闭', 'Saved it, close'),
        'admin.retire.title': ('退役 {name}（{code}）？', 'Retire {name} ({code})?'),
        'admin.retire.body': (
            '设备将立即断开并被拒绝连接，从大厅平面图上移除；记录保留，编号不能再用。取号机的屏幕配对同时解除。此操作不能撤销。',
            'The device is disconnected and refused from now on, and leaves the floor map; its records stay and '
            'its code cannot be used again. A kiosk’s screen pairing ends too. This cannot be undone.',
        ),
        'admin.retire.confirm': ('退役', 'Retire'),
        'admin.retire.cancel': ('取消', 'Cancel'),
        'admin.retired': ('{code} 已退役', '{code} is retired'),
        'admin.registered': ('{code} 已登记', '{code} is registered'),
    }
)
