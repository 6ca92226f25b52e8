"""What the simulated devices show their sensors: ID cards, QR codes and faces, all synthetic or bundled.

ID numbers are generated with valid checksums (python-stdnum) for mixed ages, and kept only if the
hall's own validator accepts them (region codes must have existed at the birth date). QR codes
are our signed payloads (plus forged and foreign ones) rendered with qrcode: the signed ones are made
by whoever holds the code-signing key (devices/lifecycle.py, `python -m devices.sim`) and handed in as
`QrSamples`, so simulated devices hold no key. Faces are the sample photos scikit-image and matplotlib
ship, so nothing is downloaded.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import random
import secrets
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import matplotlib
import qrcode
from PIL import Image
from skimage import data as skimage_data
from stdnum.cn import ric

from app.security import codes
from app.services.errors import Invalid
from app.services.identity import parse_id_number

REGIONS = ('110101', '110105', '110108', '310104', '310115', '440103', '440305', '330106', '510107')
SURNAMES = '王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高'
GIVEN = '伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华'


@dataclass(frozen=True)
class Card:
    id_number: str
    name: str


def id_number(birth: dt.date, region: str, sequence: int) -> str:
    body = f'{region}{birth:%Y%m%d}{sequence:03d}'
    return body + ric.calc_check_digit(body + '0')


def card_pool(rng: random.Random, size: int = 60, *, today: dt.date | None = None) -> list[Card]:
    """Valid cards of citizens aged 18 to 92 (about a third of them 65 or older: the green channel)."""
    today = today or dt.date.today()
    cards: list[Card] = []
    while len(cards) < size:
        age = rng.choice([rng.randint(18, 64), rng.randint(18, 64), rng.randint(65, 92)])
        birth = today - dt.timedelta(days=age * 365 + rng.randint(0, 364))
        number = id_number(birth, rng.choice(REGIONS), rng.randint(1, 999))
        try:
            parse_id_number(number, today=today)
        except Invalid:
            continue
        cards.append(Card(number, rng.choice(SURNAMES) + ''.join(rng.choices(GIVEN, k=rng.randint(1, 2)))))
    return cards


def broken_card(card: Card) -> Card:
    """The same card with its check digit wrong: what a misread or a fake looks like."""
    last = card.id_number[-1]
    wrong = '0' if last != '0' else '1'
    return Card(card.id_number[:-1] + wrong, card.name)


def qr_png(text: str) -> bytes:
    image = qrcode.make(text, box_size=6, border=4).get_image()
    buffer = io.BytesIO()
    image.save(buffer, format='PNG')
    return buffer.getvalue()


@dataclass(frozen=True)
class QrSamples:
    """Appointment and tracking codes the hall signed, for a simulated scanner to show (no key inside)."""

    signed: tuple[str, ...] = field(repr=False)

    def __post_init__(self) -> None:
        if not self.signed:
            raise ValueError('a QR scanner needs at least one signed code to show')

    def genuine(self, rng: random.Random) -> str:
        return rng.choice(self.signed)

    def forged(self, rng: random.Random) -> str:
        """A real-looking code whose value was changed after signing."""
        prefix, kind, _value, signature = self.genuine(rng).split('.')
        return f'{prefix}.{kind}.{secrets.token_hex(6).upper()}.{signature}'


def signed_qr_samples(code_key: bytes, count: int = 24) -> QrSamples:
    """`count` codes (appointments and tracking codes, alternately) signed with the code-signing key."""
    kinds = ('appt', 'track')
    return QrSamples(
        tuple(
            codes.sign_with_key(code_key, kind, codes.reference() if kind == 'appt' else codes.tracking_code())
            for kind in (kinds[n % 2] for n in range(count))
        )
    )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode('ascii')


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert('RGB').save(buffer, format='JPEG', quality=85)
    return buffer.getvalue()


@cache
def face_jpegs() -> tuple[bytes, ...]:
    """Two people: the astronaut (scikit-image) and Grace Hopper (matplotlib's sample data)."""
    astronaut = Image.fromarray(skimage_data.astronaut())
    hopper = Image.open(Path(matplotlib.get_data_path()) / 'sample_data' / 'grace_hopper.jpg')
    return _jpeg(astronaut), _jpeg(hopper)
