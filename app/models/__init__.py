"""All tables, imported here so SQLModel.metadata (and Alembic) sees every one."""

from app.models.appointment import Appointment, AppointmentStatus
from app.models.cases import (
    Case,
    CaseMaterial,
    CaseNode,
    Certificate,
    DepartmentRecord,
    Evaluation,
    Notification,
    Rectification,
)
from app.models.citizen_account import CitizenAccount, CitizenSession
from app.models.config_version import ConfigVersion
from app.models.device import Device, DeviceKind, DeviceState
from app.models.hall import Department, Hall, ServiceItem, Window, WindowService, WindowState, Zone
from app.models.handoff import HandoffStatus, TicketHandoff
from app.models.key_check import KeyCheck
from app.models.operations import Alert, ArrivalHistory, DeviceEvent, WindowEvent
from app.models.pairing import KioskPairingCode, KioskScreenCredential
from app.models.people import AuthSession, Citizen, RecoveryCode, Role, StaffTotp, StaffUser
from app.models.proxy import ProxyGrant, ProxyProposal
from app.models.report import MonthlyReport
from app.models.security import (
    AuditEntry,
    Consent,
    ConsentPurpose,
    ConsentScope,
    FaceEncoding,
    RateCounter,
)
from app.models.staffing import StaffingMove
from app.models.ticket import (
    Channel,
    DailyCounter,
    PriorityClass,
    Ticket,
    TicketCreate,
    TicketEvent,
    TicketStatus,
)
from app.models.visits import HomeVisit, VisitStatus

__all__ = [
    'Alert',
    'Appointment',
    'AppointmentStatus',
    'ArrivalHistory',
    'AuditEntry',
    'AuthSession',
    'Case',
    'CaseMaterial',
    'CaseNode',
    'Certificate',
    'Channel',
    'Citizen',
    'CitizenAccount',
    'CitizenSession',
    'ConfigVersion',
    'Consent',
    'ConsentPurpose',
    'ConsentScope',
    'DailyCounter',
    'Department',
    'DepartmentRecord',
    'Device',
    'DeviceEvent',
    'DeviceKind',
    'DeviceState',
    'Evaluation',
    'FaceEncoding',
    'Hall',
    'HandoffStatus',
    'HomeVisit',
    'KeyCheck',
    'KioskPairingCode',
    'KioskScreenCredential',
    'MonthlyReport',
    'Notification',
    'PriorityClass',
    'ProxyGrant',
    'ProxyProposal',
    'RateCounter',
    'RecoveryCode',
    'Rectification',
    'Role',
    'ServiceItem',
    'StaffTotp',
    'StaffUser',
    'StaffingMove',
    'Ticket',
    'TicketCreate',
    'TicketEvent',
    'TicketHandoff',
    'TicketStatus',
    'VisitStatus',
    'Window',
    'WindowEvent',
    'WindowService',
    'WindowState',
    'Zone',
]
