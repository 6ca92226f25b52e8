"""Masking of personal values: the one place that decides what of a person may be shown or logged.

UI, logs, exports and the call board all go through these functions, so a rule changes in one place.
Values stored encrypted must be decrypted first; `masked_citizen` does both and returns only masks.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

from app.models.people import Citizen, CitizenPublic
from app.security.crypto import FieldCipher

MASK = '*'
ID_NUMBER_LENGTHS = (15, 18)

# 17 digits + digit/X, not part of a longer digit run (CJK text around it counts as a boundary).
ID_NUMBER_PATTERN = re.compile(r'(?<!\d)\d{17}[\dXx](?!\d)')
# mainland mobile numbers, optionally written with +86 / 86 in front
PHONE_PATTERN = re.compile(r'(?<!\d)(?P<prefix>\+?86[- ]?)?(?P<number>1[3-9]\d{9})(?!\d)')
# what mask_id_number and mask_phone leave of them
MASKED_ID_PATTERN = re.compile(r'(?<![\d*])\d{6}\*{5,8}[\dXx]{4}(?![\d*])')
MASKED_PHONE_PATTERN = re.compile(r'(?<![\d*])1[3-9]\d\*{4}\d{4}(?![\d*])')


def _mask_all_but_last(value: str, keep: int) -> str:
    """Very short values are masked completely: showing 'all but the last 2' of 2 characters shows all."""
    if len(value) <= keep:
        return MASK * len(value)
    return MASK * (len(value) - keep) + value[-keep:]


def mask_id_number(value: str | None) -> str:
    """Keep region (first 6) and last 4 of a resident ID number: enough to tell two people apart at a window."""
    if not value:
        return ''
    value = value.strip()
    if len(value) in ID_NUMBER_LENGTHS:
        return value[:6] + MASK * (len(value) - 10) + value[-4:]
    return _mask_all_but_last(value, 2)


def mask_phone(value: str | None) -> str:
    """'138****1234' for a mainland mobile; other numbers keep only their last 4 digits."""
    if not value:
        return ''
    value = value.strip()
    match = PHONE_PATTERN.fullmatch(value)
    if match:
        number = match['number']
        return (match['prefix'] or '') + number[:3] + MASK * 4 + number[-4:]
    return _mask_all_but_last(value, 4)


def mask_email(value: str | None) -> str:
    """'a***@example.com': the domain tells staff where it went, the person stays unnamed."""
    if not value:
        return ''
    local, _, domain = value.strip().partition('@')
    return f'{local[:1]}{MASK * 3}@{domain}' if domain else _mask_all_but_last(value, 2)


def mask_name(value: str | None) -> str:
    """First character only ('张*', '欧***', 'L*****'): staff can greet the person, a bystander learns little."""
    if not value:
        return ''
    value = value.strip()
    if len(value) <= 1:
        return MASK * len(value)
    return value[0] + MASK * (len(value) - 1)


def mask_text(text: str) -> str:
    """Replace every ID number and mobile number inside free text (log lines, exception messages)."""
    text = ID_NUMBER_PATTERN.sub(lambda m: mask_id_number(m.group()), text)
    return PHONE_PATTERN.sub(lambda m: mask_phone(m.group()), text)


def mask_text_fully(text: str) -> str:
    """Replace every ID number and mobile number inside free text with stars only, the already masked forms
    ('110105********0021', '138****5678') too: for files that leave the system (an export), where even the
    region and the last digits are more than the reader needs."""
    for pattern in (ID_NUMBER_PATTERN, PHONE_PATTERN, MASKED_ID_PATTERN, MASKED_PHONE_PATTERN):
        text = pattern.sub(lambda m: MASK * len(m.group()), text)
    return text


def mask_address(address: str) -> str:
    """Client addresses are personal data: show the network, hide the host part. The audit's stored form
    (network#digest, app.security.addresses.stored_address) holds no host part and is shown as it is."""
    if '#' in address:
        return address
    if '.' in address:
        return '.'.join([*address.split('.')[:3], MASK])
    if ':' in address:
        return ':'.join([*address.split(':')[:3], MASK])
    return address


def age_on(birth: dt.date, day: dt.date) -> int:
    years = day.year - birth.year
    return years - ((day.month, day.day) < (birth.month, birth.day))


def _decrypt(cipher: FieldCipher, token: str | None, context: str) -> str:
    return cipher.decrypt(token, context=context) if token else ''


def masked_citizen(citizen: Citizen, cipher: FieldCipher, *, today: dt.date) -> CitizenPublic:
    """What may leave the server about a citizen: decrypted here, masked before it is returned."""
    assert citizen.id is not None
    return CitizenPublic(
        id=citizen.id,
        name_masked=mask_name(_decrypt(cipher, citizen.name_enc, 'citizen.name')),
        id_number_masked=mask_id_number(_decrypt(cipher, citizen.id_number_enc, 'citizen.id_number')),
        phone_masked=mask_phone(_decrypt(cipher, citizen.phone_enc, 'citizen.phone')),
        age=age_on(citizen.birth_date, today) if citizen.birth_date else None,
    )


class MaskingFilter(logging.Filter):
    """Rewrites a record's message, args and traceback so no ID or mobile number reaches any handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self._masked_message(record)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True

    @staticmethod
    def _masked_message(record: logging.LogRecord) -> tuple[Any, Any]:
        """Render once and mask the result: args of any type (ints, dicts, objects) are covered."""
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: mask the parts, let the handler report the error
            return mask_text(str(record.msg)), _masked_args(record.args)
        masked = mask_text(message)
        return (record.msg, record.args) if masked == message else (masked, None)


def _masked_args(args: Any) -> Any:
    if isinstance(args, dict):
        return {key: mask_text(str(value)) for key, value in args.items()}
    if isinstance(args, tuple):
        return tuple(mask_text(str(value)) for value in args)
    return args


def _attach(target: logging.Filterer, masking: MaskingFilter) -> None:
    if not any(isinstance(existing, MaskingFilter) for existing in target.filters):
        target.addFilter(masking)


def install_log_masking(logger: logging.Logger | str | None = None) -> MaskingFilter:
    """Attach the filter to every root handler and to `logger` (idempotent); call after logging is configured.

    Handler filters cover records propagated from any logger; the logger filter also covers that
    logger's records before they reach handlers added later.
    """
    masking = MaskingFilter()
    for handler in logging.getLogger().handlers:
        _attach(handler, masking)
    if logger is not None:
        _attach(logging.getLogger(logger) if isinstance(logger, str) else logger, masking)
    return masking
