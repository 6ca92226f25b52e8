"""Texts of /admin's hall rules tab (zh-CN, English): each rule's name and what it does, in plain words."""

from __future__ import annotations

from components.texts import register

register(
    {
        'admin.tab.rules': ('大厅规则', 'Hall rules'),
        'admin.rules': ('大厅规则', 'Hall rules'),
        'admin.rules.hint': (
            '环境变量给出默认值；在这里保存后，所有服务进程在下一次办理时即按新规则执行，无需重启。',
            'The environment gives the defaults; once saved here, every process applies the new rules '
            'from the next action on, without a restart.',
        ),
        'admin.rules.from_defaults': ('当前使用默认值（尚未修改）', 'The defaults apply (never changed)'),
        'admin.rules.from_version': ('当前为第 {version} 版', 'Version {version} applies'),
        'admin.rules.save': ('保存规则', 'Save rules'),
        'admin.rules.reset': ('放弃修改', 'Discard changes'),
        'admin.rules.saved': ('已保存为第 {version} 版，立即生效', 'Saved as version {version}; it applies now'),
        'admin.rules.unchanged': ('没有修改', 'Nothing changed'),
        'admin.rules.fix': ('请先改正标红的规则', 'Correct the rules marked in red first'),
        'admin.rules.default': ('默认 {value}', 'default {value}'),
        'admin.rules.range': ('可填 {low}–{high}', 'from {low} to {high}'),
        'admin.rules.above': ('大于 {low}，最多 {high}', 'above {low}, at most {high}'),
        'admin.rules.history': ('修改记录', 'Change history'),
        'admin.rules.history.none': ('还没有修改过规则', 'The rules were never changed'),
        'admin.rules.history.row': ('第 {version} 版 · {at} · {actor}', 'Version {version} · {at} · {actor}'),
        'admin.rules.history.change': ('{rule}：{old} → {new}', '{rule}: {old} → {new}'),
        'admin.rule.fairness_cap_minutes': ('公平上限（分钟）', 'Fairness cap (minutes)'),
        'admin.rule.fairness_cap_minutes.hint': (
            '优先号（绿色通道、预约）先于普通号办理，但普通号等候达到这个时长后排到最前面。',
            'Priority tickets (green channel, bookings) go first, but a normal ticket that has waited '
            'this long moves to the front.',
        ),
        'admin.rule.recalls_before_no_show': ('过号前重呼次数', 'Recalls before no-show'),
        'admin.rule.recalls_before_no_show.hint': (
            '叫号后办事人未到，窗口要重呼这么多次，才能标记过号。',
            'When a called citizen does not come, the window recalls this many times before it may mark a no-show.',
        ),
        'admin.rule.recall_interval_seconds': ('重呼间隔（秒）', 'Recall interval (seconds)'),
        'admin.rule.recall_interval_seconds.hint': (
            '每次呼叫后，至少等这么久才能重呼或标记过号。',
            'After each call, the window waits at least this long before a recall or a no-show.',
        ),
        'admin.rule.evaluation_scale': ('评价等级', 'Rating scale'),
        'admin.rule.evaluation_scale.hint': (
            '好差评的等级数；已提交的评价保留提交时的等级。',
            'How many levels a rating has; ratings already given keep theirs.',
        ),
        'admin.rule.rectification_working_days': ('差评整改期限（工作日）', 'Rectification deadline (working days)'),
        'admin.rule.rectification_working_days.hint': (
            '差评转为整改后，须在这么多个工作日内办结。',
            'A bad rating becomes a rectification that must be closed within this many working days.',
        ),
        'admin.rule.elderly_age': ('老年人优先年龄', 'Elder priority age'),
        'admin.rule.elderly_age.hint': (
            '年满这个年龄的办事人刷身份证取号时进入绿色通道，并使用适老化界面。',
            'Citizens of this age or older who take a ticket by ID card get the green channel and the elder layout.',
        ),
        'admin.rule.booking_max_live': ('每人同时保留的预约数', 'Live bookings per person'),
        'admin.rule.booking_max_live.hint': (
            '一个手机账号最多同时保留这么多个还没用的预约。',
            'One phone account holds at most this many unused bookings at a time.',
        ),
        'admin.rule.booking_days_ahead': ('可提前预约的工作日', 'Booking horizon (working days)'),
        'admin.rule.booking_days_ahead.hint': (
            '最远可以预约这么多个工作日之后的时段。',
            'Slots can be booked at most this many working days ahead.',
        ),
        'admin.rule.booking_share': ('预约名额占比', 'Share open to bookings'),
        'admin.rule.booking_share.hint': (
            '每个时段的办理能力中可供预约的比例，其余留给现场取号（0.5 即一半）。',
            "The share of each slot's serving capacity open to bookings; the rest stays for walk-ins (0.5 is half).",
        ),
        'admin.rule.no_show_limit': ('爽约次数上限', 'Missed bookings allowed'),
        'admin.rule.no_show_limit.hint': (
            '统计期内预约未到达到这个次数，暂停该账号预约。',
            'An account that misses this many bookings within the counting period may not book for a while.',
        ),
        'admin.rule.no_show_window_days': ('爽约统计期（天）', 'Counting period (days)'),
        'admin.rule.no_show_window_days.hint': (
            '统计爽约次数的天数。',
            'How many days back missed bookings are counted.',
        ),
        'admin.rule.booking_block_days': ('暂停预约天数', 'Booking pause (days)'),
        'admin.rule.booking_block_days.hint': (
            '爽约达到上限后暂停预约的天数。',
            'How long an account may not book after too many missed bookings.',
        ),
        'admin.rule.choice.four': ('四级', 'Four levels'),
        'admin.rule.choice.five': ('五级（含“基本满意”）', 'Five levels (with "fairly satisfied")'),
        'admin.rule.choice.days': ('{n} 个工作日', '{n} working days'),
    }
)
