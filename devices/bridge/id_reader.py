"""ID card readers: the vendor's local reading service over HTTP, or a serial reader through a plug-in.

Most second-generation ID card readers (二代证阅读器) ship a small local service that answers an HTTP
request with the card on the reader as JSON; field names differ by vendor, so the URL, the method and
where the number and name sit in the answer (`fields`, dotted paths) are configured. A reader on a
serial port instead needs its vendor's framing: a plug-in class turns its bytes into cards
(`SerialCardProtocol`; `LineCards` reads "number,name" lines).

A card is sent once while it lies on the reader (it is sent again after it was taken away). Its
number is checked for shape here, kept in memory only for the delivery, never logged, and only a
keyed fingerprint of it is remembered to recognise the same card.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import json
import os
import re
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import serial_asyncio_fast

from devices.bridge.config import ConfigError, Peripheral
from devices.bridge.link import BridgedPeripheral, Check
from devices.bridge.scanner import LineAssembler

ID_NUMBER = re.compile(r'^[0-9]{17}[0-9Xx]$|^[0-9]{15}$')
MAX_NAME = 50
MAX_ANSWER_BYTES = 64 * 1024
DEFAULT_FIELDS = {'id_number': 'certNumber', 'name': 'partyName'}


@dataclass(frozen=True)
class Card:
    id_number: str
    name: str


class SerialCardProtocol(Protocol):
    """A serial reader's framing: bytes in (any chunking), cards out; garbage yields nothing."""

    def feed(self, chunk: bytes) -> list[Card]: ...


class LineCards:
    """Readers that print one card per line as `number,name` (or tab-separated), UTF-8 or GB18030."""

    def __init__(self) -> None:
        self.lines = LineAssembler(limit=128)

    def feed(self, chunk: bytes) -> list[Card]:
        cards = []
        for line in self.lines.feed(chunk):
            for encoding in ('utf-8', 'gb18030'):
                try:
                    text = line.decode(encoding)
                    break
                except UnicodeDecodeError:
                    continue
            else:
                continue
            number, _, name = text.replace('\t', ',').partition(',')
            cards.append(Card(number.strip(), name.strip()))
        return cards


def pick(document: Any, path: str) -> Any:
    """The value at a dotted path (`data.certNumber`), None if absent."""
    for part in path.split('.'):
        if not isinstance(document, dict):
            return None
        document = document.get(part)
    return document


def checked(card: Card) -> Card | None:
    """The card if its fields have the shape of an ID card's (the hub checks the number's checksum)."""
    if not ID_NUMBER.fullmatch(card.id_number) or len(card.name) > MAX_NAME:
        return None
    if any(ord(ch) < 32 for ch in card.name):
        return None
    return Card(card.id_number.upper(), card.name)


class IdCardReader(BridgedPeripheral):
    what = 'ID card reader'

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._salt = os.urandom(16)  # per run: fingerprints mean nothing outside this process
        self._present: bytes | None = None

    def _fingerprint(self, card: Card) -> bytes:
        return hashlib.sha256(self._salt + card.id_number.encode()).digest()

    async def card_seen(self, card: Card | None) -> None:
        """One observation of the reader: a card (sent once while it lies there) or none (taken away)."""
        if card is None:
            self._present = None
            return
        good = checked(card)
        if good is None:
            self.drop('a card answer with a malformed number or name')
            return
        fingerprint = self._fingerprint(good)
        if fingerprint == self._present:
            return
        if await self.deliver('card_read', {'id_number': good.id_number, 'name': good.name}):
            self._present = fingerprint


