"""Texts of /admin's workflow editor (zh-CN, English), registered with the shared text registry."""

from __future__ import annotations

from components.texts import register

register(
    {
        'admin.tab.workflow': ('办件流程', 'Workflows'),
        'workflow.title': ('办件流程编辑', 'Workflow editor'),
        'workflow.hint': (
            '从上方组件中选择环节，拖动环节或整步调整顺序；同一步中的环节由各部门并联办理。'
            '保存后从下一个办件起生效，已在办理的办件按原流程继续。',
            'Pick steps from the palette and drag steps or whole stages to reorder them; steps in one stage are '
            'handled by their departments in parallel. A saved workflow applies from the next case on; '
            'cases already open keep theirs.',
        ),
        'workflow.service': ('事项', 'Service'),
        'workflow.palette': (
            '标准环节（点击添加为新的一步，或拖到某一步中并联办理）',
            'Standard steps (click to add a stage, or drag into a stage)',
        ),
        'workflow.kind.accept': ('受理', 'Accept'),
        'workflow.kind.review': ('审核', 'Review'),
        'workflow.kind.approve': ('审批', 'Approve'),
        'workflow.kind.parallel': ('并联审批', 'Parallel approval'),
        'workflow.kind.auto': ('秒批', 'Instant approval'),
        'workflow.kind.conclude': ('办结', 'Conclude'),
        'workflow.kind.certify': ('制证', 'Certify'),
        'workflow.kind.pickup': ('领取', 'Pickup'),
        'workflow.kind.disburse': ('放款', 'Disburse'),
        'workflow.default.accept': ('受理', 'Accept'),
        'workflow.default.review': ('材料审核', 'Document review'),
        'workflow.default.approve': ('部门审批', 'Department approval'),
        'workflow.default.approve_n': ('部门审批{n}', 'Department approval {n}'),
        'workflow.default.auto': ('秒批审核', 'Instant approval'),
        'workflow.default.rule': ('秒批规则', 'Instant approval rule'),
        'workflow.default.auto_description': (
            '条件全部满足时系统自动通过',
            'Approved by the system when every condition holds',
        ),
        'workflow.default.conclude': ('办结', 'Concluded'),
        'workflow.default.certify': ('电子证照签发', 'E-certificate issued'),
        'workflow.default.certificate': ('电子证照', 'E-certificate'),
        'workflow.default.pickup': ('领取', 'Pickup'),
        'workflow.default.disburse': ('放款', 'Disbursement'),
        'workflow.stage': ('第 {n} 步', 'Stage {n}'),
        'workflow.stage.parallel': ('{n} 个部门并联', '{n} in parallel'),
        'workflow.stage.up': ('上移这一步', 'Move stage up'),
        'workflow.stage.down': ('下移这一步', 'Move stage down'),
        'workflow.stage.add_parallel': ('加一个并联部门', 'Add a parallel department'),
        'workflow.node.up': ('移到上一步', 'Move to the stage before'),
        'workflow.node.down': ('移到下一步', 'Move to the stage after'),
        'workflow.node.remove': ('删除这个环节', 'Remove this step'),
        'workflow.node.name': ('环节名称', 'Step name'),
        'workflow.node.department': ('办理部门', 'Department'),
        'workflow.node.own_department': ('本事项所属部门（{name}）', "The service's department ({name})"),
        'workflow.node.deadline': ('时限', 'Deadline'),
        'workflow.node.hours': ('工作小时', 'working hours'),
        'workflow.node.days': ('工作日', 'working days'),
        'workflow.node.system': ('系统自动完成，无需时限', 'Done by the system, no deadline'),
        'workflow.node.certificate': ('证照名称', 'Certificate'),
        'workflow.node.auto': ('秒批（条件满足时系统自动通过）', 'Instant approval when the conditions hold'),
        'workflow.rule.name': ('规则名称', 'Rule name'),
        'workflow.rule.description': ('规则说明', 'Rule description'),
        'workflow.rule.sources': ('核验的部门数据', 'Department data checked'),
        'workflow.rule.answers': ('要求的自助机回答', 'Kiosk answers required'),
        'workflow.rule.facts': ('另有 {n} 项数据核验条件', '{n} more data conditions'),
        'workflow.source.identity': ('身份信息', 'Identity'),
        'workflow.source.household': ('户籍信息', 'Household registration'),
        'workflow.source.social_insurance': ('社保信息', 'Social insurance'),
        'workflow.source.property': ('不动产信息', 'Real estate'),
        'workflow.ok': ('流程检查通过，可以保存', 'The workflow checks out and can be saved'),
        'workflow.save': ('保存流程', 'Save workflow'),
        'workflow.reload': ('放弃修改', 'Discard changes'),
        'workflow.saved': (
            '已保存为第 {version} 版，从下一个办件起生效',
            'Saved as version {version}; applies from the next case',
        ),
        'workflow.versions': ('历史版本', 'Versions'),
        'workflow.versions.none': ('该事项的流程尚未修改过', 'This workflow was never edited'),
        'workflow.version': (
            '第 {version} 版 · {actor} · {at} · {steps} 个环节',
            'Version {version} · {actor} · {at} · {steps} steps',
        ),
        'workflow.version.current': ('当前', 'current'),
        'workflow.restore': ('恢复此版本', 'Restore'),
        'workflow.restored': (
            '已恢复第 {old} 版，保存为第 {version} 版',
            'Version {old} restored as version {version}',
        ),
    }
)
