"""Texts of 上门服务 (home visits) on /me, /proxy and /manager, zh-CN and English."""

from __future__ import annotations

from components.texts import register

register(
    {
        'visit.title': ('上门服务', 'Home visits'),
        'visit.why': (
            '行动不便、无法到大厅？工作人员可预约时间上门为您办理。',
            'Cannot come to the hall? Staff can come to your home at an agreed time.',
        ),
        'visit.service': ('办理事项', 'Service'),
        'visit.address': ('上门地址（仅上门人员可见完整地址）', 'Address (shown in full only to the people sent)'),
        'visit.ask': ('申请上门服务', 'Ask for a home visit'),
        'visit.asked': ('已提交，工作人员将与您联系预约时间', 'Sent: staff will agree a time with you'),
        'visit.none': ('没有上门服务申请', 'No home visits'),
        'visit.slot': ('上门时间 {start}–{end}', 'Visit {start}–{end}'),
        'visit.no_slot': ('待预约上门时间', 'Time to be agreed'),
        'visit.people': ('上门人员：{names}', 'Coming: {names}'),
        'visit.status.requested': ('待排期', 'Requested'),
        'visit.status.scheduled': ('已排期', 'Scheduled'),
        'visit.status.assigned': ('已派员', 'Staff assigned'),
        'visit.status.done': ('已办结', 'Done'),
        'visit.queue': ('上门服务队列', 'Home visit queue'),
        'visit.queue.empty': ('没有待办的上门服务', 'No open home visits'),
        'visit.queue.requested': ('{n} 件待排期', '{n} to schedule'),
        'visit.queue.scheduled': ('{n} 件待派员', '{n} to staff'),
        'visit.queue.assigned': ('{n} 件待上门', '{n} to visit'),
        'visit.queue.unscheduled': ('未排期 · 申请于 {at}', 'Not scheduled · asked {at}'),
    }
)
