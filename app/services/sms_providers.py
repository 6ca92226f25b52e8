"""SMS through the providers' official SDKs: 阿里云短信 (Dysmsapi SendSms) and 腾讯云短信 (SendSms 2021-01-11).

Both SDKs are synchronous, so each call runs in a thread with a timeout: a slow provider holds up one
delivery, never the event loop. Providers send only approved templates: the outbox hands the template
code (hall.yaml `sms_templates`) and the message's parameters, never free text. The outbox key travels
as Aliyun's OutId / Tencent's SessionContext, so the provider's records name the row; a key this
process has already delivered is not sent again.

A provider's answer decides what the outbox does: throttling, network trouble and the provider's own
faults are retried with backoff; a bad number, an unapproved template or signature, wrong keys or an
empty balance fail the row at once (`ChannelError(permanent=True)`), with the provider's words kept
for staff.
"""

from __future__ import annotations

import asyncio
import json
import logging
from abc import abstractmethod
from collections import deque
from collections.abc import Callable

from alibabacloud_dysmsapi20170525.client import Client as AliyunClient
from alibabacloud_dysmsapi20170525.models import SendSmsRequest as AliyunRequest
from alibabacloud_tea_openapi.models import Config as AliyunConfig
from tencentcloud.common.credential import Credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111.models import SendSmsRequest as TencentRequest
from tencentcloud.sms.v20210111.sms_client import SmsClient

from app.security.masking import mask_phone
from app.services.channels import SMS, ChannelError, NotificationChannel, Outgoing
from app.settings import Settings

log = logging.getLogger(__name__)

RECENT_KEYS = 10_000
ALIYUN_ENDPOINT = 'dysmsapi.aliyuncs.com'
TENCENT_ENDPOINT = 'sms.tencentcloudapi.com'

# Answers that retrying cannot change: the row fails at once. Every other answer is retried with backoff.
ALIYUN_GIVE_UP = frozenset(
    {
        'isv.MOBILE_NUMBER_ILLEGAL',
        'isv.MOBILE_COUNT_OVER_LIMIT',
        'isv.SMS_TEMPLATE_ILLEGAL',
        'isv.TEMPLATE_MISSING_PARAMETERS',
        'isv.TEMPLATE_PARAMS_ILLEGAL',
        'isv.INVALID_JSON_PARAM',
        'isv.INVALID_PARAMETERS',
        'isv.PARAM_LENGTH_LIMIT',
        'isv.SMS_SIGNATURE_ILLEGAL',
        'isv.SMS_SIGN_ILLEGAL',
        'isv.AMOUNT_NOT_ENOUGH',
        'isv.OUT_OF_SERVICE',
        'isv.ACCOUNT_NOT_EXISTS',
        'isv.ACCOUNT_ABNORMAL',
        'isv.BLACK_KEY_CONTROL_LIMIT',
        'isv.RAM_PERMISSION_DENY',
        'InvalidAccessKeyId.NotFound',
        'InvalidAccessKeyId.Inactive',
        'SignatureDoesNotMatch',
        'Forbidden.RAM',
    }
)
TENCENT_GIVE_UP_PREFIXES = (
    'InvalidParameter',
    'MissingParameter',
    'AuthFailure',
    'UnauthorizedOperation.',
    'UnsupportedOperation.',
    'FailedOperation.TemplateIncorrectOrUnapproved',
    'FailedOperation.SignatureIncorrectOrUnapproved',
    'FailedOperation.InsufficientBalanceInSmsPackage',
    'FailedOperation.PhoneNumberInBlacklist',
    'FailedOperation.MissingTemplateToModify',
    'FailedOperation.MissingSignature',
)


class ProviderSms(NotificationChannel):
    """What both providers share: the template check, the thread with a timeout, keys sent once per process."""

    name = SMS
    needs_phone = True
    needs_template = True
    provider = ''

    def __init__(self, *, timeout: float) -> None:
        self.timeout = timeout
        self._recent: deque[str] = deque(maxlen=RECENT_KEYS)

    async def send(self, message: Outgoing) -> None:
        if not message.phone:
            raise ChannelError('no phone number for SMS', permanent=True)
        if not message.template_code:
            raise ChannelError(f'no template code for {message.template or message.kind!r}', permanent=True)
        if message.key in self._recent:
            log.info('sms %s already sent, not sent again', message.key)
            return
        try:
            async with asyncio.timeout(self.timeout):
                await asyncio.to_thread(self._call, message)
        except TimeoutError:
            raise ChannelError(f'{self.provider}: no answer within {self.timeout:g} s') from None
        self._recent.append(message.key)
        log.info('sms to %s by %s: %s', mask_phone(message.phone), self.provider, message.template)

    @abstractmethod
    def _call(self, message: Outgoing) -> None:
        """Send through the SDK (in a thread); raise ChannelError with the provider's code and words."""


