"""Live flags: what the main phone's stills showed while answering, stored with the in-exam check itself (same
transaction) and told at once to the staff watching the session."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import publish_after_commit
from app.models import DeviceRole, FlagSource
from app.services.face.in_exam import InExamCheck
from app.services.flags.store import NewFlag, put
from app.services.flags.timeline import recording_starts, seconds
from app.services.sitting import sittings
from app.services.sitting.channels import staff_session_channel

# The in-exam check's proctoring events and the flag kinds they are (the recording analysis uses the same names).
LIVE_KINDS = {"face_absent": "no_face", "several_faces": "several_faces", "different_person": "different_person"}


async def record_live(db: AsyncSession, *, result: InExamCheck, now: datetime) -> list[NewFlag]:
    """One flag per finding of the check (a still with nothing to note makes none), at the still's moment on the
    main phone's timeline; published on the session's staff channel once committed."""
    check = result.check
    if not result.events or check.sitting_id is None:
        return []
    view = await sittings.load(db, sitting_id=check.sitting_id, now=now)
    start = (await recording_starts(db, view=view))[DeviceRole.main]
    detail = {"check_id": str(check.id), "faces": check.faces, "similarity": check.similarity, "threshold": check.threshold, "pack": check.pack}
    flags = [
        NewFlag(
            origin=f"live:{check.id}:{LIVE_KINDS[event]}", kind=LIVE_KINDS[event], role=DeviceRole.main, source=FlagSource.live,
            start_s=seconds(start, check.at), end_s=seconds(start, check.at), started_at=check.at, ended_at=check.at,
            value=check.similarity if event == "different_person" else float(check.faces), detail=detail,
        )  # fmt: skip
        for event in result.events
    ]
    await put(db, sitting_id=view.sitting.id, flags=flags, now=now, replaces=None)  # each check adds its own
    message = {
        "type": "flags.live",
        "session_id": str(view.session.id),
        "sitting_id": str(view.sitting.id),
        "flags": [{"kind": f.kind, "role": f.role.value, "source": f.source.value, "start_s": f.start_s, "at": f.started_at.isoformat(), "value": f.value} for f in flags],
    }
    publish_after_commit(db, staff_session_channel(view.session.id), message)
    return flags
