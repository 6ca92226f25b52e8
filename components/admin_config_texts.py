"""Texts of /admin's configuration tab (zh-CN, English), registered with the shared text registry."""

from __future__ import annotations

from components.texts import register

register(
    {
        'admin.tab.config': ('大厅配置', 'Hall setup'),
        'config.hint': (
            '修改立即生效：大厅孪生、取号机和办事指南无需重启即按新配置显示；每次保存都留有版本和审计记录。',
            'Changes apply at once: the twin, kiosks and the guide follow without a restart; every save is '
            'kept as a version and audited.',
        ),
        'config.services': ('服务事项', 'Services'),
        'config.windows': ('窗口', 'Windows'),
        'config.zones': ('区域', 'Zones'),
        'config.history': ('修改记录', 'Change history'),
        'config.transfer': ('导出与导入', 'Export and import'),
        'config.transfer.hint': (
            '导出为与种子目录相同的 YAML 文件（zip），不含人员账号、设备凭据或个人信息；导入另一大厅导出的 zip，'
            '整体校验通过后一次生效，否则不做任何修改。',
            'Exports the seed folder’s YAML files as a zip, without accounts, device credentials or personal '
            'data; an imported zip is checked whole and applied as one change, or nothing changes.',
        ),
        'config.export': ('导出配置', 'Export'),
        'config.import': ('导入配置（zip）', 'Import (zip)'),
        'config.imported': (
            '已导入：{services} 个事项、{windows} 个窗口、{zones} 个区域',
            'Imported: {services} services, {windows} windows, {zones} zones',
        ),
        'config.add': ('新增', 'Add'),
        'config.edit': ('编辑', 'Edit'),
        'config.save': ('保存', 'Save'),
        'config.cancel': ('取消', 'Cancel'),
        'config.saved': ('已保存', 'Saved'),
        'config.sla': ('承诺时限 {days} 个工作日', 'Promised in {days} working days'),
        'config.materials_count': ('{count} 项材料', '{count} materials'),
        'config.questions_count': ('{count} 个情形问题', '{count} questions'),
        'config.window.title': ('{number}号窗口', 'Window {number}'),
        'config.window.serves': ('办理：{services}', 'Serves: {services}'),
        'config.tier': ('（第{tier}顺位）', ' (tier {tier})'),
        'config.zone.rect': ('位置 ({x}, {y})，大小 {width} × {height}', 'At ({x}, {y}), {width} × {height}'),
        'config.state.open': ('开放', 'Open'),
        'config.state.paused': ('暂停', 'Paused'),
        'config.state.closed': ('关闭', 'Closed'),
        'config.field.code': ('编码（字母、数字）', 'Code (letters, digits)'),
        'config.field.name': ('名称', 'Name'),
        'config.field.name_en': ('英文名称', 'English name'),
        'config.field.description': ('通俗说明', 'Plain description'),
        'config.field.department': ('主管部门', 'Department'),
        'config.field.prefix': ('号码字头（一个大写字母）', 'Ticket letter (one capital)'),
        'config.field.sla': ('承诺时限（工作日）', 'Promised time (working days)'),
        'config.field.minutes': ('平均办理时长（分钟）', 'Average handling (minutes)'),
        'config.field.threshold': ('排队预警人数', 'Queue alert at (people)'),
        'config.field.materials': (
            '所需材料，每行一项：中文名称 / 英文名称',
            'Materials, one per line: Chinese name / English name',
        ),
        'config.field.question': ('情形问题 {n}', 'Question {n}'),
        'config.field.question_en': ('情形问题 {n}（英文）', 'Question {n} (English)'),
        'config.field.first_window': ('由哪个窗口办理', 'Served at window'),
        'config.field.number': ('窗口号', 'Window number'),
        'config.field.zone': ('所在区域', 'Zone'),
        'config.field.x': ('横坐标', 'x'),
        'config.field.y': ('纵坐标', 'y'),
        'config.field.width': ('宽度', 'Width'),
        'config.field.height': ('高度', 'Height'),
        'config.field.tiers': (
            '办理事项与顺位（1 为主办，空为不办理）',
            'Services and tiers (1 = main, empty = not served)',
        ),
        'config.tier.none': ('不办理', 'Not served'),
        'config.field.hours': (
            '办公时段（须在大厅办公时间 08:00-18:00 内；不设时段则与大厅一致；星期不选即每个工作日）',
            'Opening hours (within the hall’s 08:00-18:00; none: the hall’s hours; no weekday: every working day)',
        ),
        'config.field.hours_start': ('开始', 'From'),
        'config.field.hours_end': ('结束', 'To'),
        'config.field.hours_days': ('星期', 'Weekdays'),
        'config.hours.add': ('添加时段', 'Add a period'),
        'config.hours.remove': ('删除此时段', 'Remove this period'),
        'config.kind.service': ('事项', 'Service'),
        'config.kind.window': ('窗口', 'Window'),
        'config.kind.zone': ('区域', 'Zone'),
        'config.kind.workflow': ('流程', 'Workflow'),
        'config.kind.rules': ('大厅规则', 'Hall rules'),
        'config.kind.import': ('整体导入', 'Whole-hall import'),
        'config.history.row': (
            '{when} · {who} · {what} {subject}（第{version}版）',
            '{when} · {who} · {what} {subject} (v{version})',
        ),
        'config.history.none': ('尚无修改', 'No changes yet'),
    }
)
