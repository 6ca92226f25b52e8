"""亲情代办: a citizen invites a relative to follow their ticket or case live and help with it, remotely.

The citizen (on /track, after its second factor) creates a grant: for whom (the relation), for how
long (1, 4 or 24 hours) and whether the relative may help fill in (else watch only). It stands on a
PROXY consent recorded in the same transaction. The relative opens the invitation link; the link's
token is stored only hashed. Whatever the relative proposes (a required material is ready) changes
nothing until the citizen accepts it on their own page. The citizen can end the grant at any moment;
ending it (or withdrawing its consent) ends the relative's access at once, and every step is in the
audit chain. An unknown, ended or expired link gets one and the same refusal.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.bus import Bus
from app.events import ProxyChanged
from app.models.cases import Case, CaseMaterial
from app.models.proxy import ProxyGrant, ProxyProposal
from app.models.security import Consent, ConsentPurpose, ConsentScope
from app.models.ticket import Ticket
from app.services import audit
from app.services.case_views import MATERIAL_PREPARED, MATERIAL_REQUIRED, CaseView
from app.services.consent import CURRENT_TEXT_VERSIONS, ConsentService, gallery_changed
from app.services.deps import Deps
from app.services.errors import Conflict, Forbidden, Invalid, NotFound
from app.services.principal import Principal
from app.services.tracking import VIA_ACCOUNT, PersonAct, Tracked
from app.services.uow import Service, UnitOfWork

RELATIONS = ('子女', '配偶', '父母', '兄弟姐妹', '亲友')
DURATIONS_HOURS = (1, 4, 24)
MAX_ACTIVE_GRANTS = 3
PENDING, ACCEPTED, REJECTED, WITHDRAWN = 'pending', 'accepted', 'rejected', 'withdrawn'


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def ended() -> Forbidden:
    return Forbidden('proxy_ended')


@dataclass(frozen=True)
class Invitation:
    grant: ProxyGrant
    token: str  # shown once, in the link and its QR code; only its hash is stored


@dataclass(frozen=True)
class ProxyAccess:
    """What a live invitation link opens: the grant, and the ticket or case it covers."""

    grant: ProxyGrant
    tracked: Tracked

    @property
    def grant_id(self) -> int:
        return self.grant.id or 0


@dataclass(frozen=True)
class ProposalView:
    proposal: ProxyProposal
    material: str


@dataclass(frozen=True)
class GrantView:
    grant: ProxyGrant
    proposals: list[ProposalView]


def is_active(grant: ProxyGrant, consent: Consent | None, now: dt.datetime) -> bool:
    return grant.revoked_at is None and now < grant.expires_at and consent is not None and consent.revoked_at is None


class ProxyService(Service):
    bus: Bus

    def __init__(self, deps: Deps, consent: ConsentService) -> None:
        super().__init__(deps)
        self.consent = consent

    # ---- the citizen ---------------------------------------------------------------------------

    async def invite(self, act: PersonAct, *, relation: str, hours: int, can_fill: bool) -> Invitation:
        """A new grant for this ticket or case, with its PROXY consent, in one transaction.

        Only through `act` (the texted code, or the clerk at the window): the slip's code alone invites nobody.
        """
        tracked = act.tracked
        if relation not in RELATIONS:
            raise Invalid('invalid_relation')
        if hours not in DURATIONS_HOURS:
            raise Invalid('invalid_duration')
        if tracked.citizen_id is None:
            raise Conflict('proxy_needs_citizen')
        now = self.clock()
        token = secrets.token_urlsafe(24)
        async with self._transaction() as uow:
            s = uow.session
            if len(await self._active(s, tracked.citizen_id, now)) >= MAX_ACTIVE_GRANTS:
                raise Conflict(
                    'too_many_proxies',
                    MAX_ACTIVE_GRANTS=MAX_ACTIVE_GRANTS,
                )
            consent = await self.consent.grant_in(
                s,
                tracked.citizen_id,
                ConsentPurpose.PROXY,
                ConsentScope.ONCE,
                text_version=CURRENT_TEXT_VERSIONS[ConsentPurpose.PROXY],
                ticket_id=tracked.ticket_id,
                channel=act.via,
                actor=act.actor,
                role=act.role,
            )
            grant = ProxyGrant(
                citizen_id=tracked.citizen_id,
                consent_id=consent.id or 0,
                ticket_id=tracked.ticket_id,
                case_id=tracked.case_id if tracked.ticket_id is None else None,
                token_hash=token_hash(token),
                relation=relation,
                can_fill=can_fill,
                created_at=now,
                expires_at=now + dt.timedelta(hours=hours),
            )
            s.add(grant)
            await s.flush()
            await self._audit(s, grant, 'invite', actor=act.actor, role=act.role, now=now, via=act.via)
            self._emit(uow, grant, 'invited')
        return Invitation(grant, token)

    async def grants_for(self, tracked: Tracked) -> list[GrantView]:
        """The live grants of this ticket or case, each with its proposals (pending first)."""
        now = self.clock()
        async with self.db.read_session() as s:
            scope = (
                ProxyGrant.ticket_id == tracked.ticket_id
                if tracked.ticket_id is not None
                else ProxyGrant.case_id == tracked.case_id
            )
            grants = await self._active(s, tracked.citizen_id or 0, now, scope)
            return [GrantView(grant, await self._proposals(s, grant.id or 0)) for grant in grants]

    async def decide(self, proposal_id: int, *, act: PersonAct, accept: bool) -> ProxyProposal:
        """The citizen accepts (the material is marked prepared) or rejects a relative's proposal of this ticket."""
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            proposal = await s.get(ProxyProposal, proposal_id, with_for_update=True)
            grant = await s.get(ProxyGrant, proposal.grant_id) if proposal is not None else None
            if proposal is None or grant is None or not _in_scope(grant, act):
                raise NotFound('unknown_proposal')
            if proposal.status != PENDING:
                raise Conflict('proposal_settled')
            material = await s.get(CaseMaterial, proposal.material_id, with_for_update=True)
            if accept:
                if material is None or material.status != MATERIAL_REQUIRED:
                    raise Conflict('material_not_needed')
                material.status, material.source = MATERIAL_PREPARED, 'proxy'
            proposal.status, proposal.decided_at = (ACCEPTED if accept else REJECTED), now
            await self._audit(
                s,
                grant,
                'accept' if accept else 'reject',
                actor=act.actor,
                role=act.role,
                now=now,
                via=act.via,
                proposal_id=proposal.id,
                material_id=proposal.material_id,
            )
            self._emit(uow, grant, proposal.status)
        return proposal

    async def end(self, grant_id: int, *, act: PersonAct) -> ProxyGrant:
        """End a grant of this ticket now: the link stops working, its consent is withdrawn, proposals dropped."""
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            grant = await s.get(ProxyGrant, grant_id, with_for_update=True)
            if grant is None or not _in_scope(grant, act):
                raise NotFound('unknown_grant')
            if grant.revoked_at is not None:
                raise Conflict('grant_ended')
            await self._end(uow, grant, now, act=act)
        return grant

    async def end_for_consent(self, consent_id: int, *, act: PersonAct) -> None:
        """Withdrawing a PROXY consent of this ticket from the consent list ends its grants the same way."""
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            rows = await s.execute(
                select(ProxyGrant).where(
                    ProxyGrant.consent_id == consent_id,
                    ProxyGrant.citizen_id == (act.citizen_id or 0),
                    col(ProxyGrant.revoked_at).is_(None),
                )
            )
            grants = [grant for grant in rows.scalars() if _in_scope(grant, act)]
            for grant in grants:
                await self._end(uow, grant, now, act=act)
            if not grants:
                await self.consent.revoke_in(
                    s,
                    consent_id,
                    citizen_id=act.citizen_id or 0,
                    ticket_id=act.tracked.ticket_id or 0,
                    actor=act.actor,
                    role=act.role,
                    via=act.via,
                )

    # ---- the citizen on /me (a phone session linked to them) ------------------------------------

    async def end_by_account(self, caller: Principal, grant_id: int) -> ProxyGrant:
        """End one of the linked citizen's grants from /me; anyone else's grant looks like none at all."""
        caller.require_account()
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            grant = await s.get(ProxyGrant, grant_id, with_for_update=True)
            if grant is None or caller.citizen_id is None or grant.citizen_id != caller.citizen_id:
                raise NotFound('unknown_grant')
            if grant.revoked_at is not None:
                raise Conflict('grant_ended')
            await self._end(uow, grant, now, act=_account_act(caller, await _tracked(s, grant)))
        return grant

    async def withdraw_by_account(self, caller: Principal, consent_id: int) -> None:
        """Withdraw one of the linked citizen's consents from /me; a PROXY consent ends its grants with it."""
        caller.require_account()
        if caller.citizen_id is None:
            raise NotFound('unknown_consent')
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            rows = await s.execute(
                select(ProxyGrant).where(
                    ProxyGrant.consent_id == consent_id,
                    ProxyGrant.citizen_id == caller.citizen_id,
                    col(ProxyGrant.revoked_at).is_(None),
                )
            )
            grants = list(rows.scalars())
            for grant in grants:
                await self._end(uow, grant, now, act=_account_act(caller, await _tracked(s, grant)))
            if not grants:
                consent = await self.consent.revoke_in(
                    s, consent_id, citizen_id=caller.citizen_id, actor=caller.name, role='citizen', via=VIA_ACCOUNT
                )
                gallery_changed(uow, consent, self.hall_id)

    # ---- the relative --------------------------------------------------------------------------

    async def access(self, token: str) -> ProxyAccess:
        """What a link opens while its grant lives; one refusal for unknown, ended and expired links."""
        async with self.db.read_session() as s:
            return await self._access(s, token)

    async def join(self, token: str, *, client_address: str = '') -> ProxyAccess:
        """The relative opened the link: the first time is recorded (the citizen sees "已加入").

        The link is checked in a read first: an unknown, ended or already joined link never takes the
        write lock, so anyone fetching /proxy/<guess> costs the hall a read, not a queue behind writers.
        """
        async with self.db.read_session() as s:
            access = await self._access(s, token)
        if access.grant.joined_at is not None:
            return access
        now = self.clock()
        async with self._transaction() as uow:
            access = await self._access(uow.session, token, lock=True)
            grant = access.grant
            if grant.joined_at is None:
                grant.joined_at = now
                await self._audit(
                    uow.session, grant, 'join', actor=self._proxy(grant), client_address=client_address, now=now
                )
                self._emit(uow, grant, 'joined')
        return access

    async def propose(self, token: str, material_id: int) -> ProxyProposal:
        """The relative says a required material is ready; the citizen confirms it on their page."""
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            access = await self._access(s, token, lock=True)
            grant = access.grant
            if not grant.can_fill:
                raise Forbidden('proxy_view_only')
            material = await s.get(CaseMaterial, material_id)
            case = await s.get(Case, material.case_id) if material is not None else None
            if material is None or case is None or not _covers(grant, case):
                raise NotFound('unknown_material')
            if material.status != MATERIAL_REQUIRED:
                raise Conflict('material_not_needed')
            pending = await s.execute(
                select(ProxyProposal.id).where(
                    ProxyProposal.material_id == material_id, ProxyProposal.status == PENDING
                )
            )
            if pending.first() is not None:
                raise Conflict('proposal_pending')
            proposal = ProxyProposal(
                grant_id=grant.id or 0, case_id=case.id or 0, material_id=material_id, created_at=now
            )
            s.add(proposal)
            await s.flush()
            await self._audit(
                s, grant, 'propose', actor=self._proxy(grant), now=now, proposal_id=proposal.id, material_id=material_id
            )
            self._emit(uow, grant, 'proposed')
        return proposal

    async def proposals(self, grant_id: int) -> list[ProposalView]:
        async with self.db.read_session() as s:
            return await self._proposals(s, grant_id)

    # ---- helpers -------------------------------------------------------------------------------

    async def _access(self, s: AsyncSession, token: str, *, lock: bool = False) -> ProxyAccess:
        statement = select(ProxyGrant).where(ProxyGrant.token_hash == token_hash(token.strip()[:64]))
        grant = (await s.execute(statement.with_for_update() if lock else statement)).scalar_one_or_none()
        consent = await s.get(Consent, grant.consent_id) if grant is not None else None
        if grant is None or not is_active(grant, consent, self.clock()):
            raise ended()
        return ProxyAccess(grant, await _tracked(s, grant))

    async def _active(
        self, s: AsyncSession, citizen_id: int, now: dt.datetime, *scope: ColumnElement[bool]
    ) -> list[ProxyGrant]:
        """The citizen's live grants (optionally only those of one ticket or case), oldest first."""
        rows = await s.execute(
            select(ProxyGrant, Consent)
            .join(Consent, col(Consent.id) == ProxyGrant.consent_id)
            .where(ProxyGrant.citizen_id == citizen_id, col(ProxyGrant.revoked_at).is_(None), *scope)
            .order_by(col(ProxyGrant.id))
        )
        return [grant for grant, consent in rows if is_active(grant, consent, now)]

    async def _proposals(self, s: AsyncSession, grant_id: int) -> list[ProposalView]:
        rows = await s.execute(
            select(ProxyProposal, CaseMaterial.name)
            .join(CaseMaterial, col(CaseMaterial.id) == ProxyProposal.material_id)
            .where(ProxyProposal.grant_id == grant_id)
            .order_by(col(ProxyProposal.id))
        )
        views = [ProposalView(proposal, name) for proposal, name in rows]
        return sorted(views, key=lambda view: view.proposal.status != PENDING)

    async def _end(self, uow: UnitOfWork, grant: ProxyGrant, now: dt.datetime, *, act: PersonAct) -> None:
        s = uow.session
        grant.revoked_at = now
        consent = await s.get(Consent, grant.consent_id)
        if consent is not None and consent.revoked_at is None:
            await self.consent.revoke_in(
                s, grant.consent_id, citizen_id=grant.citizen_id, actor=act.actor, role=act.role, via=act.via
            )
        rows = await s.execute(
            select(ProxyProposal).where(ProxyProposal.grant_id == grant.id, ProxyProposal.status == PENDING)
        )
        for proposal in rows.scalars():
            proposal.status, proposal.decided_at = WITHDRAWN, now
        await self._audit(s, grant, 'end', actor=act.actor, role=act.role, now=now, via=act.via)
        self._emit(uow, grant, 'ended')

    @staticmethod
    def _proxy(grant: ProxyGrant) -> str:
        return f'proxy:{grant.id}'

    async def _audit(
        self,
        s: AsyncSession,
        grant: ProxyGrant,
        action: str,
        *,
        actor: str,
        now: dt.datetime,
        role: str = 'proxy',
        client_address: str = '',
        **detail: object,
    ) -> None:
        """Every proxy step goes to the audit chain (ids and the relation only: no personal data)."""
        await audit.record(
            s,
            actor=actor,
            role=role,
            action=audit.PROXY_ACTION,
            target=f'proxy_grant:{grant.id}',
            detail={'action': action, 'relation': grant.relation, 'can_fill': grant.can_fill, **detail},
            client_address=client_address[:64],
            now=now,
        )

    def _emit(self, uow: UnitOfWork, grant: ProxyGrant, change: str) -> None:
        uow.emit(
            ProxyChanged(
                hall_id=self.hall_id,
                grant_id=grant.id or 0,
                ticket_id=grant.ticket_id,
                case_id=grant.case_id,
                change=change,
            )
        )


