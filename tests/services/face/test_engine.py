"""face/engine, without the engine: the per-process throttle (one request per key per interval), the wait it
answers, and the limits read from the settings."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app import errors
from app.config import Settings
from app.services.face.engine import FacePolicy, Throttle, rate_limited, seconds
from tests.conftest import T0

S = timedelta(seconds=1)
INTERVAL = timedelta(seconds=2)


def test_one_request_per_key_per_interval() -> None:
    throttle = Throttle()
    throttle.hit("device:a", now=T0, interval=INTERVAL)
    throttle.hit("device:b", now=T0, interval=INTERVAL)  # keys are independent
    with pytest.raises(errors.FaceRateLimited) as refused:
        throttle.hit("device:a", now=T0 + S / 2, interval=INTERVAL)
    assert refused.value.details == {"retry_after": 2}
    assert refused.value.headers == {"Retry-After": "2"}
    throttle.hit("device:a", now=T0 + INTERVAL, interval=INTERVAL)  # exactly one interval later
    with pytest.raises(errors.FaceRateLimited):
        throttle.hit("device:a", now=T0 + INTERVAL + S, interval=INTERVAL)  # counted from the last accepted hit


def test_a_refused_hit_does_not_restart_the_interval() -> None:
    throttle = Throttle()
    throttle.hit("k", now=T0, interval=INTERVAL)
    with pytest.raises(errors.FaceRateLimited):
        throttle.hit("k", now=T0 + S, interval=INTERVAL)
    throttle.hit("k", now=T0 + INTERVAL, interval=INTERVAL)


def test_a_clock_stepping_back_is_not_throttled() -> None:
    throttle = Throttle()
    throttle.hit("k", now=T0, interval=INTERVAL)
    throttle.hit("k", now=T0 - S, interval=INTERVAL)


def test_a_zero_interval_throttles_nothing() -> None:
    throttle = Throttle()
    for _ in range(3):
        throttle.hit("k", now=T0, interval=timedelta(0))


def test_a_full_throttle_forgets_keys_whose_interval_has_passed() -> None:
    throttle = Throttle(max_keys=2)
    throttle.hit("old", now=T0, interval=INTERVAL)
    throttle.hit("recent", now=T0 + 2 * S, interval=INTERVAL)
    throttle.hit("new", now=T0 + 3 * S, interval=INTERVAL)  # full: "old" is forgotten, "recent" kept
    assert set(throttle._last) == {"recent", "new"}
    with pytest.raises(errors.FaceRateLimited):
        throttle.hit("recent", now=T0 + 3 * S, interval=INTERVAL)
    with pytest.raises(errors.FaceRateLimited):
        throttle.hit("new", now=T0 + 4 * S, interval=INTERVAL)


@pytest.mark.parametrize(
    ("wait", "expected"), [(timedelta(0), 1), (timedelta(milliseconds=1), 1), (S, 1), (S + timedelta(milliseconds=1), 2), (59.5 * S, 60)]
)
def test_seconds_to_wait_are_whole_and_at_least_one(wait: timedelta, expected: int) -> None:
    assert seconds(wait) == expected
    assert rate_limited(wait).headers == {"Retry-After": str(expected)}


def test_face_policy_of_the_settings() -> None:
    settings = Settings(env="test", face_identity_max_failures=4, face_gate_max_failures=2, face_cooldown_seconds=30, face_min_interval_seconds=0.5, presence_timeout_seconds=20)
    assert FacePolicy.of(settings) == FacePolicy(
        identity_max_failures=4, gate_max_failures=2, cooldown=30 * S, min_interval=S / 2, presence_timeout=20 * S
    )
