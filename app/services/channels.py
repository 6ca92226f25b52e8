"""Notification channels behind one interface: SMS (a file stand-in, Aliyun, Tencent Cloud), email, in-page push.

Contract of `send`: the message's `key` (the outbox row's dedupe key) is an idempotency key. A channel
that is asked twice for the same key delivers once, like a real SMS gateway given a client message id
(阿里云 OutId, 腾讯云 SessionContext). That is what makes a delivery retried after a crash safe.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from app.bus import Bus
from app.clock import utcnow
from app.events import NotificationSent
from app.security.masking import mask_phone

log = logging.getLogger(__name__)

PUSH = 'push'
SMS = 'sms'
EMAIL = 'email'
RECENT_KEYS = 100_000


@dataclass(frozen=True)
class Outgoing:
    key: str
    notification_id: int
    hall_id: int
    kind: str
    text: str
    ticket_id: int | None = None
    case_id: int | None = None
    phone: str | None = None  # only for SMS; decrypted just before sending, never stored with the message
    template: str = ''  # SMS: the message kind (app/services/messages.py Template) ...
    params: tuple[tuple[str, str], ...] = ()  # ... its parameters in the template's order ...
    template_code: str = ''  # ... and the code the provider approved for it (hall.yaml sms_templates)
    email: str | None = None  # only for email
    subject: str = ''


def outgoing_params(params: Mapping[str, object]) -> tuple[tuple[str, str], ...]:
    """A message's parameters as the providers take them: strings, in the template's order."""
    return tuple((name, str(value)) for name, value in params.items())


class ChannelError(Exception):
    """Delivery failed; the outbox retries with backoff (the message is recorded as the row's last_error).

    `permanent`: retrying cannot help (a bad number, an unapproved template or signature, no balance left),
    so the row fails at once instead of spending five more attempts.
    """

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class NotificationChannel(ABC):
    name: str
    needs_phone: bool = False
    needs_template: bool = False  # a provider that sends only approved templates (Aliyun, Tencent Cloud)

    @abstractmethod
    async def send(self, message: Outgoing) -> None: ...


class RecordingSmsGateway(NotificationChannel):
    """Stands in for an SMS gateway: records what it would send (number masked) in a JSON-lines file and the log."""

    name = SMS
    needs_phone = True

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.sent: deque[dict[str, object]] = deque(maxlen=1000)
        self._keys: set[str] | None = None

    def _known_keys(self) -> set[str]:
        if self._keys is None:
            self._keys = set()
            if self.path is not None and self.path.exists():
                for line in self.path.read_text(encoding='utf-8').splitlines()[-RECENT_KEYS:]:
                    try:
                        self._keys.add(str(json.loads(line)['key']))
                    except (ValueError, KeyError):
                        continue
        return self._keys

    async def send(self, message: Outgoing) -> None:
        if not message.phone:
            raise ChannelError('no phone number for SMS')
        keys = self._known_keys()
        if message.key in keys:
            log.info('sms %s already sent, not sent again', message.key)
            return
        record = {
            'at': utcnow().isoformat(timespec='seconds'),
            'key': message.key,
            'to': mask_phone(message.phone),
            'kind': message.kind,
            'text': message.text,
        }
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open('a', encoding='utf-8') as file:
                file.write(json.dumps(record, ensure_ascii=False) + '\n')
        keys.add(message.key)
        self.sent.append(record)
        log.info('sms to %s: %s', record['to'], message.text)


class PushChannel(NotificationChannel):
    """In-page push: a NotificationSent event; the /track page of that ticket or case shows it at once."""

    name = PUSH

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def send(self, message: Outgoing) -> None:
        await self.bus.publish(
            NotificationSent(
                hall_id=message.hall_id,
                time=utcnow(),
                notification_id=message.notification_id,
                channel=self.name,
                kind=message.kind,
                ticket_id=message.ticket_id,
                case_id=message.case_id,
                text=message.text,
            )
        )


def sms_log_path(var_dir: Path) -> Path:
    return var_dir / 'sms-outbox.jsonl'
