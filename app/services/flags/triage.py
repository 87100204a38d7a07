"""What staff read of the flags: one sitting's flags of both phones on one timeline with its risk and analysis
progress, and a session's review queue — sittings by risk, and a reproducible random audit sample of the
low-risk ones, so that no sitting is certain to go unwatched."""

from __future__ import annotations

import hashlib
import hmac
import math
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.flags.risk import Risk, risk
from app.models import AnalysisJob, Candidate, Decision, DeviceRole, ExamSession, Flag, Sitting
from app.services.exam import exams, sessions
from app.services.flags import jobs
from app.services.flags.store import current
from app.services.flags.timeline import recording_starts
from app.services.review import claims, decisions
from app.services.review.claims import Holder
from app.services.scope import EVERY_EXAM, ExamScope
from app.services.sitting import sittings
from app.services.sitting.lifecycle import SittingState, facts_of, missed_start, windows_for
from app.services.sitting.sittings import SittingView


@dataclass(frozen=True, slots=True)
class SittingFlags:
    view: SittingView
    flags: list[Flag]
    risk: Risk
    jobs: dict[DeviceRole, AnalysisJob]
    recording_starts: dict[DeviceRole, datetime]


async def sitting_flags(db: AsyncSession, *, sitting_id: uuid.UUID, now: datetime, scope: ExamScope = EVERY_EXAM) -> SittingFlags:
    view = await sittings.load(db, sitting_id=sitting_id, now=now, scope=scope)
    flags = (await current(db, sitting_ids=[sitting_id]))[sitting_id]
    latest = (await jobs.latest_by_role(db, sitting_ids=[sitting_id]))[sitting_id]
    return SittingFlags(view, flags, risk(flags), latest, await recording_starts(db, view=view))


@dataclass(frozen=True, slots=True)
class AuditPolicy:
    """Sittings at or above `min_risk` are queued; of the others, `rate` (at least one when there are any) are drawn,
    ranked by a keyed hash of session and sitting: the same draw on every read, unguessable without the key."""

    min_risk: int
    rate: float
    key: bytes

    @classmethod
    def of(cls, settings: Settings) -> AuditPolicy:
        return cls(min_risk=settings.flags_review_min_risk, rate=settings.flags_audit_rate, key=settings.secret_key.encode())

    def draw(self, session_id: uuid.UUID, low_risk: list[uuid.UUID]) -> set[uuid.UUID]:
        if not low_risk or self.rate <= 0:
            return set()
        ranked = sorted(low_risk, key=lambda s: hmac.new(self.key, f"audit:{session_id}:{s}".encode(), hashlib.sha256).digest())
        return set(ranked[: math.ceil(self.rate * len(ranked))])


@dataclass(frozen=True, slots=True)
class QueueRow:
    sitting: Sitting
    candidate: Candidate
    state: SittingState
    risk: Risk
    kinds: dict[str, int]
    audit_sample: bool
    jobs: dict[DeviceRole, AnalysisJob]
    claim: Holder | None
    decision: Decision | None


@dataclass(frozen=True, slots=True)
class ReviewQueue:
    session: ExamSession
    timezone: str
    policy: AuditPolicy
    rows: list[QueueRow]


async def review_queue(
    db: AsyncSession,
    *,
    session_id: uuid.UUID,
    now: datetime,
    policy: AuditPolicy,
    state: SittingState | None = None,
    kind: str | None = None,
    is_reviewed: bool | None = None,
    claimed_by: uuid.UUID | None = None,
    scope: ExamScope = EVERY_EXAM,
) -> ReviewQueue:
    """The session's sittings that answered, highest risk first: those at or above the policy's risk, and the audit
    sample of the rest (drawn before the filters, so a filter never changes who is drawn). `is_reviewed`: only
    sittings whose review is (not) settled; `claimed_by`: only those this staff member holds."""
    session = await sessions.get_session(db, session_id, scope=scope)
    exam = await exams.get_exam(db, session.exam_id, scope=scope)
    answered = [
        r for r in await sittings.session_sittings(db, session=session, now=now)
        if now >= windows_for(session, r.sitting).answer_starts_at and not missed_start(windows_for(session, r.sitting), facts_of(r.sitting), now)
    ]  # fmt: skip
    ids = [r.sitting.id for r in answered]
    flags = await current(db, sitting_ids=ids)
    latest = await jobs.latest_by_role(db, sitting_ids=ids)
    risks = {s: risk(f) for s, f in flags.items()}
    sample = policy.draw(session.id, [s for s in ids if risks[s].score < policy.min_risk])
    decided = await decisions.current(db, sitting_ids=ids)
    held = await claims.holders(db, sitting_ids=ids, now=now)
    rows = []
    for r in answered:
        sid = r.sitting.id
        if risks[sid].score < policy.min_risk and sid not in sample:
            continue
        kinds = dict(Counter(f.kind for f in flags[sid]))
        if (state is not None and r.state is not state) or (kind is not None and kind not in kinds):
            continue
        if is_reviewed is not None and decisions.is_settled(decided.get(sid)) is not is_reviewed:
            continue
        if claimed_by is not None and (sid not in held or held[sid].staff_id != claimed_by):
            continue
        rows.append(QueueRow(r.sitting, r.candidate, r.state, risks[sid], kinds, sid in sample, latest[sid], held.get(sid), decided.get(sid)))
    rows.sort(key=lambda q: -q.risk.score)  # stable: candidates of equal risk stay in name order
    return ReviewQueue(session, exam.timezone, policy, rows)
