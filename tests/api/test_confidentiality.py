"""Question confidentiality: no candidate or device credential reads a question (text or image) before its sitting's
answer start in server time, through any GET endpoint or the phone apps; an absent candidate never does; a practice
attempt shows one pool question from its own answer start; reviewers read a sitting's questions only on its review sheet, once its answer window has ended."""

from __future__ import annotations

import itertools
import re
import uuid
from datetime import timedelta
from typing import Any

import pytest

from app.db import transaction
from app.main import CLIENTS_DIR
from app.services.sitting import sittings
from app.services.sitting.lifecycle import SittingState
from app.services.sitting.facts import mark_ready
from tests.conftest import T0
from tests.support.api import Api
from tests.support.ws import next_message, phone, ws_client

pytestmark = pytest.mark.anyio

OPENS = T0 + timedelta(hours=1)
STARTS = OPENS + timedelta(minutes=10)
ENDS = STARTS + timedelta(minutes=30)
DEADLINE = ENDS + timedelta(hours=3)
SECOND = timedelta(seconds=1)

SECRET = "机密试题：请谈谈你对基层治理中数字化转型的看法 #7f3a"
IMAGE = b"\x89PNG\r\n\x1a\n" + b"secret-image-bytes-4c1d" * 8
POOL = ["练习题甲：介绍你自己 #p1", "练习题乙：你为什么报考 #p2", "练习题丙：谈谈团队合作 #p3"]
STATIC = [f"/{d.name.removesuffix('_cam')}/{f.name}" for d in sorted(CLIENTS_DIR.iterdir()) if d.is_dir() for f in sorted(d.iterdir())]
STATIC += ["/main/", "/aux/"]


async def make_ready(api: Api, token: str, sitting_id: str) -> None:
    """What the face gate + presence do once the candidate is fit to enter (the readiness hook)."""
    me = await api.ok("GET", "/api/v1/candidate/me", token)
    async with transaction(api.app.state.sessionmaker) as db:
        view = await sittings.load(db, sitting_id=uuid.UUID(sitting_id), candidate_id=uuid.UUID(me["id"]), now=api.clock.now())
        assert mark_ready(db, view=view, now=api.clock.now()) is SittingState.ready


async def _formal(api: Api) -> dict[str, Any]:
    """A formal session with a secret question (and image), a practice pool, a present and an absent candidate
    each with a main and an aux phone, and a reviewer."""
    ops = await api.staff()
    exam = await api.exam(ops)
    session = await api.timed_session(ops, exam["id"], OPENS, STARTS, ENDS, DEADLINE)
    question = await api.question(ops, session["id"], SECRET)
    await api.ok("PUT", f"/api/v1/ops/sessions/{session['id']}/questions/{question['id']}/image", ops, files={"image": ("q.png", IMAGE, "image/png")})
    practice = await api.session(ops, exam["id"], "practice", waiting_seconds=60, answer_seconds=600, upload_seconds=600)
    for text in POOL:
        await api.question(ops, practice["id"], text)
    world: dict[str, Any] = {"ops": ops, "reviewer": await api.reviewer(ops, exam["id"]), "session": session, "question": question,
                             "practice": practice["id"]}  # fmt: skip
    ids: dict[str, set[str]] = {"exam_id": {exam["id"]}, "session_id": {session["id"], practice["id"]}, "question_id": {question["id"]}}
    for seq, who in ((1, "present"), (2, "absent")):
        row, token = await api.candidate(ops, exam["id"], seq=seq, name=who)
        await api.confirm(token)
        sitting = await api.sitting_of(token, session["id"])
        world[who] = {"candidate": token, "sitting": sitting["id"], "main": await api.device(token, sitting["id"], "main"),
                      "aux": await api.device(token, sitting["id"], "aux")}  # fmt: skip
        ids.setdefault("candidate_id", set()).add(row["candidate_id"])
        ids.setdefault("sitting_id", set()).add(sitting["id"])
    notice = await api.ok("POST", f"/api/v1/ops/exams/{exam['id']}/notices", ops, status=201, json={"title": "须知", "body": "准时参加"})
    ids["notice_id"] = {notice["id"]}
    world["ids"] = ids
    return world


