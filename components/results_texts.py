"""Texts of the satisfaction rankings (public /ranking and the managers' page) and of device MTTR."""

from __future__ import annotations

from components.texts import register

register(
    {
        'results.title': ('评价结果公开', 'Published satisfaction results'),
        'results.month': ('月份', 'Month'),
        'results.month_label': ('{year}年{month}月', '{year}-{month:02d}'),
        'results.intro': (
            '按办事群众对本厅服务的评价（好差评）统计，每月公开；整改后复评或申诉成立的评价按最终结果计。',
            'From the ratings citizens gave this hall, published monthly; re-ratings and upheld appeals count '
            'as decided.',
        ),
        'results.overall': (
            '{month}共 {ratings} 条评价，满意率 {rate}',
            '{month}: {ratings} ratings, {rate} satisfied',
        ),
        'results.none': ('该月暂无评价', 'No ratings in this month'),
        'results.windows': ('窗口排名', 'Windows'),
        'results.departments': ('部门排名', 'Departments'),
        'results.staff': ('工作人员排名（仅管理人员可见）', 'Staff (managers only)'),
        'results.rank': ('名次', 'Rank'),
        'results.name': ('名称', 'Name'),
        'results.ratings': ('评价数', 'Ratings'),
        'results.satisfied': ('满意', 'Satisfied'),
        'results.rate': ('满意率', 'Satisfied share'),
        'results.public_link': ('打开公开页', 'Open the public page'),
        'mttr.title': (
            '设备平均修复时间（目标 ≤ {target} 分钟）',
            'Device mean time to repair (target ≤ {target} min)',
        ),
        'mttr.today': ('今日', 'Today'),
        'mttr.month': ('本月', 'This month'),
        'mttr.kind': ('设备类型', 'Device kind'),
        'mttr.repairs': ('修复次数', 'Repairs'),
        'mttr.mean': ('平均修复', 'Mean'),
        'mttr.longest': ('最长', 'Longest'),
        'mttr.open': ('未修复', 'Still faulty'),
        'mttr.minutes': ('{n} 分钟', '{n} min'),
        'mttr.met': ('达标', 'on target'),
        'mttr.missed': ('超出目标', 'over target'),
        'mttr.other': ('其他设备', 'other device'),
        'mttr.none': ('该时段没有设备故障', 'No device faults in this period'),
    }
)
