"""The conduct review of an answered sitting through the ops API: a claim that others see and that runs out, verdicts
on flags, incidents at a moment of the answer, decisions with four eyes on a violation (a second person confirms, a
disagreement goes to ops), reopening with every version kept, the queue's view of it all, and the audit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from tests.support.api import Api
from tests.support.flags import V1, answering, recorded
from tests.support.media import webm
from tests.support.realtime import QUESTION, STARTS

PICTURE = b"\x89PNG\r\n\x1a\n" + b"question-picture-9e2b" * 8

pytestmark = pytest.mark.anyio

POLICY = {"interruption_limit": 10, "interruption_grace_seconds": 600}
VIDEO = webm(seconds=6.0)


@dataclass
class Reviewed:
    api: Api
    ops: str
    first: str  # a reviewer of the exam
    second: str  # another one
    session_id: str
    sitting_id: str
    flag_id: str

    def url(self, tail: str) -> str:
        return f"{V1}/ops/sittings/{self.sitting_id}/{tail}"

    async def refused(self, method: str, url: str, token: str, status: int, code: str, **kwargs: Any) -> dict[str, Any]:
        response = await self.api.request(method, url, token, **kwargs)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), response.text
        return response.json()["error"]

    async def decide(self, token: str, outcome: str, *codes: str, status: int = 201, **extra: Any) -> dict[str, Any]:
        body = {"outcome": outcome, "reason_codes": list(codes), **extra}
        return await self.api.ok("POST", self.url("decisions"), token, status=status, json=body)

    async def sheet(self, token: str | None = None) -> dict[str, Any]:
        return await self.api.ok("GET", self.url("review"), token or self.ops)

    async def queue(self, token: str | None = None, **params: Any) -> list[dict[str, Any]]:
        body = await self.api.ok("GET", f"{V1}/ops/sessions/{self.session_id}/review-queue", token or self.ops, params=params)
        return body["items"]


@pytest.fixture
async def reviewed(api: Api) -> AsyncIterator[Reviewed]:
    """A formal sitting answered with the main app hidden for 30 s (an event flag), both recordings in."""
    async with answering(api, **POLICY) as a:
        await a.at(STARTS + timedelta(seconds=60))
        await api.ok("POST", f"{V1}/device/events", a.s.seat.main, status=204, json={"kind": "app_hidden", "details": {}})
        await a.at(STARTS + timedelta(seconds=90))
        await api.ok("POST", f"{V1}/device/events", a.s.seat.main, status=204, json={"kind": "app_visible", "details": {}})
        await recorded(a, VIDEO, VIDEO)
        flags = await a.flags()
        (hidden,) = [f for f in flags["flags"] if f["kind"] == "app_hidden"]
        exam_id = a.s.exam["id"]
        yield Reviewed(
            api, a.s.ops, await api.reviewer(a.s.ops, exam_id, username="wang.review"), await api.reviewer(a.s.ops, exam_id, username="zhao.review"),
            a.s.session["id"], a.sitting_id, hidden["id"],
        )  # fmt: skip


async def test_a_claim_shows_who_reviews_and_runs_out_after_30_minutes(reviewed: Reviewed) -> None:
    r = reviewed
    claim = await r.api.ok("POST", r.url("claim"), r.first)
    assert claim["staff"]["username"] == "wang.review"
    assert claim["expires_at"] == "2026-06-01T09:50:05+08:00"  # 30 min after 09:20:05, in the exam's offset
    error = await r.refused("POST", r.url("claim"), r.second, 409, "sitting_claimed")
    assert error["details"]["claimed_by"] == "wang.review"
    # Others are held off everything that writes the review while it is taken, and see who holds it.
    await r.refused("PUT", f"{V1}/ops/flags/{r.flag_id}/verdict", r.second, 409, "sitting_claimed", json={"verdict": "dismissed"})
    await r.refused("DELETE", r.url("claim"), r.second, 409, "claim_not_held")
    (row,) = await r.queue(r.second)
    assert (row["claimed_by"], row["claim_expires_at"]) == ("wang.review", "2026-06-01T09:50:05+08:00")
    assert await r.queue(r.second, mine="true") == [] and len(await r.queue(r.first, mine="true")) == 1

    r.api.clock.advance(minutes=20)
    renewed = await r.api.ok("POST", r.url("claim"), r.first)  # renewing keeps when it was taken
    assert (renewed["claimed_at"], renewed["expires_at"]) == (claim["claimed_at"], "2026-06-01T10:10:05+08:00")
    r.api.clock.advance(minutes=31)
    taken = await r.api.ok("POST", r.url("claim"), r.second)  # the first one's ran out
    assert taken["staff"]["username"] == "zhao.review"
    await r.api.ok("DELETE", r.url("claim"), r.ops, status=204)  # ops may free anyone's
    assert (await r.sheet())["claim"] is None
    await r.api.ok("DELETE", r.url("claim"), r.first, status=204)  # nobody holds it: nothing to do


async def test_a_violation_takes_effect_only_when_a_second_person_confirms_it(reviewed: Reviewed) -> None:
    r = reviewed
    await r.api.ok("POST", r.url("claim"), r.first)
    verdict = await r.api.ok("PUT", f"{V1}/ops/flags/{r.flag_id}/verdict", r.first, json={"verdict": "confirmed", "note": "切出应用"})
    assert (verdict["verdict"], verdict["staff"]["username"]) == ("confirmed", "wang.review")
    incident = await r.api.ok("POST", r.url("incidents"), r.first, status=201, json={"offset_s": 125.5, "role": "aux", "reason_code": "other_person", "note": "身后有人"})
    assert incident["occurred_at"] == "2026-06-01T09:12:05.500000+08:00"
    decision = await r.decide(r.first, "violation", "other_person", note="他人在场")
    assert (decision["status"], decision["version"], decision["current"]) == ("awaiting_second", 1, True)
    (row,) = await r.queue()
    assert (row["decision"], row["decision_status"], row["settled"], row["claimed_by"]) == ("violation", "awaiting_second", False, None)  # deciding ends the claim
    assert await r.queue(reviewed="true") == []

    await r.refused("POST", f"{V1}/ops/decisions/{decision['id']}/second", r.first, 403, "second_same_person", json={"agrees": True})
    await r.refused("POST", r.url("decisions"), r.second, 409, "review_awaiting_second", json={"outcome": "clean"})
    seconded = await r.api.ok("POST", f"{V1}/ops/decisions/{decision['id']}/second", r.second, json={"agrees": True, "note": "同意"})
    assert (seconded["status"], seconded["second_by"]["username"], seconded["second_agrees"]) == ("final", "zhao.review", True)
    await r.refused("POST", f"{V1}/ops/decisions/{decision['id']}/second", r.ops, 409, "decision_not_awaiting_second", json={"agrees": True})
    await r.refused("POST", r.url("decisions"), r.second, 409, "review_already_decided", json={"outcome": "clean"})

    sheet = await r.sheet(r.second)
    assert sheet["settled"] is True and sheet["questions"] == [QUESTION] and sheet["candidate"]["name"] == "考生1"
    assert [(v["flag_id"], v["verdict"], v["note"]) for v in sheet["verdicts"]] == [(r.flag_id, "confirmed", "切出应用")]
    assert [(i["reason_code"], i["role"], i["offset_s"]) for i in sheet["incidents"]] == [("other_person", "aux", 125.5)]
    assert [(d["outcome"], d["status"], d["reason_codes"]) for d in sheet["decisions"]] == [("violation", "final", ["other_person"])]
    assert [row["sitting_id"] for row in await r.queue(reviewed="true")] == [r.sitting_id]


async def test_a_disagreement_goes_to_ops_and_a_reopen_keeps_every_version(reviewed: Reviewed) -> None:
    r = reviewed
    first = await r.decide(r.first, "violation", "other_device", "other_device")
    assert first["reason_codes"] == ["other_device"]
    disputed = await r.api.ok("POST", f"{V1}/ops/decisions/{first['id']}/second", r.second, json={"agrees": False, "note": "是台灯"})
    assert disputed["status"] == "disputed"
    await r.refused("POST", r.url("decisions"), r.first, 409, "review_disputed", json={"outcome": "violation", "reason_codes": ["other_device"]})
    settled = await r.decide(r.ops, "clean", note="复核后无违规")  # two looked and disagreed: ops' word is final
    assert (settled["version"], settled["status"]) == (2, "final")

    await r.refused("POST", r.url("reopen"), r.first, 403, "forbidden", json={"note": "考生申诉"})
    reopened = await r.api.ok("POST", r.url("reopen"), r.ops, json={"note": "考生申诉"})
    assert (reopened["version"], reopened["current"], reopened["reopen_note"]) == (2, False, "考生申诉")
    assert (await r.sheet())["settled"] is False
    await r.refused("POST", r.url("reopen"), r.ops, 409, "nothing_to_reopen", json={"note": "再次"})
    third = await r.decide(r.first, "technical", note="网络故障")
    assert (third["version"], third["status"]) == (3, "final")
    versions = (await r.sheet())["decisions"]
    assert [(d["version"], d["outcome"], d["status"], d["current"]) for d in versions] == [
        (3, "technical", "final", True),
        (2, "clean", "final", False),
        (1, "violation", "disputed", False),
    ]


async def test_a_suspicious_decision_asks_for_another_look(reviewed: Reviewed) -> None:
    r = reviewed
    await r.decide(r.first, "suspicious", note="画面模糊")
    (row,) = await r.queue(reviewed="false")
    assert (row["decision"], row["settled"]) == ("suspicious", False)
    later = await r.decide(r.first, "clean")
    assert later["version"] == 2 and [d["current"] for d in (await r.sheet())["decisions"]] == [True, False]


async def test_bad_review_input_is_refused_and_changes_nothing(reviewed: Reviewed) -> None:
    r = reviewed
    before = await r.api.ok("GET", r.url("audit"), r.ops)
    await r.refused("POST", r.url("decisions"), r.first, 422, "violation_reason_required", json={"outcome": "violation"})
    error = await r.refused("POST", r.url("decisions"), r.first, 422, "reason_code_unknown", json={"outcome": "violation", "reason_codes": ["cheating"]})
    assert "other_person" in error["details"]["known"]
    await r.refused("POST", r.url("decisions"), r.first, 422, "validation_error", json={"outcome": "guilty"})
    await r.refused("POST", r.url("decisions"), r.first, 422, "validation_error", json={"outcome": "clean", "extra": 1})
    await r.refused("POST", r.url("incidents"), r.first, 422, "incident_outside_window", json={"offset_s": 601, "reason_code": "other"})
    await r.refused("POST", r.url("incidents"), r.first, 422, "incident_outside_window", json={"offset_s": -1, "reason_code": "other"})
    await r.refused("POST", r.url("incidents"), r.first, 422, "reason_code_unknown", json={"offset_s": 1, "reason_code": "nope"})
    await r.refused("PUT", f"{V1}/ops/flags/{r.flag_id}/verdict", r.first, 422, "validation_error", json={"verdict": "maybe"})
    await r.refused("PUT", f"{V1}/ops/flags/00000000-0000-0000-0000-000000000000/verdict", r.first, 404, "flag_not_found", json={"verdict": "dismissed"})
    await r.refused("POST", f"{V1}/ops/decisions/00000000-0000-0000-0000-000000000000/second", r.first, 404, "decision_not_found", json={"agrees": True})
    await r.refused("POST", r.url("reopen"), r.ops, 422, "validation_error", json={"note": "  "})
    sheet = await r.sheet()
    assert (sheet["verdicts"], sheet["incidents"], sheet["decisions"], sheet["claim"]) == ([], [], [], None)
    assert await r.api.ok("GET", r.url("audit"), r.ops) == before


async def test_no_review_before_the_answer_starts_and_no_question_before_it_ends(api: Api) -> None:
    ops = await api.staff()
    exam = await api.exam(ops)
    opens = api.clock.now() + timedelta(hours=1)
    session = await api.timed_session(ops, exam["id"], opens, opens + timedelta(minutes=10), opens + timedelta(minutes=20), opens + timedelta(hours=2))
    _, token = await api.candidate(ops, exam["id"])
    await api.confirm(token)
    sitting = await api.sitting_of(token, session["id"])
    question = await api.question(ops, session["id"], "保密题")
    await api.question(ops, session["id"], "第二题，无图")
    await api.ok("PUT", f"{V1}/ops/sessions/{session['id']}/questions/{question['id']}/image", ops, files={"image": ("q.png", PICTURE, "image/png")})
    response = await api.request("POST", f"{V1}/ops/sittings/{sitting['id']}/decisions", ops, json={"outcome": "clean"})
    assert (response.status_code, response.json()["error"]["code"]) == (409, "review_not_open")
    url = f"{V1}/ops/sittings/{sitting['id']}/review"
    image = f"{V1}/ops/sittings/{sitting['id']}/questions/{question['id']}/image"
    api.clock.set(opens + timedelta(minutes=19, seconds=59))  # answering: the question and its image stay off the sheet
    sheet = await api.ok("GET", url, ops)
    assert (sheet["questions"], sheet["question_images"]) == ([], [])
    hidden = await api.request("GET", image, ops)
    assert (hidden.status_code, hidden.json()["error"]["code"]) == (404, "question_not_found") and PICTURE not in hidden.content
    api.clock.set(opens + timedelta(minutes=20))
    sheet = await api.ok("GET", url, ops)
    assert (sheet["questions"], sheet["question_images"]) == (["保密题", "第二题，无图"], [image, None])
    shown = await api.request("GET", image, ops)
    assert (shown.status_code, shown.content, shown.headers["content-type"], shown.headers["cache-control"]) == (200, PICTURE, "image/png", "no-store")
    # Another exam's staff: the sitting is out of their scope.
    other = await api.reviewer(ops, (await api.exam(ops))["id"])
    refused = await api.request("GET", image, other)
    assert (refused.status_code, refused.json()["error"]["code"]) == (404, "sitting_not_found")


async def test_every_review_action_and_recording_view_is_audited_per_sitting_and_per_staff(reviewed: Reviewed) -> None:
    r = reviewed
    await r.api.ok("GET", r.url("recordings"), r.first)  # a recording link handed out: a view
    await r.api.ok("POST", r.url("claim"), r.first)
    await r.api.ok("PUT", f"{V1}/ops/flags/{r.flag_id}/verdict", r.first, json={"verdict": "dismissed"})
    await r.api.ok("POST", r.url("incidents"), r.first, status=201, json={"offset_s": 30, "reason_code": "camera_placement"})
    decision = await r.decide(r.first, "violation", "camera_placement")
    await r.api.ok("POST", f"{V1}/ops/decisions/{decision['id']}/second", r.second, json={"agrees": True})
    await r.api.ok("POST", r.url("reopen"), r.ops, json={"note": "申诉"})
    entries = await r.api.ok("GET", r.url("audit"), r.ops)
    actions = [e["action"] for e in reversed(entries)]
    assert [a for a in actions if a.startswith("review.") or a == "recording.link"] == [
        "recording.link", "recording.link", "review.claim", "review.verdict", "review.incident", "review.decide", "review.second", "review.reopen",
    ]  # fmt: skip
    assert all(e["at"].endswith("+08:00") for e in entries)
    await r.refused("GET", r.url("audit"), r.first, 403, "forbidden")

    staff = {s["username"]: s["id"] for s in await r.api.ok("GET", f"{V1}/ops/staff", r.ops)}
    mine = await r.api.ok("GET", f"{V1}/ops/audit", r.ops, params={"actor_id": staff["zhao.review"]})
    assert [e["action"] for e in mine if e["action"].startswith("review.")] == ["review.second"]


async def test_a_sitting_with_one_recording_missing_can_still_be_reviewed(api: Api) -> None:
    async with answering(api, **POLICY) as a:
        await recorded(a, VIDEO)
        decision = await api.ok("POST", f"{V1}/ops/sittings/{a.sitting_id}/decisions", a.s.ops, status=201, json={"outcome": "technical"})
        assert decision["status"] == "final"
