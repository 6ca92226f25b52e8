"""Email for businesses: a case may carry its applicant's contact address, and the moments it must hear of go there.

Why only some moments: a business waits for 受理, 补正, 办结 and its certificate, not for every department's
step. The email says exactly what the SMS template says (app/services/messages.py explains why no staff text
travels in a message from the hall) and points to the case's progress page for the details. The address is
stored encrypted (`Case.contact_email_enc`), checked strictly before anything changes (one address, no
spaces or line breaks that could add a header or a second recipient), and shown only masked.
"""

from __future__ import annotations

import datetime as dt
import re

from app.services.errors import Invalid
from app.services.limits import Limit
from app.services.messages import Message, Template

CONTACT_EMAIL_CONTEXT = 'case.contact_email'
MAX_EMAIL_LENGTH = 254  # RFC 5321's limit on a forward path
EMAIL_PATTERN = re.compile(
    r'[A-Za-z0-9!#$%&\'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+'
)

# the notices a business is emailed: accepted, more materials needed, done, its certificate, ready for pickup
EMAILED = frozenset(
    {
        Template.CASE_ACCEPTED,
        Template.CASE_RETURNED,
        Template.CASE_CONCLUDED,
        Template.CERTIFIED,
        Template.PICKUP_READY,
    }
)
SUBJECT = '办件进度通知 / Case update'
FOOTER = (
    '详情请在办件进度页查看（扫取号单上的二维码打开）。本邮件由系统自动发送，请勿回复。\n'
    'Details are on the case progress page (scan the QR code on your ticket). This email was sent automatically; '
    'please do not reply.'
)


def clean_email(raw: str) -> str:
    """The address as it will be stored (trimmed, domain lower-cased), '' for none, or Invalid('invalid_email')."""
    value = raw.strip()
    if not value:
        return ''
    if len(value) > MAX_EMAIL_LENGTH or not EMAIL_PATTERN.fullmatch(value) or '..' in value:
        raise Invalid('invalid_email')
    local, _, domain = value.rpartition('@')
    if local.startswith('.') or local.endswith('.'):
        raise Invalid('invalid_email')
    return f'{local}@{domain.lower()}'


def emailed(msg: Message) -> bool:
    """Whether a business that left an address hears of this notice by email too."""
    return msg.template in EMAILED


def email_text(msg: Message) -> str:
    """The email's body: the template's words, then where to read more."""
    return f'{msg.text}\n\n{FOOTER}'


def email_per_address(cap: int) -> Limit:
    """At most `cap` emails a day to one address, whichever process sends them (counted like texts per number)."""
    return Limit('email:address', cap, dt.timedelta(days=1), 'email_capped')
