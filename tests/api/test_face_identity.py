"""Identity verification (实名认证) through the API with the real sface models: ID photo → selfie → verified;
impostors fail; quality problems coach without counting; N counted failures → manual review → a reviewer decides."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from app.config import Settings
from app.models import FaceCheck, FaceEnrolment
from tests.support.api import Api
from tests.support.face import (
    blank,
    candidate_with_photo,
    dark,
    face_models_fixture,  # noqa: F401  (the face_models fixture)
    face_settings,  # noqa: F401  (the settings fixture, with the models)
    object_keys,
    photo,
    selfie,
    tiny,
    turned,
    upload,
)

pytestmark = pytest.mark.anyio

IMPOSTORS = ["impostor_1", "impostor_2", "person_b_1", "person_b_2", "impostor_1"]


async def _checks(api: Api, candidate_id: str) -> list[FaceCheck]:
    async with api.app.state.sessionmaker() as db:
        query = select(FaceCheck).where(FaceCheck.candidate_id == uuid.UUID(candidate_id)).order_by(FaceCheck.at)
        return list((await db.scalars(query)).all())


async def test_same_person_is_verified_from_the_imported_id_photo(api: Api, settings: Settings) -> None:
    ops = await api.staff()
    exam = await api.exam(ops)
    row, token = await candidate_with_photo(api, ops, exam["id"], id_photo="person_a_1")

    before = await api.ok("GET", "/api/v1/candidate/identity", token)
    assert before == {"identity_verified_at": None, "has_id_photo": True, "id_photo_source": None, "failures": 0, "max_failures": 5, "review": None}

    response = await selfie(api, token, photo("person_a_2"))
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["passed"] and result["counted"] and result["match"] and result["findings"] == []
    assert result["similarity"] > result["threshold"] == 0.363 and result["pack"] == "sface" and result["faces"] == 1
    assert result["identity_verified_at"] == result["at"]

    me = await api.ok("GET", "/api/v1/candidate/me", token)
    assert me["identity_verified_at"] == result["at"]
    status = await api.ok("GET", "/api/v1/candidate/identity", token)
    assert status["id_photo_source"] == "id_photo" and status["failures"] == 0

    again = await selfie(api, token, photo("person_a_2"))
    assert again.status_code == 409 and again.json()["error"]["code"] == "identity_already_verified"

    # The attempt is recorded with its capture in the object store; the enrolment keeps the embedding.
    (check,) = await _checks(api, row["candidate_id"])
    assert check.image_key is not None and check.image_key in object_keys(settings, "faces")
    async with api.app.state.sessionmaker() as db:
        enrolment = await db.scalar(select(FaceEnrolment).where(FaceEnrolment.candidate_id == uuid.UUID(row["candidate_id"])))
    assert enrolment is not None and enrolment.pack == "sface" and enrolment.dimension == 128 and len(enrolment.embedding) == 128 * 4
    audit = await api.ok("GET", "/api/v1/ops/audit", ops, params={"action": "face.identity.verified"})
    assert [a["target_id"] for a in audit] == [row["candidate_id"]]


async def test_quality_problems_coach_and_do_not_count(api: Api) -> None:
    ops = await api.staff()
    exam = await api.exam(ops)
    _, token = await candidate_with_photo(api, ops, exam["id"], id_photo="person_a_1")

    for data, code in ((dark("person_a_2"), "too_dark"), (tiny("person_a_2"), "face_too_small"), (blank(), "no_face")):
        response = await selfie(api, token, data)
        assert response.status_code == 200, response.text
        result = response.json()
        assert (result["passed"], result["counted"]) == (False, False)
        (finding,) = result["findings"]
        assert finding["code"] == code and finding["message"] and finding["message_en"] and finding["message"] != finding["message_en"]
        assert result["failures"] == 0 and result["review_pending"] is False

    assert (await selfie(api, token, photo("person_a_2"))).json()["passed"] is True


async def test_a_selfie_from_a_phone_held_on_its_side_asks_for_it_upright_without_counting(api: Api) -> None:
    """The face is found turned back and matches, yet the selfie does not pass: a phone held turned would film the
    exam turned too, so the candidate is asked to hold it upright, and the attempt costs nothing."""
    ops = await api.staff()
    exam = await api.exam(ops)
    _, token = await candidate_with_photo(api, ops, exam["id"], id_photo="person_a_1")

    for degrees in (90, 270):
        result = (await selfie(api, token, turned("person_a_2", degrees))).json()
        assert (result["passed"], result["counted"], result["match"], result["faces"]) == (False, False, True, 1), result
        assert result["similarity"] >= result["threshold"]
        (finding,) = result["findings"]
        assert (finding["code"], finding["value"]) == ("not_upright", degrees)
        assert "请将手机竖直摆放" in finding["message"] and "hold the phone upright" in finding["message_en"]
        assert result["failures"] == 0 and result["identity_verified_at"] is None

    upright = (await selfie(api, token, photo("person_a_2"))).json()
    assert upright["passed"] is True and upright["findings"] == []


async def test_five_counted_failures_go_to_manual_review_and_a_reviewer_approves(api: Api) -> None:
    ops = await api.staff()
    exam = await api.exam(ops)
    reviewer = await api.reviewer(ops, exam["id"])
    row, token = await candidate_with_photo(api, ops, exam["id"], id_photo="person_a_1")

    for n, impostor in enumerate(IMPOSTORS, start=1):
        result = (await selfie(api, token, photo(impostor))).json()
        assert (result["passed"], result["counted"], result["match"]) == (False, True, False), result
        assert result["similarity"] < result["threshold"]
        assert result["failures"] == n and result["review_pending"] is (n == 5)

    pending = await selfie(api, token, photo("person_a_2"))
    assert pending.status_code == 409 and pending.json()["error"]["code"] == "face_review_pending"
    status = await api.ok("GET", "/api/v1/candidate/identity", token)
    assert status["review"]["status"] == "open" and status["identity_verified_at"] is None

    (review,) = await api.ok("GET", "/api/v1/ops/face-reviews", reviewer)
    assert review["candidate_id"] == row["candidate_id"] and review["failures"] == 5 and review["reason"] == "identity_failures"
    assert review["id_number_masked"].startswith("3701") and review["decision"] is None
    detail = await api.ok("GET", f"/api/v1/ops/face-reviews/{review['id']}", reviewer)
    assert len(detail["attempts"]) == 5 and all(a["purpose"] == "identity" for a in detail["attempts"])
    capture = await api.request("GET", detail["attempts"][0]["image_url"], reviewer)
    assert capture.status_code == 200 and capture.headers["content-type"] == "image/jpeg"
    assert capture.content == photo(IMPOSTORS[0])
    id_photo = await api.request("GET", detail["id_photo_url"], reviewer)
    assert id_photo.status_code == 200 and id_photo.content == photo("person_a_1")

    decided = await api.ok(
        "POST", f"/api/v1/ops/face-reviews/{review['id']}/decision", reviewer, json={"decision": "approve", "note": "与证件照一致（发型变化）"}
    )
    assert decided["decision"] == "approve" and decided["resolved_at"] is not None and decided["resolved_by"] is not None
    twice = await api.request("POST", f"/api/v1/ops/face-reviews/{review['id']}/decision", ops, json={"decision": "reject"})
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "face_review_resolved"

    me = await api.ok("GET", "/api/v1/candidate/me", token)
    assert me["identity_verified_at"] == decided["resolved_at"]
    assert await api.ok("GET", "/api/v1/ops/face-reviews", ops) == []
    assert [r["id"] for r in await api.ok("GET", "/api/v1/ops/face-reviews", ops, params={"status": "resolved"})] == [review["id"]]
    actions = {a["action"] for a in await api.ok("GET", "/api/v1/ops/audit", ops)}
    assert {"face.review.open", "face.review.decide", "face.image.view"} <= actions

    # Candidates cannot see the queue; reviewers cannot fetch what does not exist.
    assert (await api.request("GET", "/api/v1/ops/face-reviews", token)).status_code == 403
    missing = await api.request("GET", f"/api/v1/ops/face-reviews/{uuid.uuid4()}", reviewer)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "face_review_not_found"


async def test_a_rejected_candidate_cannot_keep_trying(api: Api) -> None:
    ops = await api.staff()
    exam = await api.exam(ops)
    _, token = await candidate_with_photo(api, ops, exam["id"], id_photo="person_b_1")
    for impostor in ("impostor_1", "impostor_2", "person_a_1", "person_a_2", "impostor_2"):
        assert (await selfie(api, token, photo(impostor))).json()["counted"] is True
    (review,) = await api.ok("GET", "/api/v1/ops/face-reviews", ops)
    await api.ok("POST", f"/api/v1/ops/face-reviews/{review['id']}/decision", ops, json={"decision": "reject", "note": "非本人"})
    refused = await selfie(api, token, photo("person_b_2"))
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "identity_rejected"


async def test_a_candidate_without_an_imported_photo_uploads_one(api: Api, settings: Settings) -> None:
    ops = await api.staff()
    exam = await api.exam(ops)
    _, token = await candidate_with_photo(api, ops, exam["id"], seq=1, id_photo=None)

    missing = await selfie(api, token, photo("person_b_2"))
    assert missing.status_code == 409 and missing.json()["error"]["code"] == "id_photo_missing"

    api.clock.advance(seconds=1)
    no_face = await api.request("PUT", "/api/v1/candidate/id-photo", token, files=upload(blank()))
    assert no_face.status_code == 422 and no_face.json()["error"]["code"] == "no_face"
    assert object_keys(settings, "id-photos") == []

    api.clock.advance(seconds=1)
    uploaded = await api.ok("PUT", "/api/v1/candidate/id-photo", token, files=upload(photo("person_b_1")))
    assert uploaded["has_id_photo"] and uploaded["id_photo_source"] == "candidate_upload"
    assert (await selfie(api, token, photo("person_b_2"))).json()["passed"] is True

    # A photo imported by ops stays: the candidate cannot swap in a picture of someone else.
    _, imported = await candidate_with_photo(api, ops, exam["id"], seq=2, id_photo="person_a_1")
    locked = await api.request("PUT", "/api/v1/candidate/id-photo", imported, files=upload(photo("impostor_1")))
    assert locked.status_code == 409 and locked.json()["error"]["code"] == "id_photo_locked"


async def test_selfies_are_rate_limited(api: Api) -> None:
    ops = await api.staff()
    exam = await api.exam(ops)
    row, token = await candidate_with_photo(api, ops, exam["id"], id_photo="person_a_1")
    first = await selfie(api, token, photo("impostor_1"))
    assert first.status_code == 200
    second = await selfie(api, token, photo("impostor_2"), advance=0.5)
    assert second.status_code == 429 and second.json()["error"]["code"] == "face_rate_limited"
    assert second.headers["retry-after"] == "1"
    assert len(await _checks(api, row["candidate_id"])) == 1
