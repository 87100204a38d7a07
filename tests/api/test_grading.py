"""Blind grading through the API: ops set a rubric and graders, assignment balances sittings over them, graders see an
anonymous code and nothing that names the candidate, drafts save and a submission locks, a spread past the tolerance
brings one extra grader, and the scores make the results."""

from __future__ import annotations

import io
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from PIL import Image

from app.services.sitting.facts import mark_ready, mark_uploaded
from tests.support.api import PASSWORD, Api, id_number, phone
from tests.support.flags import answering, recorded
from tests.support.media import webm
from tests.support.processes import set_fact
from tests.support.realtime import DEADLINE, ENDS, OPENS, QUESTION, STARTS

pytestmark = pytest.mark.anyio

V1 = "/api/v1"
VIDEO = webm(seconds=6.0)
RUBRIC = {
    "items": [
        {"key": "content", "label": "内容", "label_en": "Content", "max_points": 6, "step": 0.5,
         "descriptors": [{"from": 5, "to": 6, "text": "切题，见解深入", "text_en": "On point, insightful"}]},
        {"key": "expression", "label": "表达", "label_en": "Expression", "max_points": 4, "step": 1},
    ],
    "graders_per_sitting": 3,
    "tolerance": 0.2,
}  # fmt: skip


@dataclass
class Graded:
    api: Api
    ops: str
    exam_id: str
    session_id: str
    sittings: list[str]  # uploaded, in candidate order
    absent: str
    candidates: list[dict[str, Any]]  # the roster rows (name, id number, phone, candidate id) of every candidate
    unfinished: list[str] = field(default_factory=list)  # answered, nothing uploaded
    graders: dict[str, str] = field(default_factory=dict)  # username -> token
    grader_ids: dict[str, str] = field(default_factory=dict)

    def url(self, tail: str) -> str:
        return f"{V1}/ops/sessions/{self.session_id}/{tail}"

    async def add_graders(self, *names: str) -> None:
        for name in names:
            username = f"grader-{name}"
            body = {"username": username, "display_name": f"评分员{name}", "role": "grader", "password": PASSWORD}
            staff = await self.api.ok("POST", f"{V1}/ops/staff", self.ops, status=201, json=body)
            self.grader_ids[name] = staff["id"]
            await self.api.ok("PUT", self.url(f"graders/{staff['id']}"), self.ops)
            self.graders[name] = (await self.api.ok("POST", f"{V1}/auth/staff/login", json={"username": username, "password": PASSWORD}))["token"]

    async def queue(self, name: str) -> list[dict[str, Any]]:
        return await self.api.ok("GET", f"{V1}/grading/queue", self.graders[name])

    async def submit(self, name: str, code: str, content: float, expression: int, status: int = 200, comment: str | None = None) -> Any:
        (entry,) = [e for e in await self.queue(name) if e["code"] == code]
        body: dict[str, Any] = {"scores": {"content": content, "expression": expression}, "comment": comment}
        return await self.api.ok("POST", f"{V1}/grading/sheets/{entry['sheet_id']}/submit", self.graders[name], status=status, json=body)

    async def codes(self) -> dict[str, str]:
        """sitting id -> anonymous code (ops see both)."""
        return {row["sitting_id"]: row["grading_code"] for row in (await self.results())["rows"]}

    async def results(self) -> dict[str, Any]:
        return await self.api.ok("GET", self.url("results"), self.ops)

    async def refused(self, method: str, url: str, token: str, status: int, code: str, **kwargs: Any) -> dict[str, Any]:
        response = await self.api.request(method, url, token, **kwargs)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), response.text
        return response.json()["error"]


