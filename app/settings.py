"""Configuration from environment variables, validated once at start-up.

Every value is optional; a bad one stops the app with one line that names the variable.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.security.files import private_dir
from app.security.keys import Purpose, derive_key

ROOT = Path(__file__).resolve().parent.parent
RECTIFICATION_WORKING_DAYS = (5, 7, 15)  # the deadlines a rectification may have (working days)


class StandIn(StrEnum):
    """What a demo hall pretends: refused by HALL_PROFILE=production unless ALLOW_STAND_INS names it."""

    SIMULATION = 'simulation'  # HALL_SIMULATION=on: invented citizens take numbers, invented clerks serve them
    DEVICES = 'devices'  # DEVICE_MODE=simulated: the kiosks' and pads' devices are simulated
    SMS = 'sms'  # SMS_PROVIDER=file: texts go to $VAR_DIR/sms-outbox.jsonl, none is sent
    DEPARTMENT_DATA = 'department_data'  # 零材料 records loaded from a seed's synthetic YAML
    DEMO_ACCOUNTS = 'demo_accounts'  # the demo seed's invented staff (w01 王晓燕 ...)


def _parts(value: str) -> list[str]:
    return [part.strip() for part in value.split(',') if part.strip()]


class ConfigError(SystemExit):
    """Raised (and printed as one line) when an environment variable is invalid."""


def _lang_from_locale() -> Literal['zh-CN', 'en']:
    """LANG is also the POSIX locale (C.UTF-8, en_US.UTF-8): only its language part is used."""
    return 'en' if os.environ.get('LANG', '').lower().startswith('en') else 'zh-CN'


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix='', case_sensitive=False, extra='ignore')

    database_url: str = Field(default='', validation_alias='DATABASE_URL')
    redis_url: str = Field(default='', validation_alias='REDIS_URL')
    secret_key: str = Field(default='', validation_alias='SECRET_KEY')
    hall_seed: str = Field(default='default', validation_alias='HALL_SEED')
    hall_code: str = Field(
        default='', max_length=32, pattern=r'^[A-Za-z0-9_-]*$', validation_alias='HALL_CODE'
    )  # the hall this process serves when several share the database (empty: the first hall loaded)
    device_mode: Literal['simulated', 'websocket'] = Field(default='simulated', validation_alias='DEVICE_MODE')
    hall_simulation: Literal['on', 'off'] = Field(default='on', validation_alias='HALL_SIMULATION')
    hall_simulation_speed: float = Field(default=1.0, gt=0, le=600, validation_alias='HALL_SIMULATION_SPEED')
    hall_simulation_windows: str = Field(
        default='', pattern=r'^\s*(\d+\s*(,\s*\d+\s*)*)?$', validation_alias='HALL_SIMULATION_WINDOWS'
    )  # window numbers the simulator staffs, comma-separated; empty: every window open at start-up
    public_url: str = Field(
        default='', pattern=r'^(https?://[A-Za-z0-9.:\[\]-]+)?$', validation_alias='PUBLIC_URL'
    )  # the hall's address as citizens reach it: texts link to /track and /book under it (empty: no links)
    host: str = Field(default='127.0.0.1', validation_alias='HOST')
    port: int = Field(default=8080, ge=1, le=65535, validation_alias='PORT')
    lang: Literal['zh-CN', 'en'] = Field(default_factory=lambda: _lang_from_locale(), validation_alias='HALL_LANG')
    var_dir: Path = Field(default=ROOT / 'var', validation_alias='VAR_DIR')
    audit_anchor_file: str = Field(default='', validation_alias='AUDIT_ANCHOR_FILE')  # default: var/ (docs/audit.md)
    hall_timezone: str = Field(default='Asia/Shanghai', validation_alias='HALL_TIMEZONE')
    fairness_cap_minutes: float = Field(default=20.0, gt=0, le=240, validation_alias='FAIRNESS_CAP_MINUTES')
    recalls_before_no_show: int = Field(default=2, ge=0, le=10, validation_alias='RECALLS_BEFORE_NO_SHOW')
    recall_interval_seconds: float = Field(
        default=30.0, ge=0, le=600, validation_alias='RECALL_INTERVAL_SECONDS'
    )  # time a called citizen gets before the next recall and before no-show (counts time, not clicks)
    appointment_early_minutes: int = Field(default=15, ge=0, validation_alias='APPOINTMENT_EARLY_MINUTES')
    booking_slot_minutes: int = Field(default=30, ge=5, le=240, validation_alias='BOOKING_SLOT_MINUTES')
    booking_share: float = Field(
        default=0.5, gt=0, le=1, validation_alias='BOOKING_SHARE'
    )  # share of a slot's serving capacity open to bookings; the rest stays for walk-ins
    booking_days_ahead: int = Field(default=7, ge=1, le=60, validation_alias='BOOKING_DAYS_AHEAD')
    booking_max_live: int = Field(default=3, ge=1, le=20, validation_alias='BOOKING_MAX_LIVE')  # per account
    no_show_grace_minutes: int = Field(
        default=15, ge=0, le=240, validation_alias='NO_SHOW_GRACE_MINUTES'
    )  # a booking not checked in by its slot's end plus this is missed
    no_show_limit: int = Field(default=3, ge=1, le=20, validation_alias='NO_SHOW_LIMIT')
    no_show_window_days: int = Field(default=30, ge=1, le=365, validation_alias='NO_SHOW_WINDOW_DAYS')
    booking_block_days: int = Field(default=7, ge=1, le=365, validation_alias='BOOKING_BLOCK_DAYS')
    elderly_age: int = Field(default=65, ge=50, le=100, validation_alias='ELDERLY_AGE')
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, validation_alias='MAX_BODY_BYTES')
    token_idle_minutes: int = Field(default=30, ge=1, validation_alias='TOKEN_IDLE_MINUTES')
    token_absolute_hours: int = Field(default=12, ge=1, validation_alias='TOKEN_ABSOLUTE_HOURS')
    citizen_session_days: int = Field(
        default=30, ge=1, le=400, validation_alias='CITIZEN_SESSION_DAYS'
    )  # a phone stays signed in at most this long (the cookie's lifetime too)
    citizen_idle_days: int = Field(
        default=7, ge=1, le=400, validation_alias='CITIZEN_IDLE_DAYS'
    )  # ... and is signed out after this long unused
    second_factor_roles_raw: str = Field(
        default='manager,admin,city_manager', validation_alias='SECOND_FACTOR_ROLES'
    )  # roles that must sign in with a TOTP code (comma-separated); others may enrol one
    session_check_seconds: float = Field(
        default=15.0, gt=0, le=45, validation_alias='SESSION_CHECK_SECONDS'
    )  # how often each process re-checks the sessions of its open staff pages (ended pages close within 60 s)
    allowed_origins_raw: str = Field(default='', validation_alias='ALLOWED_ORIGINS')
    trusted_proxies_raw: str = Field(default='', validation_alias='TRUSTED_PROXIES')
    disk_min_free_mb: int = Field(
        default=512, ge=0, validation_alias='DISK_MIN_FREE_MB'
    )  # managers are warned when the database's file system has less free space (0: no warning)
    backup_every_minutes: int = Field(
        default=60, ge=0, le=60, validation_alias='BACKUP_EVERY_MINUTES'
    )  # scheduled backups (a divisor of 60; 0: none): the RPO is at most this
    backup_keep: int = Field(default=48, ge=1, le=10_000, validation_alias='BACKUP_KEEP')  # newest kept, per location
    backup_dir: str = Field(default='', validation_alias='BACKUP_DIR')  # default: $VAR_DIR/backups
    backup_mirror_dir: str = Field(default='', validation_alias='BACKUP_MIRROR_DIR')  # the second location
    disk_check_seconds: float = Field(default=60.0, gt=0, le=3600, validation_alias='DISK_CHECK_SECONDS')
    device_heartbeat_seconds: float = Field(default=10.0, gt=0, le=300, validation_alias='DEVICE_HEARTBEAT_SECONDS')
    device_max_pending: int = Field(default=64, ge=1, le=10_000, validation_alias='DEVICE_MAX_PENDING')
    device_fault_rate: float = Field(default=0.2, ge=0, le=60, validation_alias='DEVICE_FAULT_RATE')
    evaluation_scale: Literal['four', 'five'] = Field(default='four', validation_alias='EVALUATION_SCALE')
    rectification_working_days: int = Field(default=5, validation_alias='RECTIFICATION_WORKING_DAYS')
    remote_travel_minutes: int = Field(
        default=30, ge=0, le=240, validation_alias='REMOTE_TRAVEL_MINUTES'
    )  # a remote ticket's "please come now" goes out when its wait is at most this plus the margin
    remote_margin_minutes: int = Field(default=5, ge=0, le=60, validation_alias='REMOTE_MARGIN_MINUTES')
    remote_per_day: int = Field(default=3, ge=1, le=20, validation_alias='REMOTE_PER_DAY')  # per account and day
    hall_profile: Literal['demo', 'production'] = Field(
        default='demo', validation_alias='HALL_PROFILE'
    )  # production refuses to start while a stand-in is on, unless ALLOW_STAND_INS names it (docs/operations.md)
    allow_stand_ins_raw: str = Field(
        default='', validation_alias='ALLOW_STAND_INS'
    )  # stand-ins production accepts: simulation, devices, sms, department_data, demo_accounts (comma-separated)
    sms_provider: Literal['file', 'aliyun', 'tencent'] = Field(
        default='file', validation_alias='SMS_PROVIDER'
    )  # file: texts are written to $VAR_DIR/sms-outbox.jsonl, none is sent; aliyun / tencent: sent by the provider
    sms_endpoint: str = Field(
        default='', validation_alias='SMS_ENDPOINT'
    )  # the provider's host (default: its public endpoint); http://host:port points at a local stand-in
    sms_access_key_id: str = Field(
        default='', validation_alias='SMS_ACCESS_KEY_ID'
    )  # Aliyun AccessKey ID, Tencent SecretId
    sms_access_key_secret: SecretStr = Field(
        default=SecretStr(''), validation_alias='SMS_ACCESS_KEY_SECRET'
    )  # never logged or shown
    sms_sign_name: str = Field(default='', validation_alias='SMS_SIGN_NAME')  # the approved signature (签名)
    sms_sdk_app_id: str = Field(default='', validation_alias='SMS_SDK_APP_ID')  # Tencent's SmsSdkAppId
    sms_region: str = Field(default='ap-guangzhou', validation_alias='SMS_REGION')  # Tencent's region
    sms_timeout_seconds: float = Field(default=10.0, gt=0, le=60, validation_alias='SMS_TIMEOUT_SECONDS')
    sms_daily_cap_per_number: int = Field(
        default=10, ge=1, le=1000, validation_alias='SMS_DAILY_CAP_PER_NUMBER'
    )  # texts one phone number may receive a day (counted in the database or Redis, so every process agrees)
    email_daily_cap_per_address: int = Field(
        default=10, ge=1, le=1000, validation_alias='EMAIL_DAILY_CAP_PER_ADDRESS'
    )  # emails one address may receive a day (counted like texts per number)
    smtp_url: SecretStr = Field(
        default=SecretStr(''), validation_alias='SMTP_URL'
    )  # smtp://user:pass@host:587 (STARTTLS when offered) or smtps://...:465; empty: no email is sent
    mail_from: str = Field(default='', validation_alias='MAIL_FROM')  # the sender address of the hall's emails
    report_email: str = Field(
        default='', validation_alias='REPORT_EMAIL'
    )  # who gets the daily message-delivery report at 07:00 (comma-separated addresses; empty: no report)
    retention_ticket_days: int = Field(
        default=180, ge=30, le=3650, validation_alias='RETENTION_TICKET_DAYS'
    )  # tickets and bookings lose their citizen and account links this long after their day
    retention_message_days: int = Field(
        default=150, ge=30, le=3650, validation_alias='RETENTION_MESSAGE_DAYS'
    )  # sent and failed SMS / email / push rows are deleted this long after they were written
    retention_consent_days: int = Field(
        default=365, ge=30, le=3650, validation_alias='RETENTION_CONSENT_DAYS'
    )  # a consent (and the face templates and proxy grants under it) is deleted this long after it was given
    retention_session_days: int = Field(
        default=180, ge=180, le=3650, validation_alias='RETENTION_SESSION_DAYS'
    )  # ended sign-in sessions, kiosk pairings and their addresses: the Cybersecurity Law's 6-month log minimum

    @field_validator('database_url')
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if value and not value.startswith(('sqlite+aiosqlite://', 'postgresql+asyncpg://')):
            raise ValueError('use sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db')
        return value

    @field_validator('sms_endpoint')
    @classmethod
    def _sms_endpoint(cls, value: str) -> str:
        if value and not re.fullmatch(r'(https?://)?[A-Za-z0-9.-]+(:\d{1,5})?', value):
            raise ValueError('use a host (dysmsapi.aliyuncs.com) or http://host:port')
        return value

    @field_validator('smtp_url')
    @classmethod
    def _smtp_scheme(cls, value: SecretStr) -> SecretStr:
        if value.get_secret_value() and not value.get_secret_value().startswith(('smtp://', 'smtps://')):
            raise ValueError('use smtp://user:pass@host:587 or smtps://user:pass@host:465')
        return value

    @field_validator('redis_url')
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if value and not value.startswith(('redis://', 'rediss://')):
            raise ValueError('use redis://host:port/db')
        return value

    @field_validator('rectification_working_days')
    @classmethod
    def _rectification_days(cls, value: int) -> int:
        if value not in RECTIFICATION_WORKING_DAYS:
            raise ValueError('must be 5, 7 or 15 (working days)')
        return value

    @field_validator('allow_stand_ins_raw')
    @classmethod
    def _stand_ins(cls, value: str) -> str:
        names = [str(one) for one in StandIn]
        unknown = [part for part in _parts(value) if part not in names]
        if unknown:
            raise ValueError(f'unknown stand-in {unknown[0]!r} (use {", ".join(names)})')
        return value

    @field_validator('trusted_proxies_raw')
    @classmethod
    def _proxies(cls, value: str) -> str:
        for part in filter(None, (part.strip() for part in value.split(','))):
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError as error:
                raise ValueError(f'{part!r} is not an address or network (10.0.0.5, 10.0.0.0/24)') from error
        return value

    @field_validator('backup_every_minutes')
    @classmethod
    def _backup_period(cls, value: int) -> int:
        if value and 60 % value:
            raise ValueError('must divide an hour (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 or 60), or be 0')
        return value

    @field_validator('retention_ticket_days')
    @classmethod
    def _ticket_links_outlast_no_shows(cls, value: int, info: ValidationInfo) -> int:
        window = info.data.get('no_show_window_days', 0)
        if value < window:
            raise ValueError(f'must be at least NO_SHOW_WINDOW_DAYS ({window}): missed bookings count that long')
        return value

    @field_validator('hall_timezone')
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f'unknown time zone {value!r}') from error
        return value

    @field_validator('secret_key')
    @classmethod
    def _secret_length(cls, value: str) -> str:
        if value and len(value) < 32:
            raise ValueError('must be at least 32 characters')
        return value

    @property
    def db_url(self) -> str:
        return self.database_url or f'sqlite+aiosqlite:///{self.var_dir / "halltwin.db"}'

    @property
    def backups(self) -> Path:
        return Path(self.backup_dir) if self.backup_dir else self.var_dir / 'backups'

    @property
    def anchor_file(self) -> Path:
        """Where the audit chain's signed heads are appended (AUDIT_ANCHOR_FILE, else $VAR_DIR/audit-anchors.jsonl)."""
        return Path(self.audit_anchor_file) if self.audit_anchor_file else self.var_dir / 'audit-anchors.jsonl'

    @property
    def allowed_origins(self) -> list[str]:
        """Origins whose pages may open the UI websocket (ALLOWED_ORIGINS, comma-separated)."""
        if self.allowed_origins_raw:
            return [origin.strip().rstrip('/') for origin in self.allowed_origins_raw.split(',') if origin.strip()]
        hosts = dict.fromkeys([self.host, '127.0.0.1', 'localhost'])
        return [f'http://{host}:{self.port}' for host in hosts]

    @property
    def trusted_proxies(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """Reverse proxies whose X-Forwarded-For is believed (TRUSTED_PROXIES, comma-separated); none by default."""
        parts = [part.strip() for part in self.trusted_proxies_raw.split(',') if part.strip()]
        return tuple(ipaddress.ip_network(part, strict=False) for part in parts)

    @property
    def allowed_stand_ins(self) -> frozenset[StandIn]:
        """The stand-ins ALLOW_STAND_INS lets a production hall run with (app/services/stand_ins.py)."""
        return frozenset(StandIn(part) for part in _parts(self.allow_stand_ins_raw))

    @property
    def second_factor_roles(self) -> frozenset[str]:
        return frozenset(part.strip() for part in self.second_factor_roles_raw.split(',') if part.strip())

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith('sqlite')

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.hall_timezone)

    @property
    def secret(self) -> bytes:
        """SECRET_KEY, or a key generated once into var/secret_key (never committed)."""
        if self.secret_key:
            return self.secret_key.encode()
        path = self.var_dir / 'secret_key'
        if not path.exists():
            private_dir(path.parent)
            _create_private(path, secrets.token_urlsafe(48))
        return path.read_text().strip().encode()

    def key(self, purpose: Purpose) -> bytes:
        """The key of one purpose (app/security/keys.py): hand parts this, never `secret`."""
        return derive_key(self.secret, purpose)


def _create_private(path: Path, content: str) -> None:
    """Write `path` readable by its owner only (0600 from the first byte), whole or not at all.

    The content goes to a private temporary file that is then linked into place: a second process
    starting at the same moment either sees the complete file or creates its own link first and wins.
    """
    temporary = path.with_name(f'.{path.name}.{os.getpid()}.tmp')
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, 'w') as file:
            file.write(content)
        with contextlib.suppress(FileExistsError):  # another process won the race: its key stands
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def load_settings() -> Settings:
    """Read the environment; on a bad value exit with one line naming the variable."""
    try:
        return Settings()
    except ValidationError as error:
        first = error.errors()[0]
        name = str(first['loc'][0]).upper() if first['loc'] else 'configuration'
        raise ConfigError(f'halltwin: invalid {name}: {first["msg"]}') from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
