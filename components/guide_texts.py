"""Texts of the service guide (/guide, /guide/{code}), zh-CN and English."""

from __future__ import annotations

from components.texts import register

register(
    {
        'guide.title': ('办事指南', 'Service guide'),
        'guide.search': ('搜索事项（如：二手房、社保）', 'Search (e.g. second-hand home, pension)'),
        'guide.search.none': ('没有找到相关事项，换个词试试', 'Nothing found; try another word'),
        'guide.results': ('搜索结果', 'Results'),
        'guide.departments': ('按部门浏览', 'By department'),
        'guide.back': ('返回事项列表', 'All services'),
        'guide.remote': ('远程取号', 'Take a number remotely'),
        'guide.live': ('现在取号预计等候 {n} 分钟', 'A number taken now waits about {n} min'),
        'guide.live.closed': (
            '大厅现在未开放（工作日 {open}:00-{close}:00 取号）',
            'The hall is closed now (numbers {open}:00-{close}:00 on working days)',
        ),
        'guide.live.none': ('现在没有窗口办理该事项', 'No window serves this right now'),
        'guide.live.now': ('现在取号基本无需等候', 'A number taken now is called almost at once'),
        'guide.windows': ('办理窗口与办公时段', 'Windows and their hours'),
        'guide.questions': ('回答几个问题，材料清单更准确', 'Answer a few questions for your exact list'),
        'guide.materials': ('需要带的材料', 'What to bring'),
        'guide.materials.none': ('无需携带材料', 'Nothing to bring'),
        'guide.materials.depends': ('如果是「{labels}」才需要', 'Only if: {labels}'),
        'guide.materials.data': ('可授权调取部门数据免交', 'Can come from department data with your consent'),
        'guide.steps': ('办理流程', 'How it is handled'),
        'guide.parallel': ('以下部门同时办理', 'These departments work at the same time'),
        'guide.days': ('{n}个工作日', '{n} working days'),
        'guide.days.same': ('当日办结', 'same day'),
        'guide.hours': ('{n}个工作小时', '{n} working hours'),
        'guide.instant': ('秒批', 'Instant approval'),
        'guide.zero': ('零材料', 'No materials'),
        'guide.best': ('什么时候来人少', 'When it is quiet'),
        'guide.best.why': (
            '按历史客流预测每小时预计等候分钟数，颜色越浅越空闲，★ 为当天最空闲时段。',
            'Expected wait in minutes per hour, from past visits; lighter is quieter, ★ marks the quietest.',
        ),
        'guide.best.none': ('暂无预测数据', 'No forecast yet'),
        'guide.best.loading': ('正在按历史客流测算各时段的等候时间…', "Working out each hour's wait from past visits…"),
        'guide.book': ('预约 {time}', 'Book {time}'),
        'guide.quiet': ('推荐时段', 'Quiet slots'),
        'guide.hour': ('时', 'h'),
        'guide.crowded': ('4h+', '4h+'),  # the outlook's cap (staffing.MAX_WAIT): four hours or more
        'guide.print': ('打印版办事指南', 'Printable guide'),
        'guide.print.button': ('打印本页', 'Print this page'),
        'guide.print.hours': ('办理时间', 'Opening hours'),
        'guide.print.hall_hours': (
            '工作日 {open}:00-{close}:00 取号（法定节假日除外）',
            'Numbers {open}:00-{close}:00 on working days (not on public holidays)',
        ),
        'guide.print.qr': (
            '手机扫码查看在线指南、预约或远程取号',
            'Scan for the online guide, booking or a remote number',
        ),
        'guide.print.unanswered': (
            '以下问题会影响材料，请在线回答或到窗口咨询：{questions}',
            'These questions change the list; answer them online or ask at a window: {questions}',
        ),
    }
)