@dataclass(frozen=True)
class ToBring:
    """A material a case still needs, as the relative's page lists it."""

    material: CaseMaterial
    service_name: str
    waiting: bool  # already sent to the citizen, not yet settled


def to_bring(views: list[CaseView], proposals: list[ProposalView]) -> list[ToBring]:
    """The materials still required (the only ones a relative may mark ready), and which wait for the citizen."""
    pending = {view.proposal.material_id for view in proposals if view.proposal.status == PENDING}
    return [
        ToBring(material, view.service.name, material.id in pending)
        for view in views
        for material in view.materials
        if material.status == MATERIAL_REQUIRED
    ]


def _in_scope(grant: ProxyGrant, act: PersonAct) -> bool:
    """A grant of the citizen's ticket (or case) that `act` was given for: never one of their other tickets."""
    tracked = act.tracked
    if grant.citizen_id != act.citizen_id:
        return False
    if tracked.ticket_id is not None:
        return grant.ticket_id == tracked.ticket_id
    return grant.case_id == tracked.case_id


def _covers(grant: ProxyGrant, case: Case) -> bool:
    """A grant for a ticket covers the cases opened from it; a grant for a case covers that case."""
    return (grant.ticket_id is not None and case.ticket_id == grant.ticket_id) or case.id == grant.case_id


async def _tracked(s: AsyncSession, grant: ProxyGrant) -> Tracked:
    """The grant's ticket or case, as /track sees it (the relative gets the same live view, without its extras)."""
    ticket = await s.get(Ticket, grant.ticket_id) if grant.ticket_id is not None else None
    case = await s.get(Case, grant.case_id) if grant.case_id is not None else None
    if ticket is None and case is None:
        raise ended()
    return Tracked(
        code='',
        ticket_id=ticket.id if ticket else None,
        case_id=case.id if case else None,
        citizen_id=grant.citizen_id,
        service_id=ticket.service_id if ticket else case.service_id if case else 0,
        number=ticket.number if ticket else '',
    )


def _account_act(caller: Principal, tracked: Tracked) -> PersonAct:
    """The phone session as the verified path: recorded as the citizen, via their account."""
    return PersonAct(tracked, VIA_ACCOUNT, caller.name, 'citizen')
