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


_REASONS = {  # python-stdnum's finding -> the text of app/services/error_texts.py
    ric.InvalidLength: 'invalid_id_number.length',
    ric.InvalidFormat: 'invalid_id_number.format',
    ric.InvalidChecksum: 'invalid_id_number.checksum',
    ric.InvalidComponent: 'invalid_id_number.component',
}


def parse_id_number(raw: str, *, today: dt.date) -> IdentityFacts:
    """Validate and read an ID number; any fault is an `Invalid('invalid_id_number')`."""
    try:
        number = ric.validate(raw)
        birth = ric.get_birth_date(number)
        place = ric.get_birth_place(number)
    except ValidationError as error:
        text = next((key for kind, key in _REASONS.items() if isinstance(error, kind)), 'invalid_id_number.format')
        raise Invalid('invalid_id_number', text=text) from None
    except KeyError:  # python-stdnum knows some region codes only at prefecture level
        raise Invalid('invalid_id_number', text='invalid_id_number.component') from None
    if birth > today or today.year - birth.year > 130:
        raise Invalid('invalid_id_number', text='invalid_id_number.component')
    region = ' '.join(part for part in (place.get('province'), place.get('prefecture'), place.get('county')) if part)
    return IdentityFacts(number=number, birth_date=birth, region=region)