async def graded_world(
    api: Api, *, uploaded: int = 2, unfinished: int = 0, names: tuple[str, ...] = (), settle: bool = True, question_image: bytes | None = None
) -> Graded:
    """A formal session after its answer window: `uploaded` sittings with both recordings in (through the hooks the
    upload services call), `unfinished` ones that answered but sent nothing, one candidate absent, every review
    settled clean (unless not `settle`), and a rubric set; the question has `question_image` (a PNG) if given."""
    ops = await api.staff()
    exam = await api.exam(ops)
    session = await api.timed_session(ops, exam["id"], OPENS, STARTS, ENDS, DEADLINE)
    question = await api.question(ops, session["id"], QUESTION)
    if question_image is not None:
        files = {"image": ("q.png", question_image, "image/png")}
        await api.ok("PUT", f"{V1}/ops/sessions/{session['id']}/questions/{question['id']}/image", ops, files=files)
    count = uploaded + unfinished + 1
    rows = await api.roster(ops, exam["id"], [(names[i] if i < len(names) else f"考生{i + 1}", id_number(i + 1), phone(i + 1)) for i in range(count)])
    sittings = []
    for i, row in enumerate(rows):
        body = await api.ok("POST", f"{V1}/auth/candidate/login", json={"identifier": id_number(i + 1), "secret": row["access_code"]})
        await api.confirm(body["token"])
        sittings.append((await api.sitting_of(body["token"], session["id"]))["id"])
    api.clock.set(STARTS - timedelta(minutes=1))
    for sitting in sittings[: uploaded + unfinished]:
        await set_fact(api.app.state.sessionmaker, sitting, mark_ready, api.clock.now())
    api.clock.set(STARTS + timedelta(minutes=9))
    for sitting in sittings[:uploaded]:
        await set_fact(api.app.state.sessionmaker, sitting, mark_uploaded, api.clock.now())
    api.clock.set(ENDS + timedelta(minutes=5))
    world = Graded(api, ops, exam["id"], session["id"], sittings[:uploaded], sittings[-1], rows, unfinished=sittings[uploaded:-1])
    if settle:
        await settle_reviews(world)
    await api.ok("PUT", world.url("grading"), ops, json=RUBRIC)
    return world


async def settle_reviews(world: Graded) -> None:
    """The sittings the review queue holds (here: the audit sample of low-risk ones) decided clean by ops."""
    queue = await world.api.ok("GET", world.url("review-queue"), world.ops)
    for item in queue["items"]:
        await world.api.ok("POST", f"{V1}/ops/sittings/{item['sitting_id']}/decisions", world.ops, status=201, json={"outcome": "clean"})


def candidate_values(world: Graded) -> list[str]:
    """Everything that would identify a candidate, as text: names, ID numbers (plain and masked), phones, ids."""
    values: list[str] = []
    for i, row in enumerate(world.candidates):
        values += [row["name"], id_number(i + 1), phone(i + 1), row["candidate_id"], row.get("id_number_masked", "")]
    return [v for v in values if v] + world.sittings + [world.absent]


FORBIDDEN_FIELDS = ("name", "id_number", "id_number_masked", "phone", "candidate_id", "sitting_id", "roster", "flags", "decision", "risk")


def assert_blind(world: Graded, answer: Any) -> None:
    text = repr(answer)
    for value in candidate_values(world):
        assert value not in text, f"{value!r} reached a grader: {text[:300]}"

    def keys(value: Any) -> list[str]:
        if isinstance(value, dict):
            return [*value, *(k for v in value.values() for k in keys(v))]
        if isinstance(value, list):
            return [k for v in value for k in keys(v)]
        return []

    assert not set(keys(answer)) & set(FORBIDDEN_FIELDS), sorted(set(keys(answer)) & set(FORBIDDEN_FIELDS))