class HttpIdReader(IdCardReader):
    """Polls the vendor's local reading service, e.g. `http://127.0.0.1:19196/readcard`."""

    def __init__(self, spec: Peripheral, *args: Any, **kwargs: Any) -> None:
        super().__init__(spec, *args, **kwargs)
        fields = spec.get('fields', DEFAULT_FIELDS)
        if not isinstance(fields, dict) or not isinstance(fields.get('id_number'), str):
            raise ConfigError(
                f'[id_reader] {spec.device}: "fields" must map id_number (and name) to the answer\'s keys'
            )
        self.fields = {k: str(v) for k, v in fields.items()}
        self.url = spec.text('url')
        self.method = spec.choice('method', ('GET', 'POST'))

    async def read_once(self, http: httpx.AsyncClient) -> Card | None:
        """Ask the service once; None when no card lies on the reader. Raises on an unusable answer."""
        async with http.stream(self.method, self.url) as response:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_ANSWER_BYTES:
                    raise ValueError(f'answer larger than {MAX_ANSWER_BYTES} bytes')
        if response.status_code >= 500:
            raise ConnectionError(f'the reading service answered {response.status_code}')
        try:
            document = json.loads(bytes(body).decode('utf-8-sig'))
        except (UnicodeDecodeError, ValueError):
            raise ValueError('the answer is not JSON') from None
        number = pick(document, self.fields['id_number'])
        if number in (None, ''):
            return None
        name = pick(document, self.fields.get('name', '')) if self.fields.get('name') else ''
        if not isinstance(number, str) or not isinstance(name, str | None):
            raise ValueError("the answer's fields have the wrong type")
        return Card(number.strip(), (name or '').strip())

    async def work(self) -> None:
        timeout = self.spec.number('timeout', 3.0)
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as http:
            while True:
                try:
                    card = await self.read_once(http)
                except ValueError as error:
                    self.drop(str(error))
                    card = None
                else:
                    await self.hardware_up()
                await self.card_seen(card)
                await asyncio.sleep(self.spec.number('poll_seconds', 0.5))

    async def check_hardware(self, check: Check) -> None:
        try:
            async with httpx.AsyncClient(timeout=self.spec.number('timeout', 3.0), trust_env=False) as http:
                card = await self.read_once(http)
        except (httpx.HTTPError, OSError) as error:
            check.fail(
                f'the card reading service at {self.url} does not answer ({type(error).__name__}): is the '
                f"vendor's reading service installed and running, is the reader plugged in?"
            )
            return
        except ValueError as error:
            check.fail(
                f'the card reading service at {self.url} answers, but not as configured ({error}): '
                f'check "url", "method" and "fields" against the vendor\'s manual'
            )
            return
        check.ok(f'the card reading service at {self.url} answers')
        check.ok('a card lies on the reader and was read' if card else 'no card on the reader (put one on to test)')


class SerialIdReader(IdCardReader):
    """A reader on a serial port; `plugin = "module:Class"` names its framing (default: LineCards)."""

    def __init__(self, spec: Peripheral, *args: Any, **kwargs: Any) -> None:
        super().__init__(spec, *args, **kwargs)
        self.plugin = load_plugin(spec)

    async def work(self) -> None:
        reader, writer = await serial_asyncio_fast.open_serial_connection(
            url=self.spec.text('port'), baudrate=self.spec.integer('baudrate', 115200)
        )
        try:
            await self.hardware_up()
            while True:
                chunk = await reader.read(4096)
                if not chunk:
                    raise ConnectionError('serial port closed')
                for card in self.plugin.feed(chunk):
                    self._present = None  # a serial reader reports each placing of a card once
                    await self.card_seen(card)
        finally:
            writer.close()

    async def check_hardware(self, check: Check) -> None:
        port = self.spec.text('port')
        try:
            _, writer = await serial_asyncio_fast.open_serial_connection(url=port, baudrate=115200)
        except (OSError, ValueError) as error:
            check.fail(
                f'serial port {port} cannot be opened ({error}): is the reader plugged in, is the bridge '
                f'user in the "dialout" group?'
            )
            return
        writer.close()
        check.ok(f'serial port {port} opens (framing: {type(self.plugin).__name__})')


def load_plugin(spec: Peripheral) -> SerialCardProtocol:
    target = str(spec.get('plugin', 'devices.bridge.id_reader:LineCards'))
    module_name, _, class_name = target.partition(':')
    try:
        plugin = getattr(importlib.import_module(module_name), class_name)()
    except (ImportError, AttributeError, TypeError) as error:
        raise ConfigError(f'[id_reader] {spec.device}: plug-in {target!r} cannot be loaded ({error})') from None
    if not callable(getattr(plugin, 'feed', None)):
        raise ConfigError(f'[id_reader] {spec.device}: plug-in {target!r} has no feed(chunk) method')
    return plugin
