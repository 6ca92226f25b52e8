"""Email through SMTP (aiosmtplib): reports for staff and notices for businesses that left an address.

SMTP_URL names the server: `smtp://user:pass@host:587` upgrades with STARTTLS when the server offers it,
`smtps://user:pass@host:465` speaks TLS from the first byte. The message's key goes out as its
Message-ID, so a mail system that sees a retried delivery can tell it is the same message. A refused
recipient fails at once; a server that is down or busy is retried by the outbox.
"""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import unquote, urlsplit

import aiosmtplib

from app.security.masking import mask_email
from app.services.channels import EMAIL, ChannelError, NotificationChannel, Outgoing

log = logging.getLogger(__name__)


class SmtpChannel(NotificationChannel):
    """One email per outgoing message, plain text, from MAIL_FROM."""

    name = EMAIL

    def __init__(self, url: str, sender: str, *, timeout: float = 15.0) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or 'localhost'
        self.tls = parts.scheme == 'smtps'
        self.port = parts.port or (465 if self.tls else 587)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender = sender
        self.timeout = timeout

    async def send(self, message: Outgoing) -> None:
        if not message.email:
            raise ChannelError('no email address', permanent=True)
        mail = EmailMessage()
        mail['From'] = self.sender
        mail['To'] = message.email
        mail['Subject'] = message.subject or message.text.splitlines()[0][:60]
        mail['Message-ID'] = make_msgid(idstring=message.key.replace(':', '.')[:60], domain='halltwin')
        mail.set_content(message.text)
        try:
            await aiosmtplib.send(
                mail,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                use_tls=self.tls,
                start_tls=None if not self.tls else False,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            raise ChannelError(f'smtp: recipient refused: {error}'[:300], permanent=True) from None
        except (aiosmtplib.SMTPException, OSError) as error:
            raise ChannelError(f'smtp {type(error).__name__}: {error}'[:300]) from None
        log.info('email to %s: %s', mask_email(message.email), mail['Subject'])
