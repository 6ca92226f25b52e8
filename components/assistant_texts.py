"""Texts of 智能导服 (the /guide box and the kiosk's 问一问), zh-CN and English."""

from __future__ import annotations

from components.texts import register

FIELDS = {
    'name': ('事项名称', 'service name'),
    'description': ('事项说明', 'description'),
    'materials': ('所需材料', 'materials'),
    'questions': ('办理问答', 'questions'),
    'department': ('办理部门', 'department'),
}

register(
    {
        'assistant.title': ('问一问', 'Ask'),
        'assistant.hint': (
            '用自己的话说说想办什么事，如：开奶茶店要办什么、社保卡丢了怎么办',
            'Say what you need in your own words, e.g. "open a tea shop", "lost my social security card"',
        ),
        'assistant.placeholder': ('例如：退休了每年要认证吗', 'e.g. do retirees need a yearly check?'),
        'assistant.ask': ('问一问', 'Ask'),
        'assistant.best': ('最合适的事项', 'Best match'),
        'assistant.others': ('也可能是', 'It might also be'),
        'assistant.why': ('因为您说了', 'Because you said'),
        'assistant.why.same': ('「{word}」（{field}）', '"{word}" ({field})'),
        'assistant.why.via': ('「{word}」即「{term}」（{field}）', '"{word}" = "{term}" ({field})'),
        'assistant.answered': ('已按您说的「{label}」列出材料', 'Listed for what you said: {label}'),
        'assistant.materials': ('需要带的材料', 'What to bring'),
        'assistant.steps': ('办理流程', 'Steps'),
        'assistant.quiet': ('人少的时段', 'Quiet times'),
        'assistant.full': ('查看完整办事指南', 'Full guide'),
        'assistant.book': ('预约 {time}', 'Book {time}'),
        'assistant.remote': ('远程取号', 'Take a number remotely'),
        'assistant.take': ('为这个事项取号', 'Take a number for this'),
        'assistant.none': (
            '抱歉，没有找到合适的事项，我们不猜测，请找工作人员帮您。',
            "Sorry, nothing here fits well. We don't guess: please ask a member of staff.",
        ),
        'assistant.elsewhere': (
            '这件事不在本大厅办理，请到{where}咨询办理。',
            'This is not handled here: try {where}.',
        ),
        'assistant.phone': ('咨询电话：{phone}（{label}）', 'Call {phone} ({label})'),
        'assistant.phone.plain': ('咨询电话：{phone}', 'Call {phone}'),
        'assistant.human': ('呼叫人工', 'Call staff'),
        'assistant.close': ('关闭', 'Close'),
    }
)
