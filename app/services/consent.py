"""Consent: a purpose, a scope (this time / same kind of matter), the text the citizen saw, revocable at once.

Face data follows China's 2025 face-recognition measures (人脸识别技术应用安全管理办法): a separate
consent just for 刷脸取号, templates stored only encrypted and only under a live consent, deleted in
the same transaction that revokes it, and ID card or a staffed counter always offered instead.

Minors follow PIPL art. 31: a citizen under 14 (by the birth date of their ID number, on the hall's
day) cannot consent alone to 刷脸 or to 调取部门数据. Their guardian consents in person, recorded by
staff (the window, or the kiosk with staff assist), on the minor's own consent row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.clock import hall_day
from app.events import FaceGalleryChanged
from app.models.hall import ServiceItem
from app.models.people import Citizen
from app.models.security import Consent, ConsentPublic, ConsentPurpose, ConsentScope, FaceEncoding
from app.models.ticket import Ticket
from app.services import audit
from app.services.deps import Deps
from app.services.errors import Conflict, Forbidden, Invalid, NotFound
from app.services.identity import parse_id_number
from app.services.tracking import PersonAct
from app.services.uow import Service, UnitOfWork

FACE_CONTEXT = 'face_encoding'
MAX_FACE_ENCODING_BYTES = 2048  # a face_recognition template is 128 float64 = 1024 bytes
MAX_CHANNEL_LENGTH = 16
GUARDIAN_CONTEXT = 'consent.guardian_id'
MINOR_AGE = 14  # PIPL art. 31: under 14 a guardian consents
ADULT_AGE = 18
GUARDED_PURPOSES = frozenset({ConsentPurpose.FACE_TICKET, ConsentPurpose.DEPARTMENT_DATA})
GUARDIAN_RELATIONS: dict[str, str] = {
    'parent': '父母 / parent',
    'grandparent': '祖父母、外祖父母 / grandparent',
    'other_guardian': '其他监护人 / other legal guardian',
}


@dataclass(frozen=True)
class Guardian:
    """The guardian present in person: ID number (typed or read by the card reader) and relation to the minor."""

    id_number: str
    relation: str


@dataclass(frozen=True)
class ConsentText:
    """The exact words a citizen agrees to, in both languages; a grant records which version was shown."""

    zh: str
    en: str


FACE_TICKET_TEXT_VERSION = '2025.1'
DEPARTMENT_DATA_TEXT_VERSION = '2025.1'
PROXY_TEXT_VERSION = '2025.1'

CONSENT_TEXTS: dict[ConsentPurpose, dict[str, ConsentText]] = {
    ConsentPurpose.FACE_TICKET: {
        FACE_TICKET_TEXT_VERSION: ConsentText(
            zh=(
                '刷脸取号单独同意：您同意本大厅采集您的人脸特征，仅用于在本大厅自助终端刷脸取号，不作其他用途，'
                '不向第三方提供。人脸特征仅以加密形式保存，您可随时撤回同意，撤回后立即删除。'
                '不同意不影响办事：您始终可以使用身份证或到人工窗口取号。'
            ),
            en=(
                'Separate consent for face ticketing: you allow this hall to collect your facial features only to '
                'take a queue ticket at its kiosks, for no other purpose, and they are never given to third parties. '
                'They are stored only encrypted; you can withdraw this consent at any time and they are deleted at '
                'once. Saying no changes nothing: you can always take a ticket with your ID card or at a staffed '
                'counter.'
            ),
        ),
    },
    ConsentPurpose.DEPARTMENT_DATA: {
        DEPARTMENT_DATA_TEXT_VERSION: ConsentText(
            zh=(
                '调取部门数据授权：您同意我们通过政务数据共享平台，向相关部门调取办理本事项所需的您的信息'
                '（如户籍、社保、不动产登记），仅用于办理本事项，您无需重复提交材料。'
                '您可随时撤回授权，撤回不影响已完成的办理；不授权时可自行提交纸质材料。'
            ),
            en=(
                'Consent to fetch department data: you allow us to obtain the information this matter needs '
                '(such as household registration, social insurance or property records) from the departments '
                'that hold it, through the government data-sharing platform, only to handle this matter, so you '
                'need not hand it in again. You can withdraw at any time; steps already completed stay valid. '
                'Without this consent you can bring the documents yourself.'
            ),
        ),
    },
    ConsentPurpose.PROXY: {
        PROXY_TEXT_VERSION: ConsentText(
            zh=(
                '亲情代办授权：您同意您邀请的亲友查看本事项的办理进度并协助填写材料。'
                '每一次提交都需要您本人确认；您可随时结束授权，结束后亲友立即无法访问。'
            ),
            en=(
                'Consent to family proxy help: you allow the relative or friend you invite to see the progress of '
                'this matter and help fill in its forms. Every submission needs your own confirmation; you can end '
                'this at any time and they lose access at once.'
            ),
        ),
    },
}

CURRENT_TEXT_VERSIONS: dict[ConsentPurpose, str] = {
    ConsentPurpose.FACE_TICKET: FACE_TICKET_TEXT_VERSION,
    ConsentPurpose.DEPARTMENT_DATA: DEPARTMENT_DATA_TEXT_VERSION,
    ConsentPurpose.PROXY: PROXY_TEXT_VERSION,
}


def consent_text(purpose: ConsentPurpose, version: str | None = None) -> ConsentText:
    """The text to show for a purpose (current version unless one is named)."""
    purpose = ConsentPurpose(purpose)
    texts = CONSENT_TEXTS[purpose]
    version = version or CURRENT_TEXT_VERSIONS[purpose]
    if version not in texts:
        raise Invalid('unknown_consent_text', version=version)
    return texts[version]


def consent_required(purpose: ConsentPurpose) -> Forbidden:
    return Forbidden('consent_required', text=f'consent_required.{ConsentPurpose(purpose).value}')


def guardian_required() -> Forbidden:
    return Forbidden(
        'guardian_required',
    )


def is_minor(birth_date: dt.date | None, today: dt.date) -> bool:
    """Under 14 on `today`: the 14th birthday itself is the first day a citizen consents alone."""
    if birth_date is None:
        return False
    years = today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))
    return years < MINOR_AGE


def is_live(consent: Consent) -> bool:
    """Not revoked, and a 'this time' consent not yet used."""
    if consent.revoked_at is not None:
        return False
    return not (consent.scope == ConsentScope.ONCE and consent.used_at is not None)


def covers(consent: Consent, *, service_code: str | None, ticket_id: int | None) -> bool:
    """Does this live consent allow a use for this matter? A consent without a service code covers any."""
    if not is_live(consent):
        return False
    if consent.scope == ConsentScope.ONCE and consent.ticket_id is not None and consent.ticket_id != ticket_id:
        return False
    return consent.service_code is None or consent.service_code == service_code


def _specificity(consent: Consent) -> tuple[int, int, int]:
    """Use the narrowest consent first: bound to the ticket, then to the service, then the newest."""
    return (consent.ticket_id is None, consent.service_code is None, -(consent.id or 0))


class ConsentService(Service):
    def __init__(self, deps: Deps) -> None:
        super().__init__(deps)
        self.tz = self.settings.tz

    async def _minor(self, s: AsyncSession, citizen_id: int, purpose: ConsentPurpose) -> bool:
        """Does this use need a guardian: a guarded purpose and a citizen under 14 at the hall's clock?"""
        if purpose not in GUARDED_PURPOSES:
            return False
        citizen = await s.get(Citizen, citizen_id)
        return citizen is not None and is_minor(citizen.birth_date, hall_day(self.clock(), self.tz))

    def _guardian_fields(self, guardian: Guardian, role: str) -> dict[str, str]:
        """A guardian is recorded only by staff, must be an adult with a valid ID number and a known relation."""
        if role == 'citizen':
            raise guardian_required()
        if guardian.relation not in GUARDIAN_RELATIONS:
            raise Invalid('invalid_guardian_relation')
        today = hall_day(self.clock(), self.tz)
        facts = parse_id_number(guardian.id_number, today=today)
        if facts.age_on(today) < ADULT_AGE:
            raise Invalid('guardian_not_adult')
        return {
            'guardian_id_enc': self.cipher.encrypt(facts.number, context=GUARDIAN_CONTEXT),
            'guardian_relation': guardian.relation,
        }

    async def grant(
        self,
        citizen_id: int,
        purpose: ConsentPurpose,
        scope: ConsentScope,
        *,
        text_version: str,
        service_code: str | None = None,
        ticket_id: int | None = None,
        channel: str = '',
        actor: str = '',
        role: str = 'citizen',
        guardian: Guardian | None = None,
    ) -> Consent:
        """Record that the citizen (or, under 14, their guardian) agreed to the named text version."""
        async with self._transaction() as uow:
            s = uow.session
            return await self.grant_in(
                s,
                citizen_id,
                purpose,
                scope,
                text_version=text_version,
                service_code=service_code,
                ticket_id=ticket_id,
                channel=channel,
                actor=actor,
                role=role,
                guardian=guardian,
            )

    async def grant_in(
        self,
        s: AsyncSession,
        citizen_id: int,
        purpose: ConsentPurpose,
        scope: ConsentScope,
        *,
        text_version: str,
        service_code: str | None = None,
        ticket_id: int | None = None,
        channel: str = '',
        actor: str = '',
        role: str = 'citizen',
        guardian: Guardian | None = None,
    ) -> Consent:
        """`grant` inside the caller's transaction, so the consent commits or rolls back with what it allows.

        `channel` is the verified path the agreement came through; `actor`/`role` who recorded it (a clerk
        at the window is recorded as the clerk, not as the citizen). A minor's 刷脸 or 调取部门数据
        consent needs `guardian`, recorded by staff; anyone else's refuses one.
        """
        purpose, scope = ConsentPurpose(purpose), ConsentScope(scope)
        consent_text(purpose, text_version)
        _check_grant_target(purpose, scope, service_code, channel)
        await _require_citizen(s, citizen_id)
        minor = await self._minor(s, citizen_id, purpose)
        if minor and guardian is None:
            raise guardian_required()
        if guardian is not None and not minor:
            raise Invalid('guardian_not_needed')
        recorded = self._guardian_fields(guardian, role) if guardian is not None else {}
        if service_code is not None:
            await _require_service(s, service_code)
        if ticket_id is not None:
            await _require_own_ticket(s, citizen_id, ticket_id)
        consent = Consent(
            citizen_id=citizen_id,
            purpose=purpose,
            scope=scope,
            service_code=service_code,
            ticket_id=ticket_id,
            text_version=text_version,
            granted_at=self.clock(),
            channel=channel,
            **recorded,
        )
        s.add(consent)
        await s.flush()
        await _audit(s, consent, audit.CONSENT_GRANTED, consent.granted_at, actor=actor, role=role)
        return consent

    async def revoke(self, consent_id: int, *, citizen_id: int) -> Consent:
        """Withdraw at once; face templates collected under this consent are deleted in the same transaction."""
        async with self._transaction() as uow:
            consent = await self.revoke_in(uow.session, consent_id, citizen_id=citizen_id)
            gallery_changed(uow, consent, self.hall_id)
        return consent

    async def revoke_in(
        self,
        s: AsyncSession,
        consent_id: int,
        *,
        citizen_id: int,
        ticket_id: int | None = None,
        actor: str = '',
        role: str = 'citizen',
        via: str = '',
    ) -> Consent:
        """`revoke` inside the caller's transaction (a proxy grant ends with its consent).

        With `ticket_id`, only a consent given for that ticket: /track changes nothing beyond its own ticket.
        """
        consent = await s.get(Consent, consent_id, with_for_update=True)
        if (
            consent is None
            or consent.citizen_id != citizen_id
            or (ticket_id is not None and consent.ticket_id != ticket_id)
        ):
            raise NotFound('unknown_consent')
        if consent.revoked_at is not None:
            raise Conflict('consent_already_revoked')
        consent.revoked_at = self.clock()
        deleted = await _delete_faces(s, consent_id)
        how = {'via': via} if via else {}
        await _audit(
            s, consent, audit.CONSENT_REVOKED, consent.revoked_at, actor=actor, role=role, faces_deleted=deleted, **how
        )
        return consent

    async def require(
        self,
        citizen_id: int,
        purpose: ConsentPurpose,
        *,
        service_code: str | None = None,
        ticket_id: int | None = None,
        consume: bool = False,
    ) -> Consent:
        """The live consent that allows this use, or `Forbidden('consent_required')`.

        With `consume=True` a 'this time' consent is used up (and its face templates, whose only
        purpose was this use, are deleted); a 'same kind' consent only records its first use.
        """
        async with self._transaction() as uow:
            s = uow.session
            return await self.require_in(
                s, citizen_id, purpose, service_code=service_code, ticket_id=ticket_id, consume=consume
            )

    async def require_in(
        self,
        session: AsyncSession,
        citizen_id: int,
        purpose: ConsentPurpose,
        *,
        service_code: str | None = None,
        ticket_id: int | None = None,
        consume: bool = False,
    ) -> Consent:
        """`require` inside the caller's transaction, so using a consent commits or rolls back with the ticket."""
        purpose = ConsentPurpose(purpose)
        statement = (
            select(Consent)
            .where(Consent.citizen_id == citizen_id, Consent.purpose == purpose, col(Consent.revoked_at).is_(None))
            .with_for_update()
        )
        candidates = [
            consent
            for consent in (await session.execute(statement)).scalars()
            if covers(consent, service_code=service_code, ticket_id=ticket_id)
        ]
        if candidates and await self._minor(session, citizen_id, purpose):
            candidates = [consent for consent in candidates if consent.guardian_relation is not None]
            if not candidates:
                raise guardian_required()
        if not candidates:
            raise consent_required(purpose)
        consent = min(candidates, key=_specificity)
        if consume:
            await self._use(session, consent)
        return consent

    async def agree_at_match(
        self,
        s: AsyncSession,
        citizen_id: int,
        scope: ConsentScope,
        *,
        text_version: str,
        channel: str,
        actor: str,
        role: str,
    ) -> Consent:
        """刷脸取号 after the camera named the citizen: the consent their template rests on is used (a 本次 one used
        up, its template deleted), and the agreement just given at the kiosk is recorded with the scope the citizen
        chose, used at once, in the caller's transaction. A child's agreement carries the guardian of the consent
        it rests on: under 14 no one consents alone at a kiosk (`require_in` refuses a consent without one).
        """
        scope = ConsentScope(scope)
        consent_text(ConsentPurpose.FACE_TICKET, text_version)
        basis = await self.require_in(s, citizen_id, ConsentPurpose.FACE_TICKET, consume=True)
        now = self.clock()
        consent = Consent(
            citizen_id=citizen_id,
            purpose=ConsentPurpose.FACE_TICKET,
            scope=scope,
            text_version=text_version,
            granted_at=now,
            used_at=now,
            channel=channel[:MAX_CHANNEL_LENGTH],
            guardian_id_enc=basis.guardian_id_enc,
            guardian_relation=basis.guardian_relation,
        )
        s.add(consent)
        await s.flush()
        await _audit(s, consent, audit.CONSENT_GRANTED, now, actor=actor, role=role, basis=basis.id)
        return consent

    async def _use(self, s: AsyncSession, consent: Consent) -> None:
        consent.used_at = consent.used_at or self.clock()
        if consent.scope == ConsentScope.ONCE:
            assert consent.id is not None
            await _delete_faces(s, consent.id)

    async def list_for(self, citizen_id: int) -> list[ConsentPublic]:
        """A citizen's consents, newest first, for the 'my consents' page."""
        async with self.db.read_session() as s:
            statement = (
                select(Consent)
                .where(Consent.citizen_id == citizen_id)
                .order_by(col(Consent.granted_at).desc(), col(Consent.id).desc())
            )
            return [ConsentPublic.model_validate(c) for c in (await s.execute(statement)).scalars()]

    async def list_for_ticket(self, act: PersonAct) -> list[ConsentPublic]:
        """The consents given for this ticket only, newest first: /track never shows the citizen's others."""
        ticket_id, citizen_id = act.tracked.ticket_id, act.citizen_id
        if ticket_id is None or citizen_id is None:
            return []
        async with self.db.read_session() as s:
            statement = (
                select(Consent)
                .where(Consent.citizen_id == citizen_id, Consent.ticket_id == ticket_id)
                .order_by(col(Consent.granted_at).desc(), col(Consent.id).desc())
            )
            return [ConsentPublic.model_validate(c) for c in (await s.execute(statement)).scalars()]

    async def grant_for(
        self,
        act: PersonAct,
        purpose: ConsentPurpose,
        scope: ConsentScope,
        *,
        service_code: str | None,
        guardian: Guardian | None = None,
    ) -> Consent:
        """A consent given through `act` (texted code or the window), bound to its ticket and recording the path.

        A guardian is taken only at the window (`act.by_staff`): a texted code proves the phone, not the guardian.
        """
        if guardian is not None and not act.by_staff:
            raise guardian_required()
        if act.citizen_id is None or act.tracked.ticket_id is None:
            raise NotFound('unknown_citizen')
        return await self.grant(
            act.citizen_id,
            purpose,
            scope,
            text_version=CURRENT_TEXT_VERSIONS[ConsentPurpose(purpose)],
            service_code=service_code,
            ticket_id=act.tracked.ticket_id,
            channel=act.via,
            actor=act.actor,
            role=act.role,
            guardian=guardian,
        )

    async def revoke_for(self, act: PersonAct, consent_id: int) -> Consent:
        """Withdraw a consent of this ticket through `act`; another ticket's consent looks like none at all."""
        if act.citizen_id is None or act.tracked.ticket_id is None:
            raise NotFound('unknown_consent')
        async with self._transaction() as uow:
            consent = await self.revoke_in(
                uow.session,
                consent_id,
                citizen_id=act.citizen_id,
                ticket_id=act.tracked.ticket_id,
                actor=act.actor,
                role=act.role,
                via=act.via,
            )
            gallery_changed(uow, consent, self.hall_id)
        return consent

    async def enrol_face(self, citizen_id: int, encoding: bytes, *, consent_id: int) -> FaceEncoding:
        """Store a face template, encrypted, under the citizen's live 刷脸 consent (and no other)."""
        if not encoding or len(encoding) > MAX_FACE_ENCODING_BYTES:
            raise Invalid('invalid_face_encoding')
        async with self._transaction() as uow:
            s = uow.session
            consent = await s.get(Consent, consent_id, with_for_update=True)
            if (
                consent is None
                or consent.citizen_id != citizen_id
                or consent.purpose != ConsentPurpose.FACE_TICKET
                or not is_live(consent)
            ):
                raise consent_required(ConsentPurpose.FACE_TICKET)
            if consent.guardian_relation is None and await self._minor(s, citizen_id, ConsentPurpose.FACE_TICKET):
                raise guardian_required()
            face = FaceEncoding(
                citizen_id=citizen_id,
                consent_id=consent_id,
                encoding_enc=self.cipher.encrypt_bytes(encoding, context=FACE_CONTEXT),
                created_at=self.clock(),
            )
            s.add(face)
            await s.flush()
        return face

    async def face_gallery(self) -> list[tuple[int, bytes]]:
        """(citizen id, template) for every template whose consent is live: the rows of the 1:N matrix."""
        statement = (
            select(FaceEncoding.citizen_id, FaceEncoding.encoding_enc)
            .join(Consent, col(Consent.id) == FaceEncoding.consent_id)
            .where(
                Consent.purpose == ConsentPurpose.FACE_TICKET,
                col(Consent.revoked_at).is_(None),
                or_(Consent.scope == ConsentScope.SAME_KIND, col(Consent.used_at).is_(None)),
            )
            .order_by(col(FaceEncoding.id))
        )
        async with self.db.read_session() as s:
            rows = (await s.execute(statement)).all()
        return [(citizen_id, self.cipher.decrypt_bytes(token, context=FACE_CONTEXT)) for citizen_id, token in rows]


