"""刷脸 enrolment at a paired kiosk: card read, then consent (本次 / 同类), then a live capture, then the template.

The rules, in order: the caller is the kiosk the citizen stands at, and the citizen's ID card was just read
by its own reader (never a typed number, never a face); the separate 刷脸 consent is recorded with its scope
before the camera is used; the capture must show a live person (`face_liveness.judge`: a blink or a head
turn, a still photo is refused with its reason); only then is the template stored, encrypted, under that
consent, with an audit row in the same transaction. The cameras' gallery hears `FaceGalleryChanged` after
commit (and after a revocation), so every process adds or drops the template at once.

Scope: 同类 keeps the template until the citizen revokes; 本次 is for this visit only: `expire_visits` (a job
every 10 minutes) deletes it once the visit's ticket is done or the hall day it was given on is over (a 刷脸
match uses it up earlier: `ConsentService`). The consent goes with the ticket taken next, so /track shows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import col, select

from app.clock import hall_day
from app.events import FaceGalleryChanged
from app.models.device import DeviceKind
from app.models.security import Consent, ConsentPurpose, ConsentScope, FaceEncoding
from app.models.ticket import OPEN_STATUSES, Ticket
from app.services import audit
from app.services.citizens import find_or_create
from app.services.consent import (
    CURRENT_TEXT_VERSIONS,
    FACE_CONTEXT,
    MAX_FACE_ENCODING_BYTES,
    ConsentService,
    consent_required,
    is_live,
)
from app.services.deps import Deps
from app.services.errors import Conflict, Forbidden, Invalid
from app.services.face_liveness import Landmarks, Liveness, judge
from app.services.identity import parse_id_number
from app.services.kiosk_devices import KioskDevices
from app.services.kiosk_steps import KioskSession, Method, Step
from app.services.principal import Kind, Principal
from app.services.uow import Service

FACE_ENROLLED = 'face_enrolled'
FACE_EXPIRED = 'face_expired'
KIOSK_CHANNEL = 'kiosk'


@dataclass(frozen=True)
class FaceCapture:
    """What the kiosk's camera gave for one enrolment: landmarks per frame (oldest first) and one template."""

    frames: Sequence[Landmarks]
    encoding: bytes


def _require_kiosk(caller: Principal, session: KioskSession) -> None:
    """Only the paired kiosk screen the citizen stands at enrols (its pairing made this principal)."""
    if caller.kind != Kind.KIOSK or caller.device_code != session.kiosk.code:
        raise Forbidden('forbidden')


