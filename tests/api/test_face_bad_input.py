"""Bad pictures at every face endpoint: a declared 4xx with a stable code, nothing stored, nothing counted; pictures
that are merely unusual (EXIF-rotated, greyscale, transparent) pass. And no models → 503, not a failed start."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

import app.face
from app import errors
from app.clock import FakeClock
from app.config import Settings
from app.main import create_app
from app.models import FaceCheck
from tests.conftest import T0
from tests.support.api import Api, SchemaChecker
from tests.support.face import (
    candidate_with_photo,
    exif_rotated,
    face_models_fixture,  # noqa: F401  (the face_models fixture)
    face_settings,  # noqa: F401  (the settings fixture, with the models)
    greyscale,
    large_png,
    object_keys,
    photo,
    png_bomb,
    rgba_png,
    selfie,
    truncated,
    upload,
)

pytestmark = pytest.mark.anyio

OPENS = T0 + timedelta(hours=1)

BAD: list[Any] = [
    # id, bytes, declared part type, status, code
    pytest.param(b"hello, not a picture", "image/jpeg", 415, "image_unreadable", id="not-an-image"),
    pytest.param(truncated("person_a_2"), "image/jpeg", 422, "image_corrupt", id="truncated-jpeg"),
    pytest.param(png_bomb(), "image/png", 413, "image_too_large", id="png-bomb-20000x20000"),
    # A plain picture of 125 KB, but 40 MP: over the budget of every use (4000 px for an ID photo, 1920 live).
    pytest.param(large_png(8000, 5000), "image/png", 413, "image_too_large", id="png-8000x5000"),
    pytest.param(b"", "image/jpeg", 422, "image_empty", id="zero-bytes"),
    pytest.param(photo("person_a_2"), "text/plain", 415, "image_type_unsupported", id="wrong-content-type"),
    pytest.param(b"GIF89a" + b"\x00" * 64, "image/gif", 415, "image_type_unsupported", id="gif"),
    pytest.param(b"\xff\xd8\xff" + b"\x00" * (10 * 1024 * 1024), "image/jpeg", 413, "payload_too_large", id="over-10-MB"),
]
GOOD: list[Any] = [
    pytest.param(exif_rotated("person_a_2"), "image/jpeg", id="exif-rotated"),
    pytest.param(greyscale("person_a_2"), "image/jpeg", id="greyscale"),
    pytest.param(rgba_png("person_a_2"), "image/png", id="rgba-png"),
]
ENDPOINTS = ["selfie", "id_photo", "gate"]


async def _world(api: Api, endpoint: str) -> dict[str, Any]:
    """A candidate ready for `endpoint`: unverified with an imported ID photo (selfie), without a photo (id_photo),
    or verified with a main phone in the waiting window (gate)."""
    ops = await api.staff()
    exam = await api.exam(ops)
    row, token = await candidate_with_photo(api, ops, exam["id"], id_photo=None if endpoint == "id_photo" else "person_a_1")
    world = {"candidate_id": row["candidate_id"], "token": token, "method": "POST", "url": "/api/v1/candidate/identity/selfie"}
    if endpoint == "id_photo":
        world.update(method="PUT", url="/api/v1/candidate/id-photo")
    if endpoint == "gate":
        assert (await selfie(api, token, photo("person_a_2"))).json()["passed"] is True
        session = await api.timed_session(ops, exam["id"], OPENS, OPENS + timedelta(minutes=10), OPENS + timedelta(minutes=20), OPENS + timedelta(hours=2))
        await api.confirm(token)
        sitting = await api.sitting_of(token, session["id"])
        world.update(token=await api.device(token, sitting["id"], "main"), url="/api/v1/device/face")
        api.clock.set(OPENS)
    return world


async def _counted(api: Api, candidate_id: str) -> int:
    async with api.app.state.sessionmaker() as db:
        query = select(func.count()).select_from(FaceCheck).where(FaceCheck.candidate_id == uuid.UUID(candidate_id))
        return (await db.scalar(query)) or 0


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_bad_pictures_are_refused_and_nothing_is_stored(api: Api, settings: Settings, endpoint: str) -> None:
    # One world per endpoint, the table's rows in turn (a refused picture changes nothing, so rows cannot interfere).
    world = await _world(api, endpoint)
    checks_before, objects_before = await _counted(api, world["candidate_id"]), object_keys(settings, "")
    for case in BAD:
        data, content_type, status, error = case.values
        api.clock.advance(seconds=1)
        response = await api.request(world["method"], world["url"], world["token"], files=upload(data, content_type))
        assert (response.status_code, response.json()["error"]["code"]) == (status, error), (case.id, response.text)
        body = response.json()["error"]
        assert body["message"] and body["message_en"] and body["message"] != body["message_en"], case.id
        assert await _counted(api, world["candidate_id"]) == checks_before, case.id
        assert object_keys(settings, "") == objects_before, case.id


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(("data", "content_type"), GOOD)
async def test_unusual_but_valid_pictures_pass(api: Api, endpoint: str, data: bytes, content_type: str) -> None:
    world = await _world(api, endpoint)
    api.clock.advance(seconds=1)
    response = await api.request(world["method"], world["url"], world["token"], files=upload(data, content_type))
    assert response.status_code == 200, response.text
    body = response.json()
    if endpoint == "id_photo":
        assert body["id_photo_source"] == "candidate_upload"
    else:
        assert body["passed"] is True and body["findings"] == [], body


async def test_a_request_that_is_not_a_multipart_upload_is_a_validation_error(api: Api) -> None:
    world = await _world(api, "selfie")
    for kwargs in ({"content": photo("person_a_2"), "headers": {"content-type": "image/jpeg"}}, {"json": {"image": "aGVsbG8="}}):
        api.clock.advance(seconds=1)
        response = await api.request("POST", world["url"], world["token"], **kwargs)
        assert (response.status_code, response.json()["error"]["code"]) == (422, "validation_error")


def test_every_face_library_error_has_one_status() -> None:
    """The one table (app.errors.FACE_ERRORS): every code the face library can raise, 4xx for input, 503 for models."""
    kinds = [k for k in vars(app.face).values() if inspect.isclass(k) and issubclass(k, app.face.FaceError) and "code" in vars(k) and k is not app.face.FaceError]
    assert kinds and {k.code for k in kinds} == set(errors.FACE_ERRORS)
    for kind in kinds:
        status = errors.FACE_ERRORS[kind.code].status
        assert 400 <= status < 500 if issubclass(kind, app.face.FaceInputError) else status == 503, kind


@pytest.fixture
async def bare_api(settings: Settings, tmp_path: Path, schema_checker: SchemaChecker) -> AsyncIterator[Api]:
    """An app whose model directory is empty: it must start, and say 503 face_models_missing."""
    clock = FakeClock(T0)
    application = create_app(Settings(**{**settings.model_dump(), "face_model_dir": tmp_path / "no-models"}), clock=clock)

    async def check(response: httpx.Response) -> None:
        schema_checker.check(response.request.method, response.request.url.path, response.status_code)

    async with application.router.lifespan_context(application):
        assert application.state.face is None
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", event_hooks={"response": [check]}) as client:
            yield Api(client=client, app=application, clock=clock)


async def test_missing_models_answer_503_and_the_rest_of_the_api_works(bare_api: Api) -> None:
    ops = await bare_api.staff()
    exam = await bare_api.exam(ops)
    _, token = await candidate_with_photo(bare_api, ops, exam["id"])
    response = await selfie(bare_api, token, photo("person_a_2"))
    assert (response.status_code, response.json()["error"]["code"]) == (503, "face_models_missing")
    assert (await bare_api.ok("GET", "/api/v1/candidate/identity", token))["identity_verified_at"] is None
