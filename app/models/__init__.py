"""All tables, imported here so SQLModel.metadata (and Alembic) sees every one."""

from app.models.appointment import Appointment, AppointmentStatus
from app.models.device import Device, DeviceKind, DeviceState
from app.models.hall import Department, Hall, ServiceItem, Window, WindowService, WindowState, Zone
from app.models.people import AuthSession, Citizen, Role, StaffUser
from app.models.security import (
    AuditEntry,
    Consent,
    ConsentPurpose,
    ConsentScope,
    FaceEncoding,
    LoginThrottle,
)
from app.models.ticket import (
    Channel,
    DailyCounter,
    PriorityClass,
    Ticket,
    TicketCreate,
    TicketEvent,
    TicketStatus,
)

__all__ = [
    'Appointment',
    'AppointmentStatus',
    'AuditEntry',
    'AuthSession',
    'Channel',
    'Citizen',
    'Consent',
    'ConsentPurpose',
    'ConsentScope',
    'DailyCounter',
    'Department',
    'Device',
    'DeviceKind',
    'DeviceState',
    'FaceEncoding',
    'Hall',
    'LoginThrottle',
    'PriorityClass',
    'Role',
    'ServiceItem',
    'StaffUser',
    'Ticket',
    'TicketCreate',
    'TicketEvent',
    'TicketStatus',
    'Window',
    'WindowService',
    'WindowState',
    'Zone',
]
