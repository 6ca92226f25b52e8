"""The citizen-journey services of one process (cases, notifications, evaluation, tracking, certificates, proxy,
bookings).

Built in one place so the app (app/runtime.py) and a separate job worker (`python -m app.jobs`) wire
them the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from app.bus import Bus
from app.clock import utcnow
from app.db import Database
from app.security.crypto import FieldCipher
from app.security.keys import Purpose
from app.services.booking import BookingService
from app.services.cases import CaseService
from app.services.certificates import CertificateService
from app.services.channels import PushChannel, RecordingSmsGateway, sms_log_path
from app.services.citizen_home import CitizenHome
from app.services.consent import ConsentService
from app.services.department_data import DepartmentData
from app.services.evaluation import EvaluationService
from app.services.limits import Limits
from app.services.notifications import NotificationService
from app.services.one_time_codes import OneTimeCodes
from app.services.proxy import ProxyService
from app.services.tracking import TrackingService
from app.settings import Settings


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
    sms: RecordingSmsGateway
    home: CitizenHome  # "我的": a signed-in citizen's tickets, bookings, cases, consents and grants
    bookings: BookingService


def build_journey(
    db: Database,
    bus: Bus,
    settings: Settings,
    cipher: FieldCipher,
    limits: Limits,
    *,
    hall_id: int,
    clock: Callable[[], dt.datetime] = utcnow,
) -> Journey:
    sms = RecordingSmsGateway(sms_log_path(settings.var_dir))
    notifier = NotificationService(db, cipher, {'sms': sms, 'push': PushChannel(bus)}, limits, clock=clock)
    consent = ConsentService(db, cipher, clock=clock, tz=settings.tz)
    department_data = DepartmentData(cipher, consent)
    bookings = BookingService(db, settings, hall_id=hall_id, notifier=notifier, clock=clock)
    return Journey(
        notifications=notifier,
        cases=CaseService(
            db, bus, settings, cipher, hall_id=hall_id, department_data=department_data, notifier=notifier, clock=clock
        ),
        evaluations=EvaluationService(db, bus, settings, hall_id=hall_id, notifier=notifier, clock=clock),
        tracking=TrackingService(
            db,
            cipher,
            limits,
            OneTimeCodes(limits.store, settings.key(Purpose.ONE_TIME_CODES), clock=clock),
            notifier,
            hall_id=hall_id,
            clock=clock,
        ),
        certificates=CertificateService(db, clock=clock),
        consent=consent,
        department_data=department_data,
        proxy=ProxyService(db, bus, consent, hall_id=hall_id, clock=clock),
        sms=sms,
        bookings=bookings,
        home=CitizenHome(db, bookings, clock=clock),
    )
