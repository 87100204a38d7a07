"""The sitting state, one second before, at, and after every window boundary, for each set of facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.services.sitting.lifecycle import Facts, SittingState, Windows, sitting_state

S = timedelta(seconds=1)
OPENS = datetime(2026, 6, 1, 0, 50, tzinfo=UTC)  # 08:50 Beijing
STARTS = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)  # 09:00
ENDS = datetime(2026, 6, 1, 1, 10, tzinfo=UTC)  # 09:10
DEADLINE = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)  # 12:00
W = Windows(OPENS, STARTS, ENDS, DEADLINE)

READY = Facts(ready_at=OPENS + 5 * 60 * S)
NEVER_READY = Facts()

ss = SittingState
CASES = [
    # (label, facts, now, expected)
    ("not ready, before waiting", NEVER_READY, OPENS - S, ss.scheduled),
    ("not ready, waiting opens", NEVER_READY, OPENS, ss.waiting),
    ("not ready, just after opening", NEVER_READY, OPENS + S, ss.waiting),
    ("not ready, last second of waiting", NEVER_READY, STARTS - S, ss.waiting),
    ("not ready at answer start", NEVER_READY, STARTS, ss.absent),
    ("not ready after answer start", NEVER_READY, STARTS + S, ss.absent),
    ("not ready after the deadline", NEVER_READY, DEADLINE + S, ss.absent),
    ("ready, before waiting", READY, OPENS - S, ss.scheduled),
    ("ready fact not yet true", READY, OPENS + S, ss.waiting),
    ("ready", READY, READY.ready_at, ss.ready),
    ("ready, last second of waiting", READY, STARTS - S, ss.ready),
    ("ready, answer starts", READY, STARTS, ss.answering),
    ("ready, answering", READY, STARTS + S, ss.answering),
    ("ready, last second of answering", READY, ENDS - S, ss.answering),
    ("ready, answer ends", READY, ENDS, ss.recorded),
    ("ready, after answer end", READY, ENDS + S, ss.recorded),
    ("ready, last second before deadline", READY, DEADLINE - S, ss.recorded),
    ("ready, deadline without upload", READY, DEADLINE, ss.incomplete),
    ("ready, after deadline without upload", READY, DEADLINE + S, ss.incomplete),
    ("ready at the last second counts", Facts(ready_at=STARTS - S), STARTS, ss.answering),
    ("ready at answer start is too late", Facts(ready_at=STARTS), STARTS, ss.absent),
    ("stopped early by hand", Facts(ready_at=OPENS, recording_stopped_at=STARTS + 60 * S), STARTS + 60 * S, ss.recorded),
    ("one second before the manual stop", Facts(ready_at=OPENS, recording_stopped_at=STARTS + 60 * S), STARTS + 59 * S, ss.answering),
    ("uploaded before deadline", Facts(ready_at=OPENS, uploaded_at=ENDS + S), ENDS + S, ss.uploaded),
    ("uploaded stays uploaded after deadline", Facts(ready_at=OPENS, uploaded_at=ENDS + S), DEADLINE + S, ss.uploaded),
    ("upload fact not yet true", Facts(ready_at=OPENS, uploaded_at=ENDS + 2 * S), ENDS + S, ss.recorded),
    ("terminated while answering", Facts(ready_at=OPENS, terminated_at=STARTS + S), STARTS + S, ss.terminated),
    ("terminated is final", Facts(ready_at=OPENS, terminated_at=STARTS + S), DEADLINE + S, ss.terminated),
    ("termination not yet true", Facts(ready_at=OPENS, terminated_at=STARTS + S), STARTS, ss.answering),
]


@pytest.mark.parametrize(("label", "facts", "now", "expected"), CASES, ids=[c[0] for c in CASES])
def test_state_at_boundaries(label: str, facts: Facts, now: datetime, expected: SittingState) -> None:
    assert sitting_state(W, facts, now) is expected


def test_every_state_is_reachable() -> None:
    assert {c[3] for c in CASES} == set(SittingState)