async def leaks(api: Api, tokens: dict[str, tuple[str, str]], ids: dict[str, set[str]], secrets: list[bytes]) -> list[str]:
    """Every GET operation of the schema as each of `tokens` (label → (role, token)), and every static file of the
    phone apps: the calls whose body holds any of `secrets`. Operations a role may call get, in each path parameter,
    every id of its kind we hold plus an unknown one; the others refuse before reading any (the role matrix proves
    it), so one call each suffices there."""
    found = []
    for path, operations in api.app.openapi()["paths"].items():
        if "get" not in operations:
            continue
        names = re.findall(r"\{(\w+)\}", path)
        choices = [sorted(ids.get(name, ())) + [str(uuid.uuid4())] for name in names]
        urls = [path.format(**dict(zip(names, values, strict=True))) for values in itertools.product(*choices)]
        allowed = set(operations["get"]["x-roles"])
        for who, (role, token) in tokens.items():
            for url in urls if allowed & {role, "anonymous"} else urls[:1]:
                response = await api.request("GET", url, token)
                found += [f"{who}: GET {url} → {response.status_code}" for s in secrets if s in response.content]
    who, (_, token) = next(iter(tokens.items()))  # files on disk: the same for every credential
    for url in STATIC:
        response = await api.request("GET", url, token)
        found += [f"{who}: GET {url} → {response.status_code}" for s in secrets if s in response.content]
    return found


def _tokens(world: dict[str, Any], *who: str) -> dict[str, tuple[str, str]]:
    roles = {"candidate": "candidate", "main": "device_main", "aux": "device_aux"}
    return {f"{w} {kind}": (role, world[w][kind]) for w in who for kind, role in roles.items()}


SECRETS = [SECRET.encode(), IMAGE[8:]]


async def test_no_get_endpoint_shows_the_question_before_answer_start(api: Api) -> None:
    world = await _formal(api)
    # The detector works: ops read the question where they are allowed to.
    assert SECRET in (await api.request("GET", f"/api/v1/ops/sessions/{world['session']['id']}/questions", world["ops"])).text
    tokens = _tokens(world, "present")
    assert await leaks(api, tokens, world["ids"], SECRETS) == []  # scheduled

    api.clock.set(OPENS + timedelta(minutes=1))
    await make_ready(api, world["present"]["candidate"], world["present"]["sitting"])
    # A practice attempt already answering (its pool question shown) must not open a way to the formal question.
    practice = await _attempt(api, world["present"]["candidate"], world["practice"])
    world["ids"]["sitting_id"].add(practice["id"])
    api.clock.set(STARTS - SECOND)
    assert (await api.ok("GET", f"/api/v1/candidate/sittings/{practice['id']}/questions", world["present"]["candidate"]))["questions"]
    tokens["reviewer"] = ("reviewer", world["reviewer"])
    assert await leaks(api, tokens, world["ids"], SECRETS) == []  # ready, one second before answering
    async with ws_client(api.app) as client:
        for kind in ("main", "aux"):
            async with phone(client, world["present"][kind]) as ws:
                hello = await next_message(ws)
                assert hello["type"] == "hello" and hello["sitting"]["state"] == "ready"
                assert SECRET not in str(hello)

    # From answer start the sweep finds the question exactly where it belongs, and nowhere else.
    api.clock.set(STARTS)
    sitting, question = world["present"]["sitting"], world["question"]["id"]
    assert sorted(await leaks(api, tokens, world["ids"], SECRETS)) == [
        "present aux: GET /api/v1/device/questions → 200",
        f"present aux: GET /api/v1/device/questions/{question}/image → 200",
        f"present candidate: GET /api/v1/candidate/sittings/{sitting}/questions → 200",
        f"present candidate: GET /api/v1/candidate/sittings/{sitting}/questions/{question}/image → 200",
        "present main: GET /api/v1/device/questions → 200",
        f"present main: GET /api/v1/device/questions/{question}/image → 200",
    ]


@pytest.mark.parametrize(("at", "shown"), [(STARTS - SECOND, False), (STARTS, True), (STARTS + SECOND, True), (ENDS, True)])
async def test_a_ready_candidate_sees_the_question_from_answer_start(api: Api, at: Any, shown: bool) -> None:
    world = await _formal(api)
    present, question = world["present"], world["question"]
    api.clock.set(OPENS)
    await make_ready(api, present["candidate"], present["sitting"])
    api.clock.set(at)
    reads = {
        "candidate": await api.request("GET", f"/api/v1/candidate/sittings/{present['sitting']}/questions", present["candidate"]),
        "main": await api.request("GET", "/api/v1/device/questions", present["main"]),
        "aux": await api.request("GET", "/api/v1/device/questions", present["aux"]),
    }
    images = [
        await api.request("GET", f"/api/v1/candidate/sittings/{present['sitting']}/questions/{question['id']}/image", present["candidate"]),
        await api.request("GET", f"/api/v1/device/questions/{question['id']}/image", present["main"]),
        await api.request("GET", f"/api/v1/device/questions/{question['id']}/image", present["aux"]),
    ]
    if shown:
        for response in reads.values():
            assert response.status_code == 200
            assert [(q["text"], q["has_image"]) for q in response.json()["questions"]] == [(SECRET, True)]
        for image in images:
            assert (image.status_code, image.content, image.headers["content-type"]) == (200, IMAGE, "image/png")
            assert image.headers["cache-control"] == "no-store"
    else:
        for response in [*reads.values(), *images]:
            assert (response.status_code, response.json()["error"]["code"]) == (403, "question_not_revealed")
            assert SECRET.encode() not in response.content


