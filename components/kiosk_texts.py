"""The kiosk's words (zh-CN, English): short, plain, one instruction per line."""

from __future__ import annotations

from app.settings import get_settings
from components.texts import register

register(
    {
        'kiosk.title': ('自助取号', 'Take a number'),
        'kiosk.help': ('呼叫人工', 'Call staff'),
        'kiosk.help_sent': (
            '已通知工作人员，请稍候，马上有人来帮您',
            'Staff have been told: someone is coming to help you',
        ),
        'kiosk.unavailable': (
            '暂时无法取号，请联系工作人员',
            'Tickets cannot be issued right now: please ask a member of staff',
        ),
        'kiosk.arrived': (
            '{number}号已确认到厅，请留意叫号',
            'Ticket {number}: arrival confirmed, watch the call board',
        ),
        'kiosk.home': ('返回首页', 'Start over'),
        'kiosk.back': ('返回', 'Back'),
        'kiosk.choose_start': ('请选择取号方式', 'How would you like to start?'),
        'kiosk.card.title': ('刷身份证', 'ID card'),
        'kiosk.card.hint': ('请将身份证放在下方读卡区', 'Place your ID card on the reader below'),
        'kiosk.card.no_reader': (
            '本机无读卡器，可请工作人员协助，或直接选择事项',
            'No card reader here: ask staff to assist, or choose a service',
        ),
        'kiosk.card.manual': ('工作人员协助：输入身份证号', 'Staff assist: type the ID number'),
        'kiosk.card.number': ('身份证号', 'ID number'),
        'kiosk.confirm': ('确认', 'Confirm'),
        'kiosk.tap': ('点击开始 ›', 'Tap to start ›'),
        'kiosk.face.title': ('刷脸取号', 'Face'),
        'kiosk.face.hint': ('需单独同意；也可随时改用身份证', 'Needs your separate consent; ID card always works'),
        'kiosk.appt.title': ('预约签到', 'Appointment'),
        'kiosk.appt.hint': ('扫描预约二维码，或输入预约码', 'Scan the appointment QR code, or type its code'),
        'kiosk.appt.code': ('预约码', 'Appointment code'),
        'kiosk.manual.title': ('直接选择事项', 'Choose a service'),
        'kiosk.manual.hint': ('不带证件也可以取号', 'No ID needed to take a number'),
        'kiosk.identified': ('已识别 {masked}（{age} 岁）', 'Identified {masked} (age {age})'),
        'kiosk.green': ('绿色通道：优先办理', 'Green channel: served first'),
        'kiosk.consent.title': ('刷脸取号告知书', 'Face ticketing consent'),
        'kiosk.consent.check': (
            '我已阅读并同意上述告知和所选范围',
            'I have read this and agree, for the scope chosen',
        ),
        'kiosk.consent.scope': ('同意范围', 'How long'),
        'kiosk.consent.scope.once': ('仅本次取号', 'This ticket only'),
        'kiosk.consent.scope.same_kind': (
            '同类事项（以后来办事刷脸取号也同意，可随时撤回）',
            'Same kind of matter (later visits too, until you withdraw)',
        ),
        'kiosk.consent.minor': (
            '未满14周岁的儿童不能自己同意刷脸：须由监护人本人在场，请工作人员协助记录监护人同意。',
            'Children under 14 cannot agree to face ticketing alone: a guardian must be present; please ask staff.',
        ),
        'kiosk.consent.agree': ('同意并开始刷脸', 'Agree and start'),
        'kiosk.consent.decline': ('不同意，改用身份证', 'No thanks, use my ID card'),
        'kiosk.face.look': ('请正视上方摄像头，保持不动', 'Look at the camera above and hold still'),
        'kiosk.enrol.offer': ('开通刷脸取号（可选）', 'Set up face ticketing (optional)'),
        'kiosk.enrol.offer_hint': (
            '下次来办事可刷脸取号，不带身份证也行；不开通不影响今天取号',
            'Next time take a number by face, even without your ID card; skipping it changes nothing today',
        ),
        'kiosk.enrol.open': ('了解并开通', 'Find out more'),
        'kiosk.enrol.title': ('开通刷脸取号', 'Set up face ticketing'),
        'kiosk.enrol.purpose': (
            '用途：只用于在本大厅自助机刷脸取号。人脸特征加密保存，您可随时在“我的”或进度查询页撤回，撤回即删除。',
            "Purpose: only to take a number by face at this hall's kiosks. Your face template is stored encrypted; "
            'withdraw at any time under "Me" or on the progress page and it is deleted at once.',
        ),
        'kiosk.enrol.scope': ('同意范围', 'How long'),
        'kiosk.enrol.scope.once': ('仅本次（今天办完即删除）', 'This visit only (deleted when today ends)'),
        'kiosk.enrol.scope.same_kind': (
            '同类事项（保留至您撤回，以后来办事都可刷脸）',
            'Same kind of matter (kept until you withdraw, for later visits)',
        ),
        'kiosk.enrol.check': ('我已阅读并同意上述告知和所选范围', 'I have read and agree, for the scope chosen'),
        'kiosk.enrol.agree': ('同意，开始拍摄', 'Agree and take the pictures'),
        'kiosk.enrol.decline': ('不开通，继续取号', 'No thanks, carry on'),
        'kiosk.enrol.look': (
            '请正对摄像头，眨一下眼或慢慢转一下头',
            'Face the camera, then blink or slowly turn your head',
        ),
        'kiosk.enrol.look_hint': (
            '用于确认是您本人在场，照片无法通过',
            'This checks that you are really here: a photo will not pass',
        ),
        'kiosk.enrol.capture': ('开始拍摄', 'Take the pictures'),
        'kiosk.enrol.fallback': ('不用了，继续用身份证', 'Never mind, carry on with my ID card'),
        'kiosk.enrol.done': ('已开通刷脸取号', 'Face ticketing is set up'),
        'kiosk.face.fallback': ('改用身份证或直接选择事项', 'Use your ID card or choose a service instead'),
        'kiosk.services.title': ('请选择要办理的事项', 'Which service do you need?'),
        'kiosk.services.elder': ('常办事项', 'Common services'),
        'kiosk.services.all': ('查看全部事项', 'Show all services'),
        'kiosk.waiting': ('{n} 人等候', '{n} waiting'),
        'kiosk.questions': ('请回答以下问题，我们为您列出需要带的材料', 'Answer these so we can list what to bring'),
        'kiosk.materials': ('需要准备的材料', 'What to bring'),
        'kiosk.materials.none': ('无需材料', 'Nothing to bring'),
        'kiosk.depends': ('如选择「{labels}」需要', 'needed if "{labels}"'),
        'kiosk.take': ('取号', 'Take a number'),
        'kiosk.other_service': ('换一个事项', 'Another service'),
        'kiosk.ticket.your_number': ('您的号码', 'Your number'),
        'kiosk.ticket.ahead': ('前面还有 {n} 人', '{n} ahead of you'),
        'kiosk.ticket.next': ('下一位就是您', 'You are next'),
        'kiosk.ticket.eta': ('预计等候约 {m} 分钟（{low}–{high} 分钟）', 'About {m} min ({low}–{high} min)'),
        'kiosk.ticket.eta_soon': ('很快就到您（一般不超过 {high} 分钟）', 'Very soon (usually within {high} min)'),
        'kiosk.ticket.no_eta': ('暂无开放窗口，请留意叫号', 'No window open yet: listen for your number'),
        'kiosk.ticket.windows': ('办理窗口：{hint}', 'Windows: {hint}'),
        'kiosk.ticket.scan': ('手机扫码，随时查看排队进度', 'Scan with your phone to follow your place'),
        'kiosk.ticket.printing': ('正在打印凭条…', 'Printing your ticket…'),
        'kiosk.ticket.printed': ('凭条已打印，请取走', 'Your ticket is printed: please take it'),
        'kiosk.ticket.photo': (
            '打印机暂不可用，请拍照保存本页',
            'The printer is unavailable: please photograph this screen',
        ),
        'kiosk.ticket.done': ('完成', 'Done'),
        'kiosk.ticket.listen': (
            '请在候办区等候，留意大屏和广播叫号',
            'Please wait in the waiting area and watch the board',
        ),
        'kiosk.assist': ('工作人员协助', 'Staff assist'),
        'kiosk.assist.title': ('工作人员协助登录', 'Staff sign-in to assist'),
        'kiosk.assist.hint': (
            '请使用本人账号登录；结束协助、返回首页或本机空闲时自动退出',
            'Use your own account: you are signed out when assist ends, the kiosk restarts or idles',
        ),
        'kiosk.assist.sign_in': ('登录协助', 'Sign in'),
        'kiosk.assist.cancel': ('取消', 'Cancel'),
        'kiosk.assist.by': ('工作人员 {name} 协助中', '{name} (staff) is assisting'),
        'kiosk.assist.started': ('已开始协助，可输入身份证号', 'Assisting: the ID number can now be typed'),
        'kiosk.assist.priority': ('优先需要：', 'Priority needs:'),
        'kiosk.assist.disability': ('残疾人', 'Disability'),
        'kiosk.assist.pregnancy': ('孕妇', 'Pregnancy'),
        'kiosk.assist.end': ('结束协助', 'End assist'),
        'kiosk.assist.ended': ('协助已结束', 'Assist ended'),
        'kiosk.unpaired': (
            '本机已解除配对，暂停服务，请联系管理员',
            'This kiosk has been unpaired and is out of service: please call an admin',
        ),
        'kiosk.not_found.title': ('未找到该自助取号机', 'Kiosk not found'),
        'kiosk.not_found.body': (
            '设备编号 {code} 不是本大厅登记的自助取号机。',
            '{code} is not a registered kiosk of this hall.',
        ),
    }
)


def pick(zh: str, en: str) -> str:
    """Catalogue data comes in both languages: the configured one, falling back to Chinese."""
    return en if en and get_settings().lang == 'en' else zh
