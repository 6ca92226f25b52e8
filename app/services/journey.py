"""The citizen-journey services of one process (cases, notifications, evaluation, tracking, certificates, proxy,
bookings).

Built in one place so the app (app/runtime.py) and a separate job worker (`python -m app.jobs`) wire
them the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.services.booking import BookingService
from app.services.case_transfer import CaseTransferService
from app.services.cases import CaseService
from app.services.certificates import CertificateService
from app.services.channels import EMAIL, PUSH, SMS, NotificationChannel, PushChannel, RecordingSmsGateway, sms_log_path
from app.services.citizen_home import CitizenHome
from app.services.consent import ConsentService
from app.services.department_data import DepartmentData
from app.services.deps import Deps
from app.services.email import SmtpChannel
from app.services.evaluation import EvaluationService
from app.services.home_visits import HomeVisitService
from app.services.notifications import NotificationService
from app.services.proxy import ProxyService
from app.services.sms_providers import sms_channel
from app.services.tracking import TrackingService
from app.services.wait_comfort import WaitComfortService


@dataclass
class Journey:
    notifications: NotificationService
    cases: CaseService
    evaluations: EvaluationService
    tracking: TrackingService
    certificates: CertificateService
    consent: ConsentService
    department_data: DepartmentData
    proxy: ProxyService
    sms: NotificationChannel  # the outbox file's RecordingSmsGateway unless SMS_PROVIDER names a provider
    home: CitizenHome  # "我的": a signed-in citizen's tickets, bookings, cases, consents and grants
    bookings: BookingService
    comfort: WaitComfortService  # the long-wait comfort prompt on /track and /me
    visits: HomeVisitService  # 上门服务: home visits asked on /me, /proxy or by staff, run as cases
    transfers: CaseTransferService  # 跨区通办: an open case moved to another hall of the city


def build_journey(deps: Deps) -> Journey:
    if deps.bus is None:
        raise ValueError('the journey publishes (pushes, case steps, proxy changes): its Deps need a bus')
    settings = deps.settings
    sms = sms_channel(settings, lambda: RecordingSmsGateway(sms_log_path(settings.var_dir)))
    channels: dict[str, NotificationChannel] = {SMS: sms, PUSH: PushChannel(deps.bus)}
    if settings.smtp_url.get_secret_value():
        channels[EMAIL] = SmtpChannel(settings.smtp_url.get_secret_value(), settings.mail_from)
    notifier = NotificationService(deps, channels)
    consent = ConsentService(deps)
    department_data = DepartmentData(deps.cipher, consent)
    bookings = BookingService(deps, notifier=notifier)
    proxy = ProxyService(deps, consent)
    return Journey(
        notifications=notifier,
        cases=CaseService(deps, department_data=department_data, notifier=notifier),
        evaluations=EvaluationService(deps, notifier=notifier),
        tracking=TrackingService(deps, notifier),
        certificates=CertificateService(deps),
        consent=consent,
        department_data=department_data,
        proxy=proxy,
        sms=sms,
        bookings=bookings,
        home=CitizenHome(deps, bookings),
        comfort=WaitComfortService(deps),
        visits=HomeVisitService(deps, proxy, notifier=notifier),
        transfers=CaseTransferService(deps, notifier=notifier),
    )
