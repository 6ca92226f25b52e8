"""What the hall may say to a citizen: fixed templates with typed parameters, nothing else.

Why: a text from the hall's number is believed. If a clerk's or reviewer's free text could reach it, one
return note ("请先访问 http://... 缴纳费用") turns the hall into a phishing sender. So an SMS is always one
of these templates; free text from staff travels only as a `note` shown on /track, never in an SMS. A
parameter is typed, short, and refused (with a clear error, changing nothing) when it carries a link or
a host name, even when it comes from configuration such as a service's name. The one link a text may
carry is a `HallLink`: the hall's own PUBLIC_URL and a path the code builds (a rating or a rescheduling
page), never a string from a person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from app.services.errors import Invalid

MAX_PARAMETER_LENGTH = 40
MAX_NOTE_LENGTH = 400

# a scheme, a www. prefix, an e-mail-like @host, or anything shaped like host.tld (ASCII or full-width dots)
LINK_PATTERN = re.compile(
    r'(?i)([a-z][a-z0-9+.-]*:/{1,2})|(\bwww\d?[.。．])|(@[a-z0-9-]+[.。．])|([a-z0-9-]+[.。．](?:[a-z0-9-]+[.。．])*[a-z]{2,}\b)'
)
CONTROL_PATTERN = re.compile(r'[\x00-\x1f\x7f]')
HALL_PATH = re.compile(r'/(?!/)[A-Za-z0-9/_.-]*(\?[A-Za-z0-9=&:._-]*)?')


@dataclass(frozen=True)
class HallLink:
    """A link to one of the hall's own pages; only `hall_link` builds one."""

    url: str


def hall_link(public_url: str, path: str) -> HallLink | None:
    """The hall's page at `path` under PUBLIC_URL; None when the hall has no public address configured.

    The path is built by our code (a tracking code, a service code, a slot); anything else is a bug."""
    if not public_url:
        return None
    if not HALL_PATH.fullmatch(path):
        raise ValueError(f'not a path of the hall: {path!r}')
    return HallLink(public_url.rstrip('/') + path)


class Template(StrEnum):
    VERIFY_CODE = 'verify_code'
    SIGN_IN_CODE = 'sign_in_code'
    CALLED = 'called'
    QUEUE_NEAR = 'queue_near'
    CASE_STEP_STARTED = 'case_step_started'
    CASE_STEP_STARTED_DUE = 'case_step_started_due'
    PICKUP_READY = 'pickup_ready'
    DISBURSE_STARTED = 'disburse_started'
    CASE_RETURNED = 'case_returned'
    CASE_ACCEPTED = 'case_accepted'
    CASE_TRANSFERRED = 'case_transferred'
    CASE_CONCLUDED = 'case_concluded'
    CERTIFIED = 'certified'
    PICKED_UP = 'picked_up'
    DISBURSED = 'disbursed'
    STEP_APPROVED_BY_RULE = 'step_approved_by_rule'
    STEP_APPROVED = 'step_approved'
    SLA_AT_RISK = 'sla_at_risk'
    RATING_RECEIVED = 'rating_received'
    RECTIFIED = 'rectified'
    RATING_VOID = 'rating_void'
    BOOKED = 'booked'
    BOOKING_CANCELLED = 'booking_cancelled'
    BOOKING_MOVED = 'booking_moved'
    COME_NOW = 'come_now'
    NOT_ARRIVED = 'not_arrived'
    RATE_INVITE = 'rate_invite'
    RATE_INVITE_PAGE = 'rate_invite_page'
    BOOKING_REMINDER = 'booking_reminder'
    BOOKING_REMINDER_PEAK = 'booking_reminder_peak'
    BOOKING_REMINDER_PEAK_PAGE = 'booking_reminder_peak_page'


@dataclass(frozen=True)
class Spec:
    text: str
    params: MappingProxyType[str, type]


def _spec(text: str, **params: type) -> Spec:
    return Spec(text, MappingProxyType(params))