def gallery_changed(uow: UnitOfWork, consent: Consent, hall_id: int) -> None:
    """A revoked 刷脸 consent: every process's cameras drop its templates at once (after commit)."""
    if consent.purpose == ConsentPurpose.FACE_TICKET and uow.bus is not None:
        uow.emit(FaceGalleryChanged(hall_id=hall_id, reason='revoked'))


def _check_grant_target(purpose: ConsentPurpose, scope: ConsentScope, service_code: str | None, channel: str) -> None:
    """'Same kind of matter' must name the matter; only 刷脸取号 may cover every service."""
    if scope == ConsentScope.SAME_KIND and service_code is None and purpose != ConsentPurpose.FACE_TICKET:
        raise Invalid('service_code_required')
    if len(channel) > MAX_CHANNEL_LENGTH:
        raise Invalid('invalid_channel')


async def _require_citizen(s: AsyncSession, citizen_id: int) -> None:
    if await s.get(Citizen, citizen_id) is None:
        raise NotFound('unknown_citizen')


async def _require_service(s: AsyncSession, service_code: str) -> None:
    found = (await s.execute(select(ServiceItem.id).where(ServiceItem.code == service_code))).first()
    if found is None:
        raise NotFound('unknown_service', service_code=service_code)


async def _require_own_ticket(s: AsyncSession, citizen_id: int, ticket_id: int) -> None:
    """A consent can be bound only to the citizen's own ticket; anyone else's looks like no ticket at all."""
    ticket = await s.get(Ticket, ticket_id)
    if ticket is None or ticket.citizen_id != citizen_id:
        raise NotFound('unknown_ticket')


async def _delete_faces(s: AsyncSession, consent_id: int) -> int:
    result = await s.execute(delete(FaceEncoding).where(col(FaceEncoding.consent_id) == consent_id))
    return int(getattr(result, 'rowcount', 0) or 0)


async def _audit(
    s: AsyncSession, consent: Consent, action: str, now: dt.datetime, *, actor: str, role: str, **extra: object
) -> None:
    """Consent changes go to the audit chain, in the transaction that makes them (no personal data).

    The actor is who acted (the citizen, or the clerk at the window) and `via` the path it came through.
    """
    detail = {'purpose': consent.purpose, 'scope': consent.scope, 'service_code': consent.service_code}
    if consent.guardian_relation is not None:
        detail['guardian_relation'] = consent.guardian_relation
    await audit.record(
        s,
        actor=actor or f'citizen:{consent.citizen_id}',
        role=role,
        action=action,
        target=f'consent:{consent.id}',
        detail={**detail, 'via': consent.channel, **extra},
        now=now,
    )
