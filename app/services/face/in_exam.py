"""Checks of the main phone's frames while answering, recorded as proctoring events; they never stop a sitting."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.models import Candidate, Device, FaceCheck, FacePurpose
from app.services.face.checks import main_only, recent_attempt, record_check, verify
from app.services.face.engine import Faces
from app.services.face.enrolment import enrolment_for
from app.services.sitting import proctoring, sittings
from app.services.sitting.lifecycle import FINAL_STATES, SittingState


@dataclass(frozen=True, slots=True)
class InExamCheck:
    check: FaceCheck
    events: list[str]


async def in_exam_check(
    db: AsyncSession, *, device: Device, candidate: Candidate, image: bytes, faces: Faces, now: datetime
) -> InExamCheck:
    """A frame from the main phone while answering: face count and match, recorded as proctoring events
    (face_absent, several_faces, different_person) for the proctors; it never stops the sitting by itself."""
    main_only(device)
    faces.throttle.hit(f"device:{device.id}", now=now, interval=faces.policy.min_interval)
    view = await sittings.load(db, sitting_id=device.sitting_id, now=now)
    if view.state in FINAL_STATES:
        raise errors.SittingClosed()
    if view.state is not SittingState.answering:
        raise errors.FaceCheckClosed()
    await recent_attempt(db, faces, now, FaceCheck.device_id == device.id)
    enrolment = await enrolment_for(db, candidate=candidate, faces=faces, now=now)
    result = await verify(faces.engine, image, enrolment, candidate=candidate)
    check = await record_check(db, faces, candidate=candidate, purpose=FacePurpose.in_exam, result=result, image=image, now=now, view=view, device=device)
    events = proctor_events(check)
    for kind in events:
        details = {"check_id": str(check.id), "faces": check.faces, "similarity": check.similarity, "threshold": check.threshold}
        proctoring.record(db, sitting_id=view.sitting.id, device_id=device.id, source="server", kind=kind, now=now, details=details)
    return InExamCheck(check, events)


def proctor_events(check: FaceCheck) -> list[str]:
    events = []
    if check.faces == 0:
        events.append("face_absent")
    if check.faces > 1:
        events.append("several_faces")
    # A non-match says "someone else" only on a usable capture: a dark or blurred frame is not evidence.
    quality = [f["code"] for f in check.findings if f["code"] != "several_faces"]
    if check.similarity is not None and not check.match and not quality:
        events.append("different_person")
    return events