class FaceEnrolmentService(Service):
    def __init__(self, deps: Deps) -> None:
        super().__init__(deps)
        self.consents = ConsentService(deps)

    def offer(self, caller: Principal, session: KioskSession) -> str:
        """Show the consent screen (its text version is returned): only after this kiosk's card reader read a card."""
        _require_kiosk(caller, session)
        session.offer_enrolment()
        return CURRENT_TEXT_VERSIONS[ConsentPurpose.FACE_TICKET]

    async def agree(self, caller: Principal, session: KioskSession, scope: ConsentScope, *, text_version: str) -> int:
        """Record the 刷脸 consent with the scope the citizen chose, for the citizen whose card was read."""
        _require_kiosk(caller, session)
        scope = ConsentScope(scope)
        identity = session.identity
        if identity is None or session.method != Method.ID_CARD:
            raise Forbidden('enrolment_needs_card')
        if session.step != Step.ENROL_CONSENT:
            raise Conflict('not_asking_consent')
        facts = parse_id_number(identity.id_number, today=hall_day(self.clock(), self.settings.tz))
        async with self._transaction() as uow:
            s = uow.session
            citizen = await find_or_create(
                s, self.cipher, facts, now=self.clock(), name=identity.name or None, update_contact=True
            )
            assert citizen.id is not None
            consent = await self.consents.grant_in(
                s,
                citizen.id,
                ConsentPurpose.FACE_TICKET,
                scope,
                text_version=text_version,
                channel=KIOSK_CHANNEL,
                actor=caller.name,
                role=caller.role,
            )
        assert consent.id is not None
        session.enrolment_consented(consent.id)
        return consent.id

    async def enrol(self, caller: Principal, session: KioskSession, capture: FaceCapture) -> Liveness:
        """Enrol from a live capture; a still photo or no cue is refused (`Invalid('not_live')`) and stores nothing."""
        _require_kiosk(caller, session)
        consent_id = session.enrolment_consent()
        verdict = judge(capture.frames)
        if not verdict.live:
            raise Invalid('not_live', text=f'not_live.{verdict.reason}')
        if not capture.encoding or len(capture.encoding) > MAX_FACE_ENCODING_BYTES:
            raise Invalid('invalid_face_encoding')
        async with self._transaction() as uow:
            s = uow.session
            consent = await s.get(Consent, consent_id, with_for_update=True)
            if consent is None or consent.purpose != ConsentPurpose.FACE_TICKET or not is_live(consent):
                raise consent_required(ConsentPurpose.FACE_TICKET)
            face = FaceEncoding(
                citizen_id=consent.citizen_id,
                consent_id=consent_id,
                encoding_enc=self.cipher.encrypt_bytes(capture.encoding, context=FACE_CONTEXT),
                created_at=self.clock(),
            )
            s.add(face)
            await s.flush()
            await audit.record_for(
                s,
                caller,
                action=FACE_ENROLLED,
                target=f'consent:{consent_id}',
                detail={'scope': consent.scope, 'liveness': verdict.reason},
                now=self.clock(),
            )
            if uow.bus is not None:
                uow.emit(FaceGalleryChanged(hall_id=self.hall_id, reason=FACE_ENROLLED))
        session.enrolment_done()
        return verdict

    async def capture(self, caller: Principal, session: KioskSession, devices: KioskDevices | None) -> Liveness:
        """Ask this kiosk's camera for a capture and enrol it; no camera or no usable capture names the fallback."""
        _require_kiosk(caller, session)
        session.enrolment_consent()
        camera = session.kiosk.attached(DeviceKind.CAMERA)
        found = await devices.capture_enrolment(camera, session.kiosk.code) if camera and devices else None
        if found is None:
            raise Invalid('face_capture_failed')
        return await self.enrol(caller, session, found)

    def skip(self, caller: Principal, session: KioskSession) -> None:
        """Declined or fell back to the card: no template; a consent already recorded stays revocable on /me."""
        _require_kiosk(caller, session)
        session.enrolment_done()

    async def expire_visits(self, caller: Principal) -> int:
        """Delete the templates of 本次 consents whose visit is over: their ticket is done, or their day has
        ended; the count deleted."""
        if not caller.is_system:
            raise Forbidden('forbidden')
        now = self.clock()
        today = hall_day(now, self.settings.tz)
        async with self._transaction() as uow:
            s = uow.session
            rows = (
                await s.execute(
                    select(FaceEncoding, Consent, Ticket.status)
                    .join(Consent, col(Consent.id) == FaceEncoding.consent_id)
                    .outerjoin(Ticket, col(Ticket.id) == Consent.ticket_id)
                    .where(Consent.scope == ConsentScope.ONCE, Consent.purpose == ConsentPurpose.FACE_TICKET)
                )
            ).all()
            expired = [
                face
                for face, consent, status in rows
                if hall_day(consent.granted_at, self.settings.tz) < today
                or (status is not None and status not in OPEN_STATUSES)
            ]
            for face in expired:
                await s.delete(face)
            if expired:
                await audit.record_for(s, caller, action=FACE_EXPIRED, detail={'templates': len(expired)}, now=now)
                if uow.bus is not None:
                    uow.emit(FaceGalleryChanged(hall_id=self.hall_id, reason=FACE_EXPIRED))
        return len(expired)