async def test_graders_score_blind_and_the_mean_of_three_makes_the_score(api: Api) -> None:
    world = await graded_world(api, uploaded=2)
    await world.add_graders("g1", "g2", "g3")
    report = await api.ok("POST", world.url("grading/assign"), world.ops)
    assert (report["sittings"], report["sheets_added"], report["extra_added"], report["short"]) == (2, 6, 0, [])
    again = await api.ok("POST", world.url("grading/assign"), world.ops)
    assert (again["sheets_added"], again["extra_added"]) == (0, 0)  # idempotent

    codes = await world.codes()
    assert all(re.fullmatch(r"A-\d{4}", codes[s]) for s in world.sittings) and codes[world.absent] is None
    assert len({codes[s] for s in world.sittings}) == 2
    for name in ("g1", "g2", "g3"):
        queue = await world.queue(name)
        assert sorted(e["code"] for e in queue) == sorted(codes[s] for s in world.sittings)
        assert {e["status"] for e in queue} == {"todo"}
        assert_blind(world, queue)

    first = world.sittings[0]
    (entry,) = [e for e in await world.queue("g1") if e["code"] == codes[first]]
    sheet = await api.ok("GET", f"{V1}/grading/sheets/{entry['sheet_id']}", world.graders["g1"])
    assert sheet["code"] == codes[first] and [(q["text"], q["image_url"]) for q in sheet["questions"]] == [(QUESTION, None)]
    assert [i["key"] for i in sheet["items"]] == ["content", "expression"] and sheet["maximum"] == 10
    assert sheet["items"][0]["descriptors"][0]["text"] == "切题，见解深入"
    assert_blind(world, sheet)

    # A draft saves any of the items; an incomplete or off-rubric submission is refused and changes nothing.
    url = f"{V1}/grading/sheets/{entry['sheet_id']}"
    draft = await api.ok("PUT", url, world.graders["g1"], json={"scores": {"content": 4.5}, "comment": "中规中矩"})
    assert (draft["status"], draft["scores"], draft["total"]) == ("draft", {"content": 4.5}, 4.5)
    assert_blind(world, draft)
    await world.refused("POST", f"{url}/submit", world.graders["g1"], 422, "scores_incomplete", json={"scores": {"content": 4.5}})
    error = await world.refused("POST", f"{url}/submit", world.graders["g1"], 422, "scores_invalid", json={"scores": {"content": 4.25, "expression": 3}})
    assert error["details"] == {"item": "content", "reason": "not_a_step", "step": 0.5}
    await world.refused("POST", f"{url}/submit", world.graders["g1"], 422, "scores_invalid", json={"scores": {"content": 4, "expression": 5}})
    reread = await api.ok("GET", url, world.graders["g1"])
    assert (reread["status"], reread["scores"], reread["comment"]) == ("draft", {"content": 4.5}, "中规中矩")

    # totals 7, 8, 8.5 → 7.83; 6, 6, 7 → 6.33
    for name, (content, expression) in zip(("g1", "g2", "g3"), ((4, 3), (5, 3), (5.5, 3)), strict=True):
        done = await world.submit(name, codes[first], content, expression)
        assert done["status"] == "submitted" and done["submitted_at"]
    await world.refused("PUT", url, world.graders["g1"], 409, "grade_sheet_submitted", json={"scores": {"content": 1}})
    await world.refused("POST", f"{url}/submit", world.graders["g1"], 409, "grade_sheet_submitted", json={"scores": {"content": 1, "expression": 1}})
    for name, (content, expression) in zip(("g1", "g2", "g3"), ((3, 3), (4, 2), (4, 3)), strict=True):
        await world.submit(name, codes[world.sittings[1]], content, expression)

    rows = {row["sitting_id"]: row for row in (await world.results())["rows"]}
    assert (rows[first]["state"], rows[first]["score"], rows[first]["graders"]) == ("scored", 7.83, {"G01": 7.0, "G02": 8.0, "G03": 8.5})
    assert (rows[world.sittings[1]]["state"], rows[world.sittings[1]]["score"]) == ("scored", 6.33)
    assert (rows[world.absent]["state"], rows[world.absent]["reason"], rows[world.absent]["score"]) == ("disqualified", "absent", None)
    assert [e["status"] for e in await world.queue("g1")] == ["submitted", "submitted"]


async def test_assignment_is_balanced_and_never_gives_a_grader_one_sitting_twice(api: Api) -> None:
    world = await graded_world(api, uploaded=5)
    await world.add_graders("g1", "g2", "g3", "g4")
    await api.ok("PUT", world.url("grading"), world.ops, json={**RUBRIC, "graders_per_sitting": 2})
    report = await api.ok("POST", world.url("grading/assign"), world.ops)
    assert report["sheets_added"] == 10
    loads = {name: len(await world.queue(name)) for name in world.graders}
    assert sorted(loads.values()) == [2, 2, 3, 3]
    for name in world.graders:
        codes = [e["code"] for e in await world.queue(name)]
        assert len(codes) == len(set(codes))

    # Too few graders for the plan: the assignment says which sittings are short.
    await api.ok("PUT", world.url("grading"), world.ops, json={**RUBRIC, "graders_per_sitting": 5})
    short = await api.ok("POST", world.url("grading/assign"), world.ops)
    assert (short["sheets_added"], len(short["short"])) == (10, 5)


