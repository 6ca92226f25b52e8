"""What the kiosk says aloud at each step (语音导航): one short instruction, the materials, the ticket result.

Plain words, the same as on the screen; the screen speaks them through components/voice.js (Mandarin
zh-CN voice, English when the hall runs in English).
"""

from __future__ import annotations

from app.services import materials
from app.services.kiosk import Step
from components.kiosk_texts import pick
from components.texts import in_english, register, t

register(
    {
        'kiosk.say.start': (
            '您好。请刷身份证，或者点击“直接选择事项”。需要帮助，请按右上角“呼叫人工”。',
            'Welcome. Place your ID card on the reader, or tap "Choose a service". For help, tap "Call staff".',
        ),
        'kiosk.say.consent': (
            '刷脸取号需要您同意。同意请点“同意并开始刷脸”，不同意可以改用身份证。',
            'Face ticketing needs your consent. Tap "Agree and start", or use your ID card instead.',
        ),
        'kiosk.say.face': ('请看上方摄像头，保持不动。', 'Look at the camera above and hold still.'),
        'kiosk.say.enrol_consent': (
            '可以开通刷脸取号，不开通也不影响今天取号。',
            'You may set up face ticketing; skipping it changes nothing today.',
        ),
        'kiosk.say.enrol': ('请正对摄像头，眨一下眼。', 'Face the camera and blink.'),
        'kiosk.say.service': ('请选择要办理的事项。', 'Choose the service you need.'),
        'kiosk.say.service_name': ('您选择的是：{name}。', 'You chose: {name}.'),
        'kiosk.say.questions': ('请先回答屏幕上的问题。', 'Please answer the questions on the screen first.'),
        'kiosk.say.materials': ('需要准备的材料有：{items}。', 'Please bring: {items}.'),
        'kiosk.say.no_materials': ('这个事项不需要带材料。', 'Nothing to bring for this service.'),
        'kiosk.say.take': ('准备好了，请点“取号”。', 'When ready, tap "Take a number".'),
        'kiosk.say.number': ('您的号码是 {number}。', 'Your number is {number}.'),
        'kiosk.say.ahead': ('前面还有 {n} 人。', '{n} people are ahead of you.'),
        'kiosk.say.next': ('下一位就是您。', 'You are next.'),
        'kiosk.say.window': ('请到 {hint} 办理，请留意叫号。', 'Go to {hint} when called.'),
        'kiosk.say.listen': ('请留意大屏和广播叫号。', 'Watch the board and listen for your number.'),
        'kiosk.idle.title': ('您还在吗？', 'Are you still there?'),
        'kiosk.idle.body': (
            '如果没有操作，{n} 秒后回到首页，已填的内容不会保存。',
            'Without a tap, the kiosk starts over in {n} seconds and forgets what you entered.',
        ),
        'kiosk.idle.continue': ('继续', 'Continue'),
    }
)

STEP_WORDS = {
    Step.START: 'kiosk.say.start',
    Step.CONSENT: 'kiosk.say.consent',
    Step.FACE: 'kiosk.say.face',
    Step.ENROL_CONSENT: 'kiosk.say.enrol_consent',
    Step.ENROL: 'kiosk.say.enrol',
    Step.SERVICE: 'kiosk.say.service',
}


def voice_lang() -> str:
    return 'en-US' if in_english() else 'zh-CN'


def step_words(step: Step) -> list[str]:
    """The instruction for a step without details of its own (not the checklist or the ticket)."""
    return [t(STEP_WORDS[step])] if step in STEP_WORDS else []


def checklist_words(service_name: str, checklist: materials.Checklist) -> list[str]:
    """The service, what to bring (or that questions come first), and what to tap next."""
    words = [t('kiosk.say.service_name', name=service_name)]
    if checklist.unanswered:
        words.append(t('kiosk.say.questions'))
    items = [pick(item.name, item.name_en) for item in checklist.required]
    if items:
        words.append(t('kiosk.say.materials', items='、'.join(items) if not in_english() else ', '.join(items)))
    elif not checklist.unanswered:
        words.append(t('kiosk.say.no_materials'))
    words.append(t('kiosk.say.take'))
    return words


def ticket_words(number: str, ahead: int | None, window_hint: str) -> list[str]:
    """The ticket result: the number, how many are ahead, where to go."""
    words = [t('kiosk.say.number', number=number)]
    if ahead is not None:
        words.append(t('kiosk.say.ahead', n=ahead) if ahead else t('kiosk.say.next'))
    words.append(t('kiosk.say.window', hint=window_hint) if window_hint else t('kiosk.say.listen'))
    return words
