"""The sitting state, one second before, at, and after every window boundary, for each set of facts: a mock or
formal sitting's (the session's schedule) and a practice attempt's (its own windows from its start, no absence)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.services.sitting.lifecycle import Facts, SittingState, Windows, missed_start, sitting_state

S = timedelta(seconds=1)
OPENS = datetime(2026, 6, 1, 0, 50, tzinfo=UTC)  # 08:50 Beijing
STARTS = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)  # 09:00
ENDS = datetime(2026, 6, 1, 1, 10, tzinfo=UTC)  # 09:10
DEADLINE = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)  # 12:00
W = Windows(OPENS, STARTS, ENDS, DEADLINE)
PRACTICE = Windows(OPENS, STARTS, ENDS, DEADLINE, practice=True)  # started at OPENS

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


# A practice attempt: the same windows, except that missing the answer start is no absence — the attempt ends
# unfinished (incomplete) and the candidate starts another.
PRACTICE_CASES = [
    ("practice, waiting from its start", NEVER_READY, OPENS, ss.waiting),
    ("practice, last second of waiting", NEVER_READY, STARTS - S, ss.waiting),
    ("practice not ready when its waiting ends", NEVER_READY, STARTS, ss.incomplete),
    ("practice not ready, after its waiting", NEVER_READY, STARTS + S, ss.incomplete),
    ("practice not ready, after its deadline", NEVER_READY, DEADLINE + S, ss.incomplete),
    ("practice ready at answer start is too late", Facts(ready_at=STARTS), STARTS, ss.incomplete),
    ("practice ready", READY, STARTS - S, ss.ready),
    ("practice ready, answer starts", READY, STARTS, ss.answering),
    ("practice ready, answer ends", READY, ENDS, ss.recorded),
    ("practice ready, deadline without upload", READY, DEADLINE, ss.incomplete),
    ("practice uploaded", Facts(ready_at=OPENS, uploaded_at=ENDS + S), DEADLINE + S, ss.uploaded),
    ("practice terminated while waiting", Facts(terminated_at=OPENS + S), STARTS + S, ss.terminated),
]


@pytest.mark.parametrize(("label", "facts", "now", "expected"), CASES, ids=[c[0] for c in CASES])
def test_state_at_boundaries(label: str, facts: Facts, now: datetime, expected: SittingState) -> None:
    assert sitting_state(W, facts, now) is expected


@pytest.mark.parametrize(("label", "facts", "now", "expected"), PRACTICE_CASES, ids=[c[0] for c in PRACTICE_CASES])
def test_practice_state_at_boundaries(label: str, facts: Facts, now: datetime, expected: SittingState) -> None:
    assert sitting_state(PRACTICE, facts, now) is expected


def test_every_state_is_reachable() -> None:
    assert {c[3] for c in CASES} == set(SittingState)
    assert {c[3] for c in PRACTICE_CASES} == set(SittingState) - {ss.scheduled, ss.absent}  # a practice is never absent


MISSED_START = [
    # (label, facts, now, missed): the answer start passed before the sitting was ready — no question, no recording.
    ("not ready, last second of waiting", NEVER_READY, STARTS - S, False),
    ("not ready at answer start", NEVER_READY, STARTS, True),
    ("ready at answer start is too late", Facts(ready_at=STARTS), STARTS + S, True),
    ("ready in time", READY, STARTS, False),
    ("ready in time, after the deadline", READY, DEADLINE + S, False),
    ("terminated while waiting", Facts(terminated_at=OPENS + S), STARTS, True),
]


@pytest.mark.parametrize(("label", "facts", "now", "missed"), MISSED_START, ids=[c[0] for c in MISSED_START])
@pytest.mark.parametrize("windows", [W, PRACTICE], ids=["timed", "practice"])
def test_missed_start(windows: Windows, label: str, facts: Facts, now: datetime, missed: bool) -> None:
    assert missed_start(windows, facts, now) is missed
