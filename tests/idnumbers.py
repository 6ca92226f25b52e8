"""Valid synthetic resident ID numbers for tests (checksums computed by python-stdnum)."""

from __future__ import annotations

import datetime as dt

from stdnum.cn import ric


def make_id(birth: dt.date, *, region: str = '110105', sequence: str = '123') -> str:
    body = f'{region}{birth:%Y%m%d}{sequence}'
    return body + ric.calc_check_digit(body + '0')