class AliyunSms(ProviderSms):
    """阿里云短信 SendSms: TemplateParam is a JSON object of the template's named variables."""

    provider = 'aliyun'

    def __init__(self, settings: Settings) -> None:
        super().__init__(timeout=settings.sms_timeout_seconds)
        host, protocol = _host(settings.sms_endpoint, ALIYUN_ENDPOINT)
        timeout_ms = int(settings.sms_timeout_seconds * 1000)
        self.client = AliyunClient(
            AliyunConfig(
                access_key_id=settings.sms_access_key_id,
                access_key_secret=settings.sms_access_key_secret.get_secret_value(),
                endpoint=host,
                protocol=protocol.upper(),
                connect_timeout=timeout_ms,
                read_timeout=timeout_ms,
            )
        )
        self.sign_name = settings.sms_sign_name

    def _call(self, message: Outgoing) -> None:
        request = AliyunRequest(
            phone_numbers=message.phone,
            sign_name=self.sign_name,
            template_code=message.template_code,
            template_param=json.dumps(dict(message.params), ensure_ascii=False),
            out_id=message.key[:64],
        )
        try:
            body = self.client.send_sms(request).body
        except Exception as error:  # the SDK raises its own types for HTTP errors and network failures
            code = str(getattr(error, 'code', '') or type(error).__name__)
            words = str(getattr(error, 'message', '') or error)
            raise _aliyun_error(code, words) from None
        if body.code != 'OK':
            raise _aliyun_error(str(body.code), str(body.message or ''))


def _aliyun_error(code: str, words: str) -> ChannelError:
    return ChannelError(f'aliyun {code}: {words}'[:300], permanent=code in ALIYUN_GIVE_UP)


class TencentSms(ProviderSms):
    """腾讯云短信 SendSms: TemplateParamSet lists the template's variables {1}, {2} ... in order."""

    provider = 'tencent'

    def __init__(self, settings: Settings) -> None:
        super().__init__(timeout=settings.sms_timeout_seconds)
        host, protocol = _host(settings.sms_endpoint, TENCENT_ENDPOINT)
        profile = HttpProfile(protocol=protocol, endpoint=host, reqTimeout=max(1, int(settings.sms_timeout_seconds)))
        credential = Credential(settings.sms_access_key_id, settings.sms_access_key_secret.get_secret_value())
        self.client = SmsClient(credential, settings.sms_region, ClientProfile(httpProfile=profile))
        self.app_id = settings.sms_sdk_app_id
        self.sign_name = settings.sms_sign_name

    def _call(self, message: Outgoing) -> None:
        assert message.phone is not None
        request = TencentRequest()
        request.PhoneNumberSet = [message.phone if message.phone.startswith('+') else f'+86{message.phone}']
        request.SmsSdkAppId = self.app_id
        request.SignName = self.sign_name
        request.TemplateId = message.template_code
        request.TemplateParamSet = [value for _, value in message.params]
        request.SessionContext = message.key
        try:
            response = self.client.SendSms(request)
        except TencentCloudSDKException as error:
            raise _tencent_error(str(error.get_code()), str(error.get_message())) from None
        except Exception as error:  # requests' own network errors
            raise ChannelError(f'tencent {type(error).__name__}: {error}'[:300]) from None
        status = (response.SendStatusSet or [None])[0]
        if status is None:
            raise ChannelError('tencent: the answer names no number')
        if status.Code != 'Ok':
            raise _tencent_error(str(status.Code), str(status.Message or ''))


def _tencent_error(code: str, words: str) -> ChannelError:
    return ChannelError(f'tencent {code}: {words}'[:300], permanent=code.startswith(TENCENT_GIVE_UP_PREFIXES))


def _host(endpoint: str, default: str) -> tuple[str, str]:
    """SMS_ENDPOINT as (host[:port], protocol): https unless the setting says http:// (a local stand-in)."""
    if endpoint.startswith('http://'):
        return endpoint.removeprefix('http://'), 'http'
    return (endpoint.removeprefix('https://') or default), 'https'


def sms_channel(settings: Settings, outbox_file: Callable[[], NotificationChannel]) -> NotificationChannel:
    """The SMS channel SMS_PROVIDER names; `file` is the stand-in that writes the outbox file."""
    if settings.sms_provider == 'aliyun':
        return AliyunSms(settings)
    if settings.sms_provider == 'tencent':
        return TencentSms(settings)
    return outbox_file()