TEMPLATES: dict[Template, Spec] = {
    Template.VERIFY_CODE: _spec(
        '您的办事进度验证码为{code}，{minutes}分钟内有效。请勿告诉任何人，包括大厅工作人员', code=str, minutes=int
    ),
    Template.SIGN_IN_CODE: _spec(
        '您的登录验证码为{code}，{minutes}分钟内有效。请勿告诉任何人，包括大厅工作人员', code=str, minutes=int
    ),
    Template.CALLED: _spec('请{number}号到{window}号窗口办理', number=str, window=int),
    Template.QUEUE_NEAR: _spec('您的{number}号前面还有{ahead}人，请留意叫号', number=str, ahead=int),
    Template.CASE_STEP_STARTED: _spec('您的「{service}」已进入「{step}」环节', service=str, step=str),
    Template.CASE_STEP_STARTED_DUE: _spec(
        '您的「{service}」已进入「{step}」环节，预计{due}前完成', service=str, step=str, due=str
    ),
    Template.PICKUP_READY: _spec('您的「{service}」已可领取：请到大厅窗口办理「{step}」', service=str, step=str),
    Template.DISBURSE_STARTED: _spec('您的「{service}」已进入「{step}」，款项将发放到您的账户', service=str, step=str),
    Template.CASE_RETURNED: _spec(
        '您的「{service}」在「{step}」环节被退回补正，请在办件进度页查看补正说明', service=str, step=str
    ),
    Template.CASE_ACCEPTED: _spec('您的「{service}」已受理', service=str),
    Template.CASE_TRANSFERRED: _spec(
        '您的「{service}」已转至{hall}办理，办件编号不变，进度请在原办件进度页查看', service=str, hall=str
    ),
    Template.CASE_CONCLUDED: _spec('您的「{service}」已办结', service=str),
    Template.CERTIFIED: _spec('您的电子证照已签发（{certificate}），可在办件进度页查看和核验', certificate=str),
    Template.PICKED_UP: _spec('您已领取「{service}」的证照', service=str),
    Template.DISBURSED: _spec('「{service}」的款项已发放', service=str),
    Template.STEP_APPROVED_BY_RULE: _spec('「{step}」已秒批通过', step=str),
    Template.STEP_APPROVED: _spec('「{step}」审批通过', step=str),
    Template.SLA_AT_RISK: _spec(
        '「{service}」办件的「{step}」环节{state}（期限 {due}）', service=str, step=str, state=str, due=str
    ),
    Template.RATING_RECEIVED: _spec(
        '您对「{service}」的评价已收到，{department}将在{deadline}前回访并整改',
        service=str,
        department=str,
        deadline=str,
    ),
    Template.RECTIFIED: _spec(
        '「{service}」的整改已完成，整改说明请在办件进度页查看。欢迎您再次评价本次服务', service=str
    ),
    Template.BOOKED: _spec(
        '您已预约「{service}」{time}，预约号{reference}。请在时段内到大厅自助机扫码签到',
        service=str,
        time=str,
        reference=str,
    ),
    Template.BOOKING_CANCELLED: _spec(
        '您预约的「{service}」{time}（预约号{reference}）已取消', service=str, time=str, reference=str
    ),
    Template.BOOKING_MOVED: _spec(
        '您预约的「{service}」已改到{time}，预约号{reference}不变', service=str, time=str, reference=str
    ),
    Template.COME_NOW: _spec(
        '您远程取的「{service}」{number}号预计约{minutes}分钟后叫号，请现在出发；到厅后扫入口签到码或在自助机扫号确认到达',
        service=str,
        number=str,
        minutes=int,
    ),
    Template.NOT_ARRIVED: _spec(
        '已叫到您的{number}号，但您尚未确认到厅，号码已为您保留；到厅后扫入口签到码即可按原顺序候叫', number=str
    ),
    Template.RATE_INVITE: _spec(
        '您的「{service}」已办理完毕，欢迎为本次服务评价（好差评）：{link}', service=str, link=HallLink
    ),
    Template.RATE_INVITE_PAGE: _spec(
        '您的「{service}」已办理完毕，欢迎在办件进度页（扫取号单二维码打开）为本次服务评价（好差评）', service=str
    ),
    Template.BOOKING_REMINDER: _spec(
        '提醒：您预约了明天{time}办理「{service}」，预约号{reference}。请在时段内到大厅自助机扫码签到',
        service=str,
        time=str,
        reference=str,
    ),
    Template.BOOKING_REMINDER_PEAK: _spec(
        '提醒：您预约了明天{time}办理「{service}」（预约号{reference}），该时段预计人多；{quiet}人少，可改约：{link}',
        service=str,
        time=str,
        reference=str,
        quiet=str,
        link=HallLink,
    ),
    Template.BOOKING_REMINDER_PEAK_PAGE: _spec(
        '提醒：您预约了明天{time}办理「{service}」（预约号{reference}），该时段预计人多；{quiet}人少，可在“我的”页面改约',
        service=str,
        time=str,
        reference=str,
        quiet=str,
    ),
    Template.RATING_VOID: _spec('您对「{service}」的评价经申诉复核，认定与事实不符，不计入满意度统计', service=str),
}


def link_refused(name: str) -> Invalid:
    return Invalid(
        'link_in_message',
        name=name,
    )


def _checked(name: str, value: object, kind: type) -> object:
    if kind is HallLink:
        if not isinstance(value, HallLink):
            raise link_refused(name)
        return value.url
    if kind is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise Invalid('invalid_message_parameter', text='invalid_message_parameter.not_integer', name=name)
        return value
    if not isinstance(value, str):
        raise Invalid('invalid_message_parameter', name=name)
    text = CONTROL_PATTERN.sub(' ', value).strip()
    if len(text) > MAX_PARAMETER_LENGTH:
        raise Invalid('invalid_message_parameter', text='invalid_message_parameter.too_long', name=name)
    if LINK_PATTERN.search(text):
        raise link_refused(name)
    return text


@dataclass(frozen=True)
class Message:
    """One template with checked parameters; `text` is the only wording that may leave as an SMS."""

    template: Template
    params: MappingProxyType[str, object]

    @property
    def text(self) -> str:
        return TEMPLATES[self.template].text.format(**self.params)


def message(template: Template, **params: object) -> Message:
    """The message, or Invalid naming the missing, unexpected, mistyped or link-carrying parameter."""
    template = Template(template)
    spec = TEMPLATES[template]
    missing, unexpected = set(spec.params) - set(params), set(params) - set(spec.params)
    if missing or unexpected:
        names = ', '.join(sorted(missing | unexpected))
        raise Invalid('invalid_message_parameter', text='invalid_message_parameter.names', names=names)
    checked = {name: _checked(name, params[name], kind) for name, kind in spec.params.items()}
    return Message(template, MappingProxyType(checked))


def page_text(msg: Message, note: str = '') -> str:
    """The copy shown on /track: the template's text, then staff's free text as a separate note."""
    note = CONTROL_PATTERN.sub(' ', note).strip()[:MAX_NOTE_LENGTH]
    return f'{msg.text}\n说明：{note}' if note else msg.text