async def test_a_spread_past_the_tolerance_brings_one_extra_grader(api: Api) -> None:
    world = await graded_world(api, uploaded=1)
    await world.add_graders("g1", "g2", "g3")
    await api.ok("POST", world.url("grading/assign"), world.ops)
    code = (await world.codes())[world.sittings[0]]
    # 3, 8 and 8 of 10: a spread of 5 past 0.2 × 10, and no fourth grader to ask yet.
    for name, (content, expression) in zip(("g1", "g2", "g3"), ((2, 1), (5, 3), (5, 3)), strict=True):
        await world.submit(name, code, content, expression)
    (row,) = [r for r in (await world.results())["rows"] if r["sitting_id"] == world.sittings[0]]
    assert (row["state"], row["reason"], row["score"]) == ("pending", "needs_extra_grader", None)

    await world.add_graders("g4")
    report = await api.ok("POST", world.url("grading/assign"), world.ops)
    assert (report["sheets_added"], report["extra_added"]) == (0, 1)
    (extra,) = await world.queue("g4")
    assert (extra["code"], extra["status"]) == (code, "todo")
    (row,) = [r for r in (await world.results())["rows"] if r["sitting_id"] == world.sittings[0]]
    assert (row["state"], row["reason"]) == ("pending", "grading")
    await world.submit("g4", code, 4, 3)
    (row,) = [r for r in (await world.results())["rows"] if r["sitting_id"] == world.sittings[0]]
    assert (row["state"], row["score"], row["graders"]) == ("scored", 6.5, {"G01": 3.0, "G02": 8.0, "G03": 8.0, "G04": 7.0})


async def test_an_extra_grader_is_assigned_at_once_when_one_is_free(api: Api) -> None:
    world = await graded_world(api, uploaded=1)
    await world.add_graders("g1", "g2", "g3", "g4")
    await api.ok("POST", world.url("grading/assign"), world.ops)
    code = (await world.codes())[world.sittings[0]]
    regular = [name for name in ("g1", "g2", "g3", "g4") if await world.queue(name)]
    (spare,) = set(world.graders) - set(regular)
    for name, (content, expression) in zip(regular, ((6, 4), (1, 1), (5, 4)), strict=True):
        await world.submit(name, code, content, expression)
    (extra,) = await world.queue(spare)
    assert extra["code"] == code


async def test_five_graders_drop_the_highest_and_the_lowest(api: Api) -> None:
    world = await graded_world(api, uploaded=1)
    await world.add_graders(*(f"g{i}" for i in range(1, 6)))
    await api.ok("PUT", world.url("grading"), world.ops, json={**RUBRIC, "graders_per_sitting": 5, "tolerance": 1})
    await api.ok("POST", world.url("grading/assign"), world.ops)
    code = (await world.codes())[world.sittings[0]]
    for name, (content, expression) in zip(world.graders, ((1, 1), (3, 3), (4, 3), (5, 3), (6, 4)), strict=True):
        await world.submit(name, code, content, expression)
    (row,) = [r for r in (await world.results())["rows"] if r["sitting_id"] == world.sittings[0]]
    assert (row["state"], row["score"]) == ("scored", 7.0)  # 2 and 10 dropped: (6 + 7 + 8) / 3


async def test_ops_set_a_score_by_hand_with_a_reason(api: Api) -> None:
    world = await graded_world(api, uploaded=1)
    sitting = world.sittings[0]
    await world.refused("PUT", f"{V1}/ops/sittings/{sitting}/score", world.ops, 422, "scores_invalid", json={"score": 10.5, "reason": "复议"})
    await world.refused("PUT", f"{V1}/ops/sittings/{sitting}/score", world.ops, 422, "validation_error", json={"score": 8, "reason": " "})
    done = await api.ok("PUT", f"{V1}/ops/sittings/{sitting}/score", world.ops, json={"score": 8.125, "reason": "评分员身体不适，复议"})
    assert done["score"] == 8.13  # two decimals, half up
    (row,) = [r for r in (await world.results())["rows"] if r["sitting_id"] == sitting]
    assert (row["state"], row["score"], row["reason"]) == ("scored", 8.13, "score_set_by_hand")
    (entry,) = await api.ok("GET", f"{V1}/ops/audit", world.ops, params={"action": "grading.score.set"})
    assert entry["details"] == {"score": 8.13, "before": None, "reason": "评分员身体不适，复议"} and entry["target_id"] == sitting


