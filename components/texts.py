"""UI texts, zh-CN first and English second; `t(key)` picks the configured language."""

from __future__ import annotations

from app.services.errors import DomainError
from app.settings import get_settings

TEXTS: dict[str, tuple[str, str]] = {
    'app.title': ('政务服务大厅', 'Government Service Hall'),
    'home.subtitle': ('实时大厅', 'Live hall'),
    'home.windows': ('窗口', 'Windows'),
    'home.queues': ('各事项排队', 'Queues by service'),
    'queue.service': ('事项', 'Service'),
    'queue.waiting': ('等候人数', 'Waiting'),
    'queue.eta': ('预计等候', 'Expected wait'),
    'queue.oldest': ('最长已等', 'Longest wait'),
    'queue.no_window': ('暂无窗口', 'no window open'),
    'queue.now': ('无需等候', 'no wait'),
    'minutes': ('{n} 分钟', '{n} min'),
    'window.idle': ('空闲', 'idle'),
    'window.state.open': ('开放', 'open'),
    'window.state.paused': ('暂停', 'paused'),
    'window.state.closed': ('关闭', 'closed'),
    'window.serving': ('正在办理', 'Serving'),
    'nav.home': ('大厅', 'Hall'),
    'nav.login': ('工作人员登录', 'Staff login'),
    'nav.logout': ('退出', 'Log out'),
    'login.title': ('工作人员登录', 'Staff login'),
    'login.username': ('用户名', 'Username'),
    'login.password': ('密码', 'Password'),
    'login.submit': ('登录', 'Log in'),
    'login.totp': ('动态验证码（或恢复码）', 'Authenticator code (or recovery code)'),
    'login.new_password': ('新密码（至少 10 位）', 'New password (at least 10 characters)'),
    'enrol.title': ('设置动态验证码', 'Set up your authenticator'),
    'enrol.scan': (
        '用身份验证器应用扫描二维码，然后输入它显示的6位数字。',
        'Scan the QR code with an authenticator app, then enter the 6-digit code it shows.',
    ),
    'enrol.code': ('6位验证码', '6-digit code'),
    'enrol.confirm': ('确认', 'Confirm'),
    'enrol.done': (
        '已设置。请抄下这些恢复码并妥善保管，每个只能用一次，只显示这一次：',
        'Done. Write down these recovery codes; each works once and they are shown only now:',
    ),
    'enrol.already': ('您已设置动态验证码。', 'Your authenticator is already set up.'),
    'enrol.continue': ('继续', 'Continue'),
    'login.expired': ('登录已失效，请重新登录', 'Your session has ended; please log in again'),
    'login.logged_out': ('您已安全退出', 'You have logged out'),
    'login.idle': ('长时间未操作，已自动退出，请重新登录', 'You were logged out after a period of inactivity'),
    'login.deactivated': ('该账户已停用，如有疑问请联系管理员', 'This account has been deactivated'),
    'login.changed': (
        '您的角色、窗口或部门已变更，请重新登录',
        'Your role, window or department changed; please log in again',
    ),
    'nav.api': ('接口文档', 'API'),
}


WEEKDAYS = (  # by date.weekday(): Monday first
    ('周一', 'Mon'),
    ('周二', 'Tue'),
    ('周三', 'Wed'),
    ('周四', 'Thu'),
    ('周五', 'Fri'),
    ('周六', 'Sat'),
    ('周日', 'Sun'),
)


def register(texts: dict[str, tuple[str, str]]) -> None:
    """Page and component modules add their own texts here (zh-CN, English); keys must not clash."""
    clashes = {key for key in texts if key in TEXTS and TEXTS[key] != texts[key]}
    if clashes:
        raise ValueError(f'text keys defined twice: {sorted(clashes)}')
    TEXTS.update(texts)


def error_text(error: DomainError) -> str:
    """A domain error's words in the hall's language."""
    return error.render(get_settings().lang)


def in_english() -> bool:
    """The hall speaks English (HALL_LANG=en): for names kept in both languages, such as services."""
    return get_settings().lang == 'en'


def t(key: str, **values: object) -> str:
    zh, en = TEXTS[key]
    text = en if get_settings().lang == 'en' else zh
    return text.format(**values) if values else text


def weekday(index: int, lang: str) -> str:
    """The short weekday name (`date.weekday()` index) in the given language."""
    zh, en = WEEKDAYS[index]
    return en if lang == 'en' else zh
