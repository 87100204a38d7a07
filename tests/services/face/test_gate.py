"""face/gate, without the engine: the gate is open only while waiting; counted failures since the last pass make the
streak; every `gate_max_failures`-th failure in a row starts a cool-down from the latest failure."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest

from app import errors
from app.models import FaceCheck, FacePurpose
from app.services.face import gate
from app.services.face.engine import FacePolicy
from app.services.sitting.lifecycle import SittingState
from tests.conftest import T0
from tests.services.conftest import OPENS, STARTS, Env, Scene

S = timedelta(seconds=1)
POLICY = FacePolicy(identity_max_failures=5, gate_max_failures=3, cooldown=60 * S, min_interval=S, presence_timeout=30 * S)

COOLDOWNS = [
    ("no failure", 0, None, None),
    ("one failure", 1, T0, None),
    ("two failures", 2, T0, None),
    ("the third in a row", 3, T0, T0 + 60 * S),
    ("a fourth", 4, T0, None),
    ("the sixth", 6, T0, T0 + 60 * S),
    ("a streak without a time", 3, None, None),
]


@pytest.mark.parametrize(("label", "streak", "last", "until"), COOLDOWNS, ids=[c[0] for c in COOLDOWNS])
def test_cooldown_until(label: str, streak: int, last: datetime | None, until: datetime | None) -> None:
    assert gate._cooldown_until(streak, last, POLICY) == until


def test_no_cooldown_when_it_is_configured_off() -> None:
    off = FacePolicy(identity_max_failures=5, gate_max_failures=3, cooldown=timedelta(0), min_interval=S, presence_timeout=30 * S)
    assert gate._cooldown_until(3, T0, off) is None


GATE = [
    (SittingState.scheduled, errors.FaceGateClosed, {"opens_at": OPENS.isoformat()}),
    (SittingState.waiting, None, None),
    (SittingState.ready, None, None),
    (SittingState.answering, errors.FaceGateClosed, {"closed_at": STARTS.isoformat()}),
    (SittingState.recorded, errors.FaceGateClosed, {"closed_at": STARTS.isoformat()}),
    (SittingState.absent, errors.SittingClosed, None),
    (SittingState.terminated, errors.SittingClosed, None),
    (SittingState.uploaded, errors.SittingClosed, None),
    (SittingState.incomplete, errors.SittingClosed, None),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("state", "error", "details"), GATE, ids=[g[0].value for g in GATE])
async def test_the_gate_is_open_only_while_waiting(scene: Scene, state: SittingState, error: type[errors.DualcamError] | None, details: dict[str, str] | None) -> None:
    await scene.into(state)
    view = await scene.view()
    if error is None:
        gate._gate_open(view)
        return
    with pytest.raises(error) as refused:
        gate._gate_open(view)
    assert refused.value.details == details


STREAKS = [
    # (label, checks oldest first as (passed, counted), streak)
    ("none", [], 0),
    ("three failures", [(False, True)] * 3, 3),
    ("coaching does not count", [(False, True), (False, False), (False, True)], 2),
    ("a pass ends the streak", [(False, True), (False, True), (True, True), (False, True)], 1),
    ("a pass last", [(False, True), (True, True)], 0),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("label", "checks", "streak"), STREAKS, ids=[s[0] for s in STREAKS])
async def test_failure_streak_since_the_last_pass(scene: Scene, env: Env, label: str, checks: list[tuple[bool, bool]], streak: int) -> None:
    async with env.tx() as db:
        for n, (passed, counted) in enumerate(checks):
            db.add(FaceCheck(
                candidate_id=scene.candidate.id, sitting_id=scene.sitting_id, purpose=FacePurpose.waiting, similarity=0.3, threshold=0.5,
                pack="sface", faces=1, match=passed, passed=passed, counted=counted, findings=[], at=OPENS + n * S,
            ))  # fmt: skip
        db.add(FaceCheck(  # an in-exam check's failure is not this gate's
            candidate_id=scene.candidate.id, sitting_id=scene.sitting_id, purpose=FacePurpose.in_exam, similarity=0.1, threshold=0.5,
            pack="sface", faces=1, match=False, passed=False, counted=True, findings=[], at=OPENS + 100 * S,
        ))  # fmt: skip
    async with env.tx() as db:
        found, last = await gate._failure_streak(db, sitting_id=scene.sitting_id)
        assert await gate._failure_streak(db, sitting_id=uuid.uuid4()) == (0, None)
    assert found == streak
    counted = [OPENS + n * S for n, (passed, c) in enumerate(checks) if c]
    assert last == (counted[-1] if streak else None)