async def test_a_rubric_is_checked_and_locks_once_scores_are_submitted(api: Api) -> None:
    world = await graded_world(api, uploaded=1)
    bad = {"items": [{"key": "content", "label": "内容", "max_points": 5, "step": 2}]}
    error = await world.refused("PUT", world.url("grading"), world.ops, 422, "rubric_invalid", json=bad)
    assert error["details"]["reason"] == "step_must_divide_max_points"
    assert [i["key"] for i in (await api.ok("GET", world.url("grading"), world.ops))["items"]] == ["content", "expression"]
    await world.add_graders("g1", "g2", "g3")
    await api.ok("POST", world.url("grading/assign"), world.ops)
    await world.submit("g1", (await world.codes())[world.sittings[0]], 5, 3)
    await world.refused("PUT", world.url("grading"), world.ops, 409, "rubric_in_use", json={**RUBRIC, "items": RUBRIC["items"][:1]})
    # The same items with other settings still go through.
    changed = await api.ok("PUT", world.url("grading"), world.ops, json={**RUBRIC, "tolerance": 0.3})
    assert changed["tolerance"] == 0.3 and [g["code"] for g in changed["graders"]] == ["G01", "G02", "G03"]


async def test_practice_sessions_are_not_graded_and_graders_get_sessions_not_exams(api: Api) -> None:
    world = await graded_world(api, uploaded=1)
    practice = await api.session(world.ops, world.exam_id, "practice", waiting_seconds=60, answer_seconds=60, upload_seconds=60)
    await world.refused("PUT", f"{V1}/ops/sessions/{practice['id']}/grading", world.ops, 409, "session_not_graded", json=RUBRIC)
    await world.add_graders("g1")
    await world.refused("PUT", f"{V1}/ops/exams/{world.exam_id}/staff/{world.grader_ids['g1']}", world.ops, 409, "graders_get_sessions")
    reviewer = await api.ok("POST", f"{V1}/ops/staff", world.ops, status=201, json={"username": "rev", "display_name": "审核", "role": "reviewer", "password": PASSWORD})
    await world.refused("PUT", world.url(f"graders/{reviewer['id']}"), world.ops, 409, "grader_role_required")


async def test_a_grader_sees_only_their_own_sheets_and_nothing_of_the_review(api: Api) -> None:
    world = await graded_world(api, uploaded=2)
    await world.add_graders("g1", "g2", "g3", "g4")
    await api.ok("PUT", world.url("grading"), world.ops, json={**RUBRIC, "graders_per_sitting": 2})
    await api.ok("POST", world.url("grading/assign"), world.ops)
    mine = {e["sheet_id"] for e in await world.queue("g1")}
    others = {e["sheet_id"] for name in ("g2", "g3", "g4") for e in await world.queue(name)} - mine
    for sheet_id in others:
        await world.refused("GET", f"{V1}/grading/sheets/{sheet_id}", world.graders["g1"], 404, "grade_sheet_not_found")
        await world.refused("PUT", f"{V1}/grading/sheets/{sheet_id}", world.graders["g1"], 404, "grade_sheet_not_found", json={"scores": {}})
    sitting = world.sittings[0]
    for url in (f"{V1}/ops/sittings/{sitting}/flags", f"{V1}/ops/sittings/{sitting}/review", f"{V1}/ops/sittings/{sitting}/recordings",
                f"{V1}/ops/exams/{world.exam_id}/candidates", world.url("review-queue"), world.url("sittings"), world.url("results")):  # fmt: skip
        await world.refused("GET", url, world.graders["g1"], 403, "forbidden")


async def test_a_grader_taken_off_the_session_loses_their_open_sheets_to_others(api: Api) -> None:
    world = await graded_world(api, uploaded=2)
    await world.add_graders("g1", "g2", "g3", "g4")
    await api.ok("PUT", world.url("grading"), world.ops, json={**RUBRIC, "graders_per_sitting": 2})
    await api.ok("POST", world.url("grading/assign"), world.ops)
    (leaving,) = [name for name in ("g1", "g2", "g3", "g4") if await world.queue(name)][:1]
    held = await world.queue(leaving)
    await api.ok("DELETE", world.url(f"graders/{world.grader_ids[leaving]}"), world.ops, status=204)
    assert await world.queue(leaving) == []
    await world.refused("GET", f"{V1}/grading/sheets/{held[0]['sheet_id']}", world.graders[leaving], 404, "grade_sheet_not_found")
    report = await api.ok("POST", world.url("grading/assign"), world.ops)
    assert report["sheets_added"] == len(held)
    per_code: Counter[str] = Counter()
    for name in world.graders:
        if name != leaving:
            per_code.update(e["code"] for e in await world.queue(name))
    assert set(per_code.values()) == {2}
    # Given the session again, the grader keeps the code exports know them by.
    again = await api.ok("PUT", world.url(f"graders/{world.grader_ids[leaving]}"), world.ops)
    assert again["code"] == f"G{list(world.graders).index(leaving) + 1:02d}"


