"""Masking rules for names, ID numbers and phones, and the log filter that applies them to every line."""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Iterator

import pytest

from app.models.people import Citizen
from app.security.crypto import FieldCipher
from app.security.masking import (
    MaskingFilter,
    install_log_masking,
    mask_id_number,
    mask_name,
    mask_phone,
    mask_text,
    masked_citizen,
)

ID_NUMBER = '110105194912310021'
ID_NUMBER_X = '11010519491231002X'
PHONE = '13812341234'


@pytest.mark.parametrize(
    ('raw', 'masked'),
    [
        (ID_NUMBER, '110105********0021'),
        (ID_NUMBER_X, '110105********002X'),
        (' 110105194912310021 ', '110105********0021'),
        ('110105491231002', '110105*****1002'),  # old 15-digit numbers
        ('12345', '***45'),
        ('ab', '**'),
        ('', ''),
        (None, ''),
    ],
)
def test_mask_id_number(raw: str | None, masked: str) -> None:
    assert mask_id_number(raw) == masked


@pytest.mark.parametrize(
    ('raw', 'masked'),
    [
        (PHONE, '138****1234'),
        ('+8613812341234', '+86138****1234'),
        ('010-62345678', '********5678'),
        ('1234', '****'),
        ('', ''),
        (None, ''),
    ],
)
def test_mask_phone(raw: str | None, masked: str) -> None:
    assert mask_phone(raw) == masked


@pytest.mark.parametrize(
    ('raw', 'masked'),
    [
        ('张三', '张*'),
        ('欧阳娜娜', '欧***'),
        ('买买提·艾力', '买*****'),
        ('Li Lei', 'L*****'),
        ('张', '*'),
        ('', ''),
        (None, ''),
    ],
)
def test_mask_name(raw: str | None, masked: str) -> None:
    assert mask_name(raw) == masked


def test_mask_text_finds_numbers_inside_chinese_text_but_not_inside_longer_numbers() -> None:
    text = f'身份证{ID_NUMBER}，电话{PHONE}；订单 12345678901234567890 金额 13812341234567'
    assert mask_text(text) == (
        '身份证110105********0021，电话138****1234；订单 12345678901234567890 金额 13812341234567'
    )
    assert mask_text(f'id={ID_NUMBER_X.lower()} tel:+86 {PHONE}') == 'id=110105********002x tel:+86 138****1234'


def test_masked_citizen_decrypts_then_masks(cipher: FieldCipher) -> None:
    citizen = Citizen(
        id=7,
        name_enc=cipher.encrypt('欧阳娜娜', context='citizen.name'),
        id_number_enc=cipher.encrypt(ID_NUMBER, context='citizen.id_number'),
        phone_enc=cipher.encrypt(PHONE, context='citizen.phone'),
        birth_date=dt.date(1949, 12, 31),
        created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )
    public = masked_citizen(citizen, cipher, today=dt.date(2026, 11, 28))
    assert public.model_dump() == {
        'id': 7,
        'name_masked': '欧***',
        'id_number_masked': '110105********0021',
        'phone_masked': '138****1234',
        'age': 76,
    }


def test_masked_citizen_without_optional_values(cipher: FieldCipher) -> None:
    citizen = Citizen(id=1, created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    public = masked_citizen(citizen, cipher, today=dt.date(2026, 1, 1))
    assert (public.name_masked, public.id_number_masked, public.phone_masked, public.age) == ('', '', '', None)


@pytest.fixture
def masked_logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger with its own stream handler and the filter installed; everything removed afterwards."""
    logger = logging.getLogger('halltwin.test.masking')
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter('%(levelname)s %(message)s'))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    root_before = {h: list(h.filters) for h in logging.getLogger().handlers}
    install_log_masking(logger)
    yield logger, stream
    logger.removeHandler(handler)
    logger.filters.clear()
    for h, filters in root_before.items():
        h.filters[:] = filters


def assert_clean(text: str) -> None:
    for raw in (ID_NUMBER, PHONE, ID_NUMBER[6:14]):
        assert raw not in text


def test_log_lines_never_show_id_or_phone(
    masked_logger: tuple[logging.Logger, io.StringIO], caplog: pytest.LogCaptureFixture
) -> None:
    logger, stream = masked_logger
    with caplog.at_level(logging.INFO, logger=logger.name):
        logger.info('ticket for %s, phone %s', ID_NUMBER, PHONE)
        logger.info('lookup %(who)s', {'who': int(ID_NUMBER)})
        logger.warning(f'inline {ID_NUMBER} and {PHONE}')
    output = stream.getvalue()
    assert '110105********0021' in output and '138****1234' in output
    assert_clean(output)
    assert_clean(caplog.text)
    for record in caplog.records:
        assert_clean(record.getMessage())


def test_tracebacks_are_masked(masked_logger: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = masked_logger
    try:
        raise ValueError(f'bad number {ID_NUMBER}')
    except ValueError:
        logger.exception('failed for %s', PHONE)
    output = stream.getvalue()
    assert 'ValueError: bad number 110105********0021' in output
    assert_clean(output)


def test_records_propagated_from_child_loggers_are_masked_by_the_root_handler_filter(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO):
        root_handlers = logging.getLogger().handlers
        assert caplog.handler in root_handlers
        install_log_masking()
        try:
            logging.getLogger('halltwin.some.child').info('citizen %s', ID_NUMBER)
        finally:
            for handler in root_handlers:
                handler.filters[:] = [f for f in handler.filters if not isinstance(f, MaskingFilter)]
    assert_clean(caplog.text)
    assert '110105********0021' in caplog.text


def test_install_is_idempotent(masked_logger: tuple[logging.Logger, io.StringIO]) -> None:
    logger, _ = masked_logger
    install_log_masking(logger)
    install_log_masking(logger.name)
    assert sum(isinstance(f, MaskingFilter) for f in logger.filters) == 1
    for handler in logging.getLogger().handlers:
        assert sum(isinstance(f, MaskingFilter) for f in handler.filters) == 1


def test_filter_leaves_clean_records_untouched() -> None:
    record = logging.LogRecord('x', logging.INFO, __file__, 1, 'window %d calls %s', (3, 'A001'), None)
    assert MaskingFilter().filter(record)
    assert (record.msg, record.args) == ('window %d calls %s', (3, 'A001'))


def test_filter_survives_a_broken_format_string() -> None:
    record = logging.LogRecord('x', logging.INFO, __file__, 1, 'id %s %s', (ID_NUMBER,), None)
    assert MaskingFilter().filter(record)
    assert record.args == ('110105********0021',)