async def test_an_absent_candidate_never_sees_the_question(api: Api) -> None:
    world = await _formal(api)
    absent, question = world["absent"], world["question"]
    tokens = {**_tokens(world, "absent"), "reviewer": ("reviewer", world["reviewer"])}
    for at in (STARTS, STARTS + timedelta(minutes=5), ENDS, DEADLINE):
        api.clock.set(at)
        for url, token in [
            (f"/api/v1/candidate/sittings/{absent['sitting']}/questions", absent["candidate"]),
            (f"/api/v1/candidate/sittings/{absent['sitting']}/questions/{question['id']}/image", absent["candidate"]),
            ("/api/v1/device/questions", absent["main"]),
            ("/api/v1/device/questions", absent["aux"]),
            (f"/api/v1/device/questions/{question['id']}/image", absent["main"]),
        ]:
            response = await api.request("GET", url, token)
            assert (response.status_code, response.json()["error"]["code"]) == (409, "sitting_closed")
    api.clock.set(STARTS + timedelta(minutes=5))
    assert await leaks(api, tokens, world["ids"], SECRETS) == []


async def test_reviewers_cannot_read_questions_through_ops_endpoints(api: Api) -> None:
    world = await _formal(api)
    session, question = world["session"]["id"], world["question"]["id"]
    api.clock.set(STARTS)
    for method, url, kwargs in [
        ("GET", f"/api/v1/ops/sessions/{session}/questions", {}),
        ("POST", f"/api/v1/ops/sessions/{session}/questions", {"json": {"text": "x"}}),
        ("PUT", f"/api/v1/ops/sessions/{session}/questions/{question}/image", {"files": {"image": ("q.png", IMAGE, "image/png")}}),
    ]:
        response = await api.request(method, url, world["reviewer"], **kwargs)
        assert (response.status_code, response.json()["error"]["code"]) == (403, "forbidden")
        assert SECRET.encode() not in response.content


async def _attempt(api: Api, token: str, session_id: str) -> dict[str, Any]:
    attempt = await api.ok("POST", f"/api/v1/candidate/practice/{session_id}/attempts", token, status=201)
    await make_ready(api, token, attempt["id"])
    return attempt


async def test_a_practice_attempt_shows_one_pool_question_from_its_own_answer_start(api: Api) -> None:
    ops = await api.staff()
    exam = await api.exam(ops)
    practice = await api.session(ops, exam["id"], "practice", waiting_seconds=60, answer_seconds=600, upload_seconds=600)
    pool_ids = {(await api.question(ops, practice["id"], text))["id"] for text in POOL}
    row, token = await api.candidate(ops, exam["id"])
    first = await _attempt(api, token, practice["id"])
    main = await api.device(token, first["id"], "main")
    ids = {"exam_id": {exam["id"]}, "session_id": {practice["id"]}, "candidate_id": {row["candidate_id"]}, "sitting_id": {first["id"]},
           "question_id": pool_ids, "notice_id": set()}
    pool = [t.encode() for t in POOL]

    api.clock.set(T0 + timedelta(seconds=59))
    assert await leaks(api, {"candidate": ("candidate", token), "main": ("device_main", main)}, ids, pool) == []
    early = await api.request("GET", f"/api/v1/candidate/sittings/{first['id']}/questions", token)
    assert (early.status_code, early.json()["error"]["code"]) == (403, "question_not_revealed")

    api.clock.set(T0 + timedelta(seconds=60))
    shown = await api.ok("GET", f"/api/v1/candidate/sittings/{first['id']}/questions", token)
    assert len(shown["questions"]) == 1 and shown["questions"][0]["text"] in POOL
    assert (await api.ok("GET", "/api/v1/device/questions", main))["questions"] == shown["questions"]

    # Started again while the first is open: the same attempt. Once it ended (its upload window closed at 1,260 s),
    # a second attempt's question waits for that attempt's own answer start, whatever the first one showed.
    api.clock.set(T0 + timedelta(seconds=100))
    assert (await api.ok("POST", f"/api/v1/candidate/practice/{practice['id']}/attempts", token, status=200))["id"] == first["id"]
    api.clock.set(T0 + timedelta(seconds=1260))
    second = await _attempt(api, token, practice["id"])
    api.clock.set(T0 + timedelta(seconds=1319))
    hidden = await api.request("GET", f"/api/v1/candidate/sittings/{second['id']}/questions", token)
    assert (hidden.status_code, hidden.json()["error"]["code"]) == (403, "question_not_revealed")
    assert not any(p in hidden.content for p in pool)
    api.clock.set(T0 + timedelta(seconds=1320))
    again = await api.ok("GET", f"/api/v1/candidate/sittings/{second['id']}/questions", token)
    assert len(again["questions"]) == 1 and again["questions"][0]["text"] in POOL