async def test_a_grader_watches_both_recordings_through_links_that_name_no_one(api: Api) -> None:
    async with answering(api) as a:
        await recorded(a, VIDEO, VIDEO)
        ops = a.s.ops
        session_id = a.s.session["id"]
        await api.ok("PUT", f"{V1}/ops/sessions/{session_id}/grading", ops, json={**RUBRIC, "graders_per_sitting": 1})
        world = Graded(api, ops, a.s.exam["id"], session_id, [a.sitting_id], "", [])
        await world.add_graders("g1")
        await settle_reviews(world)
        await api.ok("POST", world.url("grading/assign"), ops)
        (entry,) = await world.queue("g1")
        sheet = await api.ok("GET", f"{V1}/grading/sheets/{entry['sheet_id']}", world.graders["g1"])
        assert sorted(v["role"] for v in sheet["videos"]) == ["aux", "main"]
        for video in sheet["videos"]:
            assert video["duration_s"] == pytest.approx(6.0, abs=0.5) and video["offset_s"] == pytest.approx(0, abs=1)
            played = await api.request("GET", video["url"])
            assert played.status_code == 200 and played.headers["content-type"] == "video/webm" and played.content[:4] == b"\x1aE\xdf\xa3"
            assert a.sitting_id not in played.headers["content-disposition"]
        assert a.sitting_id not in repr(sheet) and "考生1" not in repr(sheet)
        (opened,) = await api.ok("GET", f"{V1}/ops/audit", ops, params={"action": "grading.sheet.open"})
        assert opened["target_id"] == entry["sheet_id"]

        # Ops' report of the same sitting: the evidence and where it stands, its reading audited.
        report = await api.ok("GET", f"{V1}/ops/sittings/{a.sitting_id}/report", ops)
        assert [r["role"] for r in report["recordings"]] == ["main", "aux"]
        assert all(re.fullmatch(r"[0-9a-f]{64}", r["sha256"]) and r["duration_s"] == pytest.approx(6.0, abs=0.5) for r in report["recordings"])
        assert (report["name"], report["sitting_state"], report["result"]["state"], report["result"]["reason"]) == ("考生1", "uploaded", "pending", "grading")
        assert report["answer_starts_at"].endswith("+08:00")
        assert await api.ok("GET", f"{V1}/ops/audit", ops, params={"action": "results.report.view"})


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (31, 111, 235)).save(out, format="PNG")
    return out.getvalue()


async def test_a_grader_sees_the_question_image_of_their_own_sheets_only(api: Api) -> None:
    picture = png()
    world = await graded_world(api, uploaded=1, question_image=picture)
    await world.add_graders("g1", "g2", "g3")
    await api.ok("POST", world.url("grading/assign"), world.ops)
    (mine,) = await world.queue("g1")
    sheet = await api.ok("GET", f"{V1}/grading/sheets/{mine['sheet_id']}", world.graders["g1"])
    (question,) = sheet["questions"]
    assert question["image_url"] == f"{V1}/grading/sheets/{mine['sheet_id']}/questions/{question_url_id(question)}/image"
    image = await api.request("GET", question["image_url"], world.graders["g1"])
    assert (image.status_code, image.content, image.headers["content-type"], image.headers["cache-control"]) == (200, picture, "image/png", "no-store")
    assert_blind(world, sheet)

    # Through another grader's sheet (each grader has a sheet of their own) it is not found, nor is a question the
    # sheet does not have.
    await world.refused("GET", question["image_url"], world.graders["g2"], 404, "grade_sheet_not_found")
    unknown = f"{V1}/grading/sheets/{mine['sheet_id']}/questions/{uuid.uuid4()}/image"
    await world.refused("GET", unknown, world.graders["g1"], 404, "question_not_found")


def question_url_id(question: dict[str, Any]) -> str:
    """The question's id, as its image link carries it (the sheet names questions by position and text only)."""
    match = re.search(r"/questions/([0-9a-f-]{36})/image$", question["image_url"])
    assert match, question
    return match.group(1)
