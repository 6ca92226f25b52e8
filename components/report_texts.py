"""Texts of the monthly report page (/report/{month}) and the managers' report tab."""

from __future__ import annotations

from components.texts import register

register(
    {
        'report.title': ('月度监测报告', 'Monthly report'),
        'report.heading': ('{month} 监测报告', 'Monitoring report {month}'),
        'report.generated': ('生成于 {at}（{by}）', 'Generated {at} ({by})'),
        'report.pdf': ('下载 PDF', 'Download PDF'),
        'report.csv': ('下载 CSV', 'Download CSV'),
        'report.back': ('返回管理页', 'Back to the manager page'),
        'report.hall': ('全厅指标', 'Hall indicators'),
        'report.indicator': ('指标', 'Indicator'),
        'report.value': ('本月', 'This month'),
        'report.change': ('环比', 'Change'),
        'report.limits': ('控制限', 'Control limits'),
        'report.anomalies': ('异常指标', 'Anomalies'),
        'report.no_anomalies': (
            '本月没有超出控制限的指标（至少需要3个月历史数据）',
            'Nothing outside its control limits (limits need 3 months of history)',
        ),
        'report.anomaly_line': (
            '{scope}{name}：{indicator} {value}，控制限 {low} – {high}',
            '{scope}{name}: {indicator} {value}, limits {low} – {high}',
        ),
        'report.assessment': ('考核', 'Assessment'),
        'report.window_scores': ('窗口考核得分', 'Window scores'),
        'report.department_scores': ('部门考核得分', 'Department scores'),
        'report.case_time': ('跨部门办件时长占比', 'Share of cross-department case time'),
        'report.overdue': ('超期部门：{names}', 'Overdue departments: {names}'),
        'report.no_overdue': ('没有超期部门', 'No department overdue'),
        'report.satisfaction_chart': ('各窗口群众满意度', 'Satisfaction per window'),
        'report.score': ('得分', 'Score'),
        'report.name': ('名称', 'Name'),
        'report.departments': ('部门', 'Departments'),
        'report.windows': ('窗口', 'Windows'),
        'report.staff': ('工作人员（仅管理人员可见）', 'Staff (managers only)'),
        'report.empty': ('暂无数据', 'No data'),
        'report.scope.hall': ('全厅', 'Hall'),
        'report.scope.department': ('部门 ', 'Department '),
        'report.scope.window': ('', ''),
        'report.scope.staff': ('工作人员 ', 'Staff '),
        'manager.reports': ('月度报告', 'Monthly reports'),
        'report.kept': ('已生成的月度报告', 'Kept reports'),
        'report.none_kept': (
            '还没有月度报告（每月1日自动生成上月报告）',
            "No report yet (last month's is made on the 1st)",
        ),
        'report.generate': ('立即生成上月报告', "Generate last month's report now"),
        'report.generated_now': ('已生成 {month} 报告', 'Report {month} generated'),
    }
)
