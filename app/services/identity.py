"""Resident ID numbers (GB 11643) through python-stdnum: validity, birth date, age."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from app.services.errors import Invalid


@dataclass(frozen=True)
class IdentityFacts:
    number: str
    birth_date: dt.date
    region: str

    def age_on(self, day: dt.date) -> int:
        years = day.year - self.birth_date.year
        return years - ((day.month, day.day) < (self.birth_date.month, self.birth_date.day))


_REASONS = {
    ric.InvalidLength: '身份证号应为18位 / ID number must have 18 characters',
    ric.InvalidFormat: '身份证号格式错误 / ID number has invalid characters',
    ric.InvalidChecksum: '身份证号校验位错误 / ID number checksum is wrong',
    ric.InvalidComponent: '身份证号的出生日期或地区码无效 / ID number has an invalid birth date or region',
}


def parse_id_number(raw: str, *, today: dt.date) -> IdentityFacts:
    """Validate and read an ID number; any fault is an `Invalid('invalid_id_number')`."""
    try:
        number = ric.validate(raw)
        birth = ric.get_birth_date(number)
        place = ric.get_birth_place(number)
    except ValidationError as error:
        message = next((text for kind, text in _REASONS.items() if isinstance(error, kind)), str(error))
        raise Invalid('invalid_id_number', message) from None
    except KeyError:  # python-stdnum knows some region codes only at prefecture level
        raise Invalid('invalid_id_number', _REASONS[ric.InvalidComponent]) from None
    if birth > today or today.year - birth.year > 130:
        raise Invalid('invalid_id_number', _REASONS[ric.InvalidComponent])
    region = ' '.join(part for part in (place.get('province'), place.get('prefecture'), place.get('county')) if part)
    return IdentityFacts(number=number, birth_date=birth, region=region)
