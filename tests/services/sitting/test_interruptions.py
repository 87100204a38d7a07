"""The interruption policy, table-tested (seed: continue within 2 minutes, at most once)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.services.sitting.interruptions import Breach, Policy, Stretch, breach

START = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)
END = START + timedelta(minutes=10)
S = timedelta(seconds=1)
M = timedelta(minutes=1)
SCHOOL = Policy(limit=1, grace=2 * M)
STRICT = Policy(limit=0, grace=timedelta(0))


def away(a: timedelta, b: timedelta | None) -> Stretch:
    return Stretch(START + a, START + b if b is not None else None)


CASES = [
    ("no interruption", SCHOOL, [], END, None),
    ("one short interruption", SCHOOL, [away(M, 2 * M)], END, None),
    ("one of exactly the grace", SCHOOL, [away(M, 3 * M)], END, None),
    ("one a second over the grace", SCHOOL, [away(M, 3 * M + S)], END, Breach(START + 3 * M, "interruption_too_long")),
    ("still away, within grace", SCHOOL, [away(M, None)], START + 3 * M, None),
    ("still away, past grace", SCHOOL, [away(M, None)], START + 3 * M + S, Breach(START + 3 * M, "interruption_too_long")),
    ("a second interruption", SCHOOL, [away(M, 2 * M), away(5 * M, 5 * M + S)], END, Breach(START + 5 * M, "too_many_interruptions")),
    ("second one not yet happened", SCHOOL, [away(M, 2 * M), away(5 * M, None)], START + 4 * M, None),
    ("both phones away at once count once", SCHOOL, [away(M, 2 * M), away(M + 30 * S, 2 * M + 30 * S)], END, None),
    ("overlap joined past the grace", SCHOOL, [away(M, 2 * M), away(2 * M, 3 * M + S)], END, Breach(START + 3 * M, "interruption_too_long")),
    ("before answering does not count", SCHOOL, [away(-5 * M, -M), away(M, 2 * M)], END, None),
    ("after answering does not count", SCHOOL, [away(M, 2 * M), away(10 * M, 20 * M)], END + 5 * M, None),
    ("ongoing at the start counts from the start", SCHOOL, [away(-M, M + 30 * S)], END, None),
    ("ongoing at the start, too long", SCHOOL, [away(-M, 2 * M + S)], END, Breach(START + 2 * M, "interruption_too_long")),
    ("clipped at the end", SCHOOL, [away(9 * M, None)], END + 5 * M, None),
    ("strict: any interruption", STRICT, [away(M, M + S)], END, Breach(START + M, "too_many_interruptions")),
    ("strict: nothing", STRICT, [], END, None),
]


@pytest.mark.parametrize(("label", "policy", "stretches", "now", "expected"), CASES, ids=[c[0] for c in CASES])
def test_policy(label: str, policy: Policy, stretches: list[Stretch], now: datetime, expected: Breach | None) -> None:
    assert breach(stretches, policy=policy, window_start=START, window_end=END, now=now) == expected
