"""sitting/questions: never before the answer start (server time), never for a candidate absent when it began
(however late they ask), and a practice attempt sees only the question drawn for it."""

from __future__ import annotations

from datetime import datetime

import pytest

from app import errors
from app.models import Question, SessionKind, Sitting
from app.services.sitting import questions, sittings
from tests.conftest import T0
from tests.services.conftest import DEADLINE, ENDS, QUESTION, READY_AT, STARTS, Env, S, Scene, questions_of

pytestmark = pytest.mark.anyio

REFUSALS = [
    # (label, facts, asked at, refusal)
    ("ready, a second before the start", {"ready_at": READY_AT}, STARTS - S, errors.QuestionNotRevealed),
    ("ready, at the start instant (09:00:00)", {"ready_at": READY_AT}, STARTS, None),
    ("ready, while answering", {"ready_at": READY_AT}, STARTS + 5 * 60 * S, None),
    ("ready, after answering", {"ready_at": READY_AT}, ENDS + S, None),
    ("ready, after the deadline (incomplete)", {"ready_at": READY_AT}, DEADLINE + S, None),
    ("terminated while answering", {"ready_at": READY_AT, "terminated_at": STARTS + S}, STARTS + 2 * S, None),
    ("never ready, a second before the start", {}, STARTS - S, errors.QuestionNotRevealed),
    ("never ready, at the start (absent)", {}, STARTS, errors.SittingClosed),
    ("absent, asking late", {}, ENDS + 60 * S, errors.SittingClosed),
    ("absent, asking after the deadline", {}, DEADLINE + S, errors.SittingClosed),
    ("ready only at the start instant: absent", {"ready_at": STARTS}, STARTS + S, errors.SittingClosed),
    ("before the waiting room opens", {}, T0, errors.QuestionNotRevealed),
]


@pytest.mark.parametrize(("label", "facts", "at", "expected"), REFUSALS, ids=[r[0] for r in REFUSALS])
async def test_refusal(scene: Scene, label: str, facts: dict[str, datetime], at: datetime, expected: type[errors.DualcamError] | None) -> None:
    await scene.env.set_facts(scene.sitting_id, **facts)
    view = await scene.view(T0)  # judged at `at`, whatever instant the view was loaded at
    refused = questions.refusal(view, at)
    assert (type(refused) if refused is not None else None) is expected
    if expected is errors.QuestionNotRevealed:
        assert refused is not None and refused.details == {"answer_starts_at": STARTS.isoformat()}


async def test_revealed_questions_raises_the_refusal_or_gives_the_questions(scene: Scene, env: Env) -> None:
    await env.set_facts(scene.sitting_id, ready_at=READY_AT)
    async with env.tx() as db:
        with pytest.raises(errors.QuestionNotRevealed):
            await questions.revealed_questions(db, view=await scene.load(db), now=STARTS - S)
        revealed = await questions.revealed_questions(db, view=await scene.load(db), now=STARTS)
    assert [q.text for q in revealed] == [QUESTION]


async def test_revealed_questions_refuses_an_absent_sitting(scene: Scene, env: Env) -> None:
    async with env.tx() as db:
        with pytest.raises(errors.SittingClosed):
            await questions.revealed_questions(db, view=await scene.load(db), now=ENDS)


async def test_a_practice_attempt_sees_only_its_drawn_question(env: Env) -> None:
    exam = await env.exam()
    practice = await env.practice(exam, "练习一", "练习二", "练习三", waiting=60)
    candidate = await env.candidate(exam)
    async with env.tx() as db:
        view, _ = await sittings.start_practice(db, candidate=candidate, session_id=practice.id, now=env.now())
    await env.set_facts(view.sitting.id, ready_at=env.now() + S)
    start = view.windows.answer_starts_at
    async with env.tx() as db:
        fresh = await sittings.load(db, sitting_id=view.sitting.id, now=start)
        with pytest.raises(errors.QuestionNotRevealed):
            await questions.revealed_questions(db, view=fresh, now=start - S)
        revealed = await questions.revealed_questions(db, view=fresh, now=start)
    assert [q.id for q in revealed] == [view.sitting.question_id]


async def test_drawn(env: Env) -> None:
    exam = await env.exam()
    formal = await env.formal(exam, "一", "二")
    practice = await env.practice(exam, "练一", "练二", "练三")
    async with env.tx() as db:
        timed, pool = await questions_of(db, formal), await questions_of(db, practice)
    def attempt(question: Question | None) -> Sitting:
        return Sitting(question_id=question.id if question else None)

    # A timed session: every sitting sees all of its questions.
    assert questions.drawn(formal, timed, [attempt(None)]) == timed
    assert questions.drawn(formal, timed, []) == timed
    # Practice: the questions drawn for these attempts, in the session's order; none without a draw.
    assert questions.drawn(practice, pool, [attempt(pool[1])]) == [pool[1]]
    assert questions.drawn(practice, pool, [attempt(pool[2]), attempt(pool[0])]) == [pool[0], pool[2]]
    assert questions.drawn(practice, pool, [attempt(None)]) == []
    assert practice.kind is SessionKind.practice


@pytest.mark.parametrize("facts", [{}, {"ready_at": READY_AT}], ids=["never ready", "ready"])
async def test_a_sitting_terminated_before_the_start_never_sees_the_questions(scene: Scene, facts: dict[str, datetime]) -> None:
    await scene.env.set_facts(scene.sitting_id, terminated_at=READY_AT + S, **facts)
    view = await scene.view(STARTS)
    assert questions.refusal(view, STARTS) is not None
