"""Typed domain events. Each has an id, a time, the hall and a typed payload.

They cross process boundaries as JSON (`to_json` / `from_json`), so the Redis bus and replay can
rebuild exactly the object that was published.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, ClassVar
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field

from app.clock import utcnow

_REGISTRY: dict[str, type[Event]] = {}


class TicketSnapshot(BaseModel):
    """A ticket as everyone may see it (no personal data)."""

    id: int
    number: str
    service_id: int
    service_code: str
    status: str
    priority_class: str
    queued_at: dt.datetime
    taken_at: dt.datetime
    called_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    window_id: int | None = None
    window_number: int | None = None
    target_window_id: int | None = None
    recall_count: int = 0
    handling_seconds: float | None = None
    awaiting_arrival: bool = False  # a remote ticket whose citizen is not yet confirmed in the hall
    account_id: int | None = None  # the phone account it was taken or booked by: its /me page knows it as its own
    citizen_id: int | None = None  # the citizen it was issued for (kiosk, desk): their linked /me page, at once


class Event(BaseModel):
    model_config = ConfigDict(frozen=True)
    type_name: ClassVar[str] = 'Event'

    id: str = Field(default_factory=lambda: uuid4().hex)
    time: dt.datetime = Field(default_factory=utcnow)
    hall_id: int

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.type_name = cls.__name__
        _REGISTRY[cls.__name__] = cls

    def to_json(self) -> str:
        return json.dumps({'type': self.type_name, 'data': self.model_dump(mode='json')}, ensure_ascii=False)

    @staticmethod
    def from_json(text: str) -> Event:
        envelope = json.loads(text)
        return _REGISTRY[envelope['type']].model_validate(envelope['data'])


class TicketEventBase(Event):
    payload: TicketSnapshot
    actor: str = 'system'
    reason: str = ''


class TicketIssued(TicketEventBase):
    pass


class TicketCalled(TicketEventBase):
    recall: bool = False
    out_of_order: bool = False


class TicketCompleted(TicketEventBase):
    pass


class TicketNoShow(TicketEventBase):
    pass


class TicketTransferred(TicketEventBase):
    from_service_id: int
    from_window_id: int | None = None


class TicketHandedOff(TicketEventBase):
    """跨区通办: the ticket closed here as transferred to another hall, which issues it a number of its own."""

    to_hall_code: str
    from_window_id: int | None = None


class HandoffApplied(Event):
    """跨区通办: the other hall issued its number for a ticket this hall sent (on this hall's bus, once per handoff).

    `late` says the sender's own wait had ended before it (they were told "pending"), so their pages tell them now.
    Nothing personal: the old ticket's /track shows the same (where to go and the new number)."""

    handoff_id: int
    from_ticket_id: int
    from_number: str
    to_hall: str
    new_number: str
    actor: str  # who sent it
    late: bool


class TicketParked(TicketEventBase):
    pass


class TicketResumed(TicketEventBase):
    pass


class TicketArrived(TicketEventBase):
    """A remote ticket's citizen is confirmed in the hall (entrance code or kiosk); a ticket parked for not
    having arrived waits again, in its old place."""


class TicketPrioritised(TicketEventBase):
    """A clerk or manager marked a waiting ticket for the green channel (绿色通道); the reason stays on the ticket."""


class AppointmentChanged(Event):
    """A booking was made, moved, cancelled, checked in or missed: the live queue counts the citizens still booked
    for the hour ahead of each queue (no personal data)."""

    service_id: int
    appointment_id: int
    slot_start: dt.datetime
    slot_end: dt.datetime
    status: str  # an AppointmentStatus: only 'booked' is still expected


class WindowPayload(BaseModel):
    id: int
    number: int
    state: str
    service_ids: list[int]
    current_ticket_id: int | None = None


class WindowChanged(Event):
    payload: WindowPayload
    actor: str = 'system'


class DevicePayload(BaseModel):
    device_id: int
    code: str
    kind: str


class DeviceHealth(Event):
    """Availability changed: online, offline (heartbeats missed) or fault (reported by the device)."""

    device: DevicePayload
    state: str
    reason: str = ''


class CardRead(Event):
    """An ID card was read; `valid` False carries the reason instead of a citizen."""

    device: DevicePayload
    valid: bool
    id_number_masked: str = ''
    age: int | None = None
    green_channel: bool = False
    reason: str = ''
    session_id: str = ''


class QrScanned(Event):
    """A QR code was decoded; `kind` is what we issued it for (appt, track), `valid` whether its signature held."""

    device: DevicePayload
    kind: str = ''
    value: str = ''
    valid: bool
    reason: str = ''
    session_id: str = ''


class FaceMatched(Event):
    """A face search ended: 'match' (one citizen), 'no_match' or 'ambiguous' (several close): never a guess."""

    device: DevicePayload
    outcome: str
    citizen_id: int | None = None
    distance: float | None = None
    session_id: str = ''


class FaceGalleryChanged(Event):
    """A face template was enrolled, revoked or expired: every process reloads its cameras' gallery at once."""

    reason: str = ''


class SeatChanged(Event):
    device: DevicePayload
    occupied: bool
    since: dt.datetime | None = None


class HelpRequested(Event):
    """A citizen pressed 呼叫人工 on a kiosk (or staff raised it for them)."""

    device: DevicePayload
    note: str = ''


class KioskPairingChanged(Event):
    """A kiosk screen was paired ('paired') or its pairing ended ('revoked'): an open kiosk page of that kiosk
    checks its credential again (a replaced or revoked screen closes), /admin redraws its list."""

    device: DevicePayload
    change: str


class DevicePlace(BaseModel):
    """Where a device stands and what it belongs to: what the floor map and the drivers need of a new device."""

    name: str = ''
    x: float = 0
    y: float = 0
    zone_id: int | None = None
    window_id: int | None = None
    attached_to: str | None = None


class DeviceRegistered(Event):
    """An admin registered a device: every process adds its driver and puts it on the floor map at once."""

    device: DevicePayload
    place: DevicePlace
    actor: str = 'system'


class DeviceCredentialRotated(Event):
    """An admin gave a device a new credential: every process reads the new hash and closes a connection that
    authenticated with the old one (the hash itself never travels on the bus)."""

    device: DevicePayload
    actor: str = 'system'


class DeviceRetired(Event):
    """An admin retired a device: every process stops its driver and drops it from the floor map."""

    device: DevicePayload
    actor: str = 'system'


class PrinterStatus(Event):
    """A printer job finished or a printer reported paper-out / jam / recovered."""

    device: DevicePayload
    status: str
    job_id: str = ''


class ComfortPrompt(Event):
    """A seat held longer than the comfort threshold while tickets wait: show the hall's long_wait_comfort prompt."""

    device: DevicePayload
    occupied_since: dt.datetime
    waited_minutes: int
    text_zh: str = ''
    text_en: str = ''


class WaitComfort(Event):
    """A ticket has waited past the comfort threshold: its /track and /me pages show the hall's long_wait_comfort."""

    ticket_id: int
    waited_minutes: int
    text_zh: str = ''
    text_en: str = ''


class DeviceSuggestion(Event):
    """A device's rolling usage rate crossed the high mark: the hall's device_usage_high suggestion."""

    device: DevicePayload
    usage: float
    prompt: str = 'device_usage_high'
    text_zh: str = ''
    text_en: str = ''


class SlaAtRisk(Event):
    """A case step is close to (or past) its department's deadline; published by the SLA sweep (app/jobs.py)."""

    case_id: int
    node: str
    department_id: int | None = None
    due_at: dt.datetime
    node_id: int | None = None
    overdue: bool = False


class AlertPayload(BaseModel):
    """An alert as the twin and the manager's page see it (no personal data)."""

    id: int
    key: str
    kind: str
    severity: str
    target: str = ''
    message: str
    raised_at: dt.datetime
    acknowledged_at: dt.datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: dt.datetime | None = None


class AlertRaised(Event):
    alert: AlertPayload


class AlertAcknowledged(Event):
    alert: AlertPayload


class AlertResolved(Event):
    alert: AlertPayload


class CaseStepChanged(Event):
    """A case node started, was decided (approved / returned / done), or the case itself moved (node_id None)."""

    case_id: int
    node_id: int | None = None
    ticket_id: int | None = None
    service_code: str
    stage: int = 0
    kind: str = ''
    name: str = ''
    department_id: int | None = None
    status: str
    case_status: str
    rule: str = ''
    actor: str = 'system'


class HomeVisitChanged(Event):
    """A home visit (上门服务) was requested, scheduled, assigned or done: the twin's visit queue follows it.
    No address, no person: what the manager's queue shows of it."""

    visit_id: int
    case_id: int
    service_code: str
    department_id: int
    status: str
    requested_at: dt.datetime
    slot_start: dt.datetime | None = None
    slot_end: dt.datetime | None = None
    assignees: int = 0


class NotificationSent(Event):
    """An outbox row was delivered on a channel; pages of that ticket or case show it (push channel)."""

    notification_id: int
    channel: str
    kind: str
    ticket_id: int | None = None
    case_id: int | None = None
    text: str


class EvaluationSubmitted(Event):
    """A rating (好差评) was given; `replaces_id` is set for a re-rating after rectification."""

    evaluation_id: int
    ticket_id: int
    window_id: int | None = None
    department_id: int | None = None
    staff_user_id: int | None = None
    scale: str
    level: str
    score: int
    satisfied: bool
    replaces_id: int | None = None


class RectificationOpened(Event):
    rectification_id: int
    evaluation_id: int
    department_id: int | None = None
    deadline: dt.date


class RectificationChanged(Event):
    """Callback, fix, appeal, appeal decision or closing (after the citizen re-rated)."""

    rectification_id: int
    evaluation_id: int
    department_id: int | None = None
    status: str
    actor: str = 'system'


class ProxyChanged(Event):
    """A 亲情代办 grant was joined or ended, or a proposal made or settled: the citizen's and the relative's
    pages redraw their part."""

    grant_id: int
    ticket_id: int | None = None
    case_id: int | None = None
    change: str  # invited / joined / proposed / accepted / rejected / ended


class SessionEnded(Event):
    """A staff session was logged out: every process closes that session's open pages at once, not at its next
    periodic check."""

    session_id: int
    reason: str = 'logged_out'


class CitizenSignedOut(Event):
    """A citizen's phone session was signed out: every process closes that session's open live pages (/me/live) at
    once, not at their next periodic check."""

    session_id: int


class StaffChanged(Event):
    """A staff account was added, disabled, enabled, reset or changed (console or CLI): open admin pages redraw
    their staff list at once."""

    username: str
    action: str  # the audit action: staff_added / staff_disabled / staff_enabled / staff_password_reset / ...
    actor: str = 'system'


class HallConfigChanged(Event):
    """A saved change to the hall's live configuration (service, window, zone, workflow, rules or a whole
    import): every process re-reads what it keeps of that kind (twin, kiosks, guide, rules) without a restart."""

    kind: str  # service / window / zone / workflow / rules / import
    subject: str = ''
    version: int
    actor: str = 'system'
