"""What staff watching a session live hear: a short notice that one sitting changed (state, a phone's presence, an
event, bytes of a recording, a flag), on the session's staff channel. The live dashboard refetches what it shows
on a notice, so a notice carries no data a reviewer of another exam could read, and a lost one costs nothing but a
second's staleness (the next one, or the dashboard's own refresh, brings the rows up to date)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import publish_after_commit
from app.services.sitting.channels import staff_session_channel
from app.services.sitting.sittings import session_id_of


def notice(session_id: uuid.UUID, sitting_id: uuid.UUID, what: str) -> dict[str, str]:
    return {"type": "sitting.changed", "session_id": str(session_id), "sitting_id": str(sitting_id), "what": what}


def changed(db: AsyncSession, *, session_id: uuid.UUID, sitting_id: uuid.UUID, what: str) -> None:
    """Announce after the commit (nothing is announced for a transaction rolled back)."""
    publish_after_commit(db, staff_session_channel(session_id), notice(session_id, sitting_id, what))


async def changed_sitting(db: AsyncSession, *, sitting_id: uuid.UUID, what: str) -> None:
    """`changed` for a caller that knows only the sitting."""
    changed(db, session_id=await session_id_of(db, sitting_id=sitting_id), sitting_id=sitting_id, what=what)
