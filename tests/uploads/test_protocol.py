"""tus 1.0.0 protocol tables: request headers → expected status and headers (local store, SQLite or PostgreSQL)."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from app.clock import FakeClock
from app.uploads import TusApp, errors
from tests.uploads.flows import MOUNT, OCTET, Rules, chain_of, checksum, create, offset_of, patch, upload_id

pytestmark = pytest.mark.anyio


def stored_bytes(tmp_path: Path, url: str) -> bytes:
    return (tmp_path / "objects" / "uploads" / upload_id(url)).read_bytes()


# --- OPTIONS and versions --------------------------------------------------------------------------------


async def test_options_lists_capabilities_without_version_or_auth(client: httpx.AsyncClient) -> None:
    response = await client.options(f"{MOUNT}/", headers={"Tus-Resumable": "", "Authorization": "Bearer nobody"})
    assert response.status_code == 204
    assert response.headers["tus-resumable"] == "1.0.0"
    assert response.headers["tus-version"] == "1.0.0"
    assert set(response.headers["tus-extension"].split(",")) == {
        "creation",
        "creation-with-upload",
        "creation-defer-length",
        "termination",
        "expiration",
        "checksum",
    }
    assert response.headers["tus-max-size"] == str(64 * 1024 * 1024)
    assert response.headers["tus-checksum-algorithm"] == "sha1,sha256"


@pytest.mark.parametrize("version", [None, "0.2.2", "1.0", "2.0.0"])
@pytest.mark.parametrize("method", ["POST", "HEAD", "PATCH", "DELETE"])
async def test_other_versions_get_412_with_tus_version(client: httpx.AsyncClient, method: str, version: str | None) -> None:
    url = await create(client, 10)
    target = f"{MOUNT}/" if method == "POST" else url
    headers = {"Upload-Length": "10", "Upload-Offset": "0", **OCTET}
    request = client.build_request(method, target, headers=headers)
    del request.headers["tus-resumable"]
    if version is not None:
        request.headers["Tus-Resumable"] = version
    response = await client.send(request)
    assert response.status_code == 412
    assert response.headers["tus-version"] == "1.0.0"
    assert response.headers["tus-resumable"] == "1.0.0"


async def test_routes_and_methods(client: httpx.AsyncClient) -> None:
    url = await create(client, 10)
    assert (await client.get(url)).status_code == 405
    assert (await client.put(f"{MOUNT}/")).status_code == 405
    assert (await client.head(f"{MOUNT}/{'x' * 65}")).status_code == 404
    assert (await client.head(f"{MOUNT}/a/b")).status_code == 404
    assert (await client.head(f"{MOUNT}/no-such-upload")).status_code == 404


# --- creation ----------------------------------------------------------------------------------------------

CREATION_TABLE = [
    ({"Upload-Length": "100"}, 201),
    ({"Upload-Length": "0"}, 201),
    ({"Upload-Defer-Length": "1"}, 201),
    ({"Upload-Defer-Length": "0"}, 400),
    ({"Upload-Defer-Length": "2"}, 400),
    ({"Upload-Length": "10", "Upload-Defer-Length": "1"}, 400),
    ({}, 400),
    ({"Upload-Length": "-1"}, 400),
    ({"Upload-Length": "+5"}, 400),
    ({"Upload-Length": "1.5"}, 400),
    ({"Upload-Length": "abc"}, 400),
    ({"Upload-Length": "0x10"}, 400),
    ({"Upload-Length": "99999999999999999999"}, 400),
    ({"Upload-Length": str(64 * 1024 * 1024)}, 201),
    ({"Upload-Length": str(64 * 1024 * 1024 + 1)}, 413),
    ({"Upload-Length": "10", "Upload-Metadata": "filename YS53ZWJt,is_final"}, 201),
    ({"Upload-Length": "10", "Upload-Metadata": ""}, 201),
    ({"Upload-Length": "10", "Upload-Metadata": "filename not-base64!"}, 400),
    ({"Upload-Length": "10", "Upload-Metadata": "a YQ==,a Yg=="}, 400),
    ({"Upload-Length": "10", "Upload-Metadata": "a YQ== extra"}, 400),
    ({"Upload-Length": "10", "Upload-Metadata": "bad\x7fkey YQ=="}, 400),
    ({"Upload-Length": "10", "Upload-Metadata": "latin " + base64.b64encode(b"\xff").decode()}, 400),
    ({"Upload-Length": "10", "Authorization": "Bearer nobody"}, 401),
]


@pytest.mark.parametrize(("headers", "status"), CREATION_TABLE)
async def test_creation_table(client: httpx.AsyncClient, headers: dict[str, str], status: int) -> None:
    response = await client.post(f"{MOUNT}/", headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["tus-resumable"] == "1.0.0"
    if status == 201:
        location = response.headers["location"]
        assert location.startswith(f"{MOUNT}/")
        assert response.headers["upload-offset"] == "0"
        assert "upload-expires" not in response.headers  # no expiry given
    else:
        assert "location" not in response.headers
        assert response.json()["error"]["code"]


async def test_head_reports_offset_length_metadata_and_no_store(client: httpx.AsyncClient, rules: Rules) -> None:
    url = await create(client, 100, **{"Upload-Metadata": "filename YS53ZWJt,is_final,subject cm9sZTptYWlu"})
    assert rules.created == [("phone-1", {"filename": "a.webm", "is_final": "", "subject": "role:main"}, 100)]
    response = await client.head(url)
    assert response.status_code == 200
    assert response.headers["upload-offset"] == "0"
    assert response.headers["upload-length"] == "100"
    assert "upload-defer-length" not in response.headers
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["upload-metadata"] == "filename YS53ZWJt,is_final,subject cm9sZTptYWlu"
    assert response.content == b""


async def test_head_of_deferred_upload(client: httpx.AsyncClient) -> None:
    url = await create(client, None)
    response = await client.head(url)
    assert response.headers["upload-defer-length"] == "1"
    assert "upload-length" not in response.headers
    assert "upload-metadata" not in response.headers


async def test_someone_elses_upload_does_not_exist(client: httpx.AsyncClient) -> None:
    url = await create(client, 10)
    other = {"Authorization": "Bearer phone-2"}
    assert (await client.head(url, headers=other)).status_code == 404
    assert (await patch(client, url, 0, b"x", **other)).status_code == 404
    assert (await client.delete(url, headers=other)).status_code == 404
    assert await offset_of(client, url) == 0


# --- PATCH ---------------------------------------------------------------------------------------------------

PATCH_TABLE = [
    # (headers, body, status, offset afterwards)
    ({**OCTET, "Upload-Offset": "0"}, b"hello", 204, 5),
    ({**OCTET, "Upload-Offset": "0"}, b"0123456789", 204, 10),
    ({**OCTET, "Upload-Offset": "0"}, b"", 204, 0),
    ({"Content-Type": "application/octet-stream", "Upload-Offset": "0"}, b"hello", 415, 0),
    ({"Upload-Offset": "0"}, b"hello", 415, 0),
    ({**OCTET}, b"hello", 400, 0),
    ({**OCTET, "Upload-Offset": "-1"}, b"hello", 400, 0),
    ({**OCTET, "Upload-Offset": "abc"}, b"hello", 400, 0),
    ({**OCTET, "Upload-Offset": "5"}, b"hello", 409, 0),
    ({**OCTET, "Upload-Offset": "11"}, b"x", 409, 0),  # past the end
    ({**OCTET, "Upload-Offset": "0"}, b"0123456789X", 413, 0),  # longer than Upload-Length
    ({**OCTET, "Upload-Offset": "0", "Upload-Length": "10"}, b"hello", 204, 5),  # same length again: fine
    ({**OCTET, "Upload-Offset": "0", "Upload-Length": "12"}, b"hello", 400, 0),  # length cannot change
    ({**OCTET, "Upload-Offset": "0", "Upload-Length": "x"}, b"hello", 400, 0),
    ({**OCTET, "Upload-Offset": "0", "Upload-Checksum": checksum("sha1", b"hello")}, b"hello", 204, 5),
    ({**OCTET, "Upload-Offset": "0", "Upload-Checksum": checksum("sha256", b"hello")}, b"hello", 204, 5),
    ({**OCTET, "Upload-Offset": "0", "Upload-Checksum": checksum("sha1", b"hellO")}, b"hello", 460, 0),
    ({**OCTET, "Upload-Offset": "0", "Upload-Checksum": checksum("sha256", b"hellO")}, b"hello", 460, 0),
    ({**OCTET, "Upload-Offset": "0", "Upload-Checksum": checksum("md5", b"hello")}, b"hello", 400, 0),
    ({**OCTET, "Upload-Offset": "0", "Upload-Checksum": "sha1"}, b"hello", 400, 0),
    ({**OCTET, "Upload-Offset": "0", "Upload-Checksum": "sha1 !!!"}, b"hello", 400, 0),
    ({**OCTET, "Upload-Offset": "0", "Upload-Checksum": "sha1 " + base64.b64encode(b"short").decode()}, b"hello", 400, 0),
    ({**OCTET, "Upload-Offset": "0", "Upload-Checksum": "SHA1 " + checksum("sha1", b"hello")[5:]}, b"hello", 400, 0),
    ({**OCTET, "Upload-Offset": "0", "Authorization": "Bearer nobody"}, b"hello", 401, 0),
]


@pytest.mark.parametrize(("headers", "body", "status", "offset"), PATCH_TABLE)
async def test_patch_table(
    client: httpx.AsyncClient, tmp_path: Path, headers: dict[str, str], body: bytes, status: int, offset: int
) -> None:
    url = await create(client, 10)
    response = await client.patch(url, content=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["tus-resumable"] == "1.0.0"
    if status == 204:
        assert response.headers["upload-offset"] == str(offset)
    else:
        assert "upload-offset" not in response.headers
    assert await offset_of(client, url) == offset
    assert stored_bytes(tmp_path, url) == body[:offset]  # nothing refused reached the file


async def test_patches_continue_and_finish(client: httpx.AsyncClient, rules: Rules, tmp_path: Path) -> None:
    data = b"0123456789"
    url = await create(client, 10)
    assert (await patch(client, url, 0, data[:4])).headers["upload-offset"] == "4"
    assert rules.finished == []
    assert (await patch(client, url, 4, data[4:])).headers["upload-offset"] == "10"
    (finished,) = rules.finished
    assert finished.sha256 == hashlib.sha256(data).hexdigest()
    assert finished.chain_sha256 == chain_of([data[:4], data[4:]])
    assert finished.chunk_count == 2
    assert stored_bytes(tmp_path, url) == data
    # A retried last PATCH (its 204 got lost) is harmless; more bytes are not.
    assert (await patch(client, url, 10, b"")).status_code == 204
    assert (await patch(client, url, 10, b"x")).status_code == 413
    assert (await patch(client, url, 4, data[4:])).status_code == 409
    assert len(rules.finished) == 1


async def test_checksum_mismatch_keeps_earlier_bytes(client: httpx.AsyncClient, tmp_path: Path) -> None:
    url = await create(client, 10)
    await patch(client, url, 0, b"abc", **{"Upload-Checksum": checksum("sha256", b"abc")})
    response = await patch(client, url, 3, b"defg", **{"Upload-Checksum": checksum("sha256", b"DEFG")})
    assert response.status_code == 460
    assert response.json()["error"]["code"] == "checksum_mismatch"
    assert await offset_of(client, url) == 3
    assert stored_bytes(tmp_path, url) == b"abc"
    assert (await patch(client, url, 3, b"defg", **{"Upload-Checksum": checksum("sha1", b"defg")})).status_code == 204
    assert stored_bytes(tmp_path, url) == b"abcdefg"


async def test_streamed_body_longer_than_length_stores_nothing(client: httpx.AsyncClient, tmp_path: Path) -> None:
    """No Content-Length (chunked): refused once it goes past Upload-Length, with nothing of it kept."""
    url = await create(client, 10)
    await patch(client, url, 0, b"abc")

    async def body():  # type: ignore[no-untyped-def]
        for piece in (b"defg", b"hij", b"KLM"):
            yield piece

    response = await client.patch(url, content=body(), headers={**OCTET, "Upload-Offset": "3"})
    assert response.status_code == 413
    assert await offset_of(client, url) == 3
    assert stored_bytes(tmp_path, url) == b"abc"


async def test_pre_write_refusal(client: httpx.AsyncClient, rules: Rules) -> None:
    url = await create(client, 10)
    rules.refuse_write = errors.ErrorSpec(403, "outside_upload_window", "Not now", "现在不能上传")
    response = await patch(client, url, 0, b"abc")
    assert response.status_code == 403
    assert response.json()["error"] == {"code": "outside_upload_window", "message": "现在不能上传", "message_en": "Not now"}
    assert await offset_of(client, url) == 0


async def test_method_override_for_proxies_without_patch(client: httpx.AsyncClient) -> None:
    url = await create(client, 3)
    response = await client.post(url, content=b"abc", headers={**OCTET, "Upload-Offset": "0", "X-HTTP-Method-Override": "PATCH"})
    assert response.status_code == 204
    assert response.headers["upload-offset"] == "3"


# --- creation-defer-length --------------------------------------------------------------------------------------


async def test_deferred_length_set_on_a_later_patch(client: httpx.AsyncClient, rules: Rules, tmp_path: Path) -> None:
    url = await create(client, None)
    assert (await patch(client, url, 0, b"first")).headers["upload-offset"] == "5"
    response = await patch(client, url, 5, b"-last", **{"Upload-Length": "10"})
    assert response.status_code == 204
    assert response.headers["upload-offset"] == "10"
    head = await client.head(url)
    assert head.headers["upload-length"] == "10"
    assert "upload-defer-length" not in head.headers
    assert [u.length for u in rules.finished] == [10]
    assert stored_bytes(tmp_path, url) == b"first-last"


async def test_tus_js_client_final_empty_patch_without_content_length(client: httpx.AsyncClient, rules: Rules) -> None:
    """tus-js-client 4.x ends a deferred stream with a PATCH carrying only Upload-Length: no body, no Content-Length."""
    url = await create(client, None)
    await patch(client, url, 0, b"chunk-1")
    await patch(client, url, 7, b"chunk-2")
    request = client.build_request("PATCH", url, headers={"Upload-Offset": "14", "Upload-Length": "14"})
    del request.headers["content-length"]
    assert "content-type" not in request.headers
    response = await client.send(request)
    assert response.status_code == 204
    assert response.headers["upload-offset"] == "14"
    assert rules.finished[0].sha256 == hashlib.sha256(b"chunk-1chunk-2").hexdigest()


@pytest.mark.parametrize(
    ("length", "status"),
    [("3", 400), ("-1", 400), (str(64 * 1024 * 1024 + 1), 413), ("5", 204)],
)
async def test_deferred_length_checks(client: httpx.AsyncClient, length: str, status: int) -> None:
    url = await create(client, None)
    await patch(client, url, 0, b"abcd")
    response = await patch(client, url, 4, b"", **{"Upload-Length": length})
    assert response.status_code == status


async def test_deferred_upload_is_capped_by_the_max_size(client: httpx.AsyncClient, rules: Rules) -> None:
    rules.max_size = 8
    url = await create(client, None)
    assert (await patch(client, url, 0, b"12345")).status_code == 204
    assert (await patch(client, url, 5, b"6789")).status_code == 413
    assert await offset_of(client, url) == 5
    assert (await client.post(f"{MOUNT}/", headers={"Upload-Length": "9"})).status_code == 413


# --- creation-with-upload -------------------------------------------------------------------------------------------


async def test_creation_with_upload(client: httpx.AsyncClient, tmp_path: Path) -> None:
    response = await client.post(f"{MOUNT}/", content=b"hello", headers={**OCTET, "Upload-Length": "10"})
    assert response.status_code == 201
    assert response.headers["upload-offset"] == "5"
    url = response.headers["location"]
    assert await offset_of(client, url) == 5
    assert (await patch(client, url, 5, b"world")).headers["upload-offset"] == "10"
    assert stored_bytes(tmp_path, url) == b"helloworld"


async def test_creation_with_whole_upload_finishes(client: httpx.AsyncClient, rules: Rules) -> None:
    response = await client.post(
        f"{MOUNT}/", content=b"all", headers={**OCTET, "Upload-Length": "3", "Upload-Checksum": checksum("sha1", b"all")}
    )
    assert response.status_code == 201
    assert response.headers["upload-offset"] == "3"
    assert [u.sha256 for u in rules.finished] == [hashlib.sha256(b"all").hexdigest()]


async def test_empty_upload_finishes_at_creation(client: httpx.AsyncClient, rules: Rules) -> None:
    url = await create(client, 0)
    assert [u.sha256 for u in rules.finished] == [hashlib.sha256(b"").hexdigest()]
    assert await offset_of(client, url) == 0


@pytest.mark.parametrize(
    ("headers", "status", "offset"),
    [
        ({"Content-Type": "text/plain", "Upload-Length": "10"}, 415, None),
        ({**OCTET, "Upload-Length": "3"}, 413, None),
        ({**OCTET, "Upload-Length": "10", "Upload-Checksum": checksum("sha1", b"HELLO")}, 201, "0"),
        ({**OCTET, "Upload-Length": "10", "Upload-Checksum": "crc32 AAAAAA=="}, 400, None),
        ({**OCTET, "Upload-Defer-Length": "1"}, 201, "5"),
    ],
)
async def test_creation_with_upload_table(
    client: httpx.AsyncClient, headers: dict[str, str], status: int, offset: str | None
) -> None:
    response = await client.post(f"{MOUNT}/", content=b"hello", headers=headers)
    assert response.status_code == status, response.text
    assert response.headers.get("upload-offset") == offset


async def test_existing_upload_is_handed_back(client: httpx.AsyncClient, rules: Rules) -> None:
    """A phone that lost its upload URL POSTs again; pre_create names the live upload and it gets its Location."""
    url = await create(client, None)
    await patch(client, url, 0, b"abc")
    rules.existing_upload_id = upload_id(url)
    response = await client.post(f"{MOUNT}/", content=b"ignored", headers={**OCTET, "Upload-Defer-Length": "1"})
    assert response.status_code == 201
    assert response.headers["location"] == url
    assert response.headers["upload-offset"] == "3"
    assert await offset_of(client, url) == 3
    # Stating the length now sets it; a different one later is a conflict.
    assert (await client.post(f"{MOUNT}/", headers={"Upload-Length": "6"})).headers["location"] == url
    assert (await client.head(url)).headers["upload-length"] == "6"
    assert (await client.post(f"{MOUNT}/", headers={"Upload-Length": "7"})).status_code == 409
    # Someone else's (or a gone) upload is never handed out: a new one is made.
    other = await client.post(f"{MOUNT}/", headers={"Upload-Length": "6", "Authorization": "Bearer phone-2"})
    assert other.status_code == 201 and other.headers["location"] != url


async def test_chosen_upload_id_and_duplicates(client: httpx.AsyncClient, rules: Rules) -> None:
    rules.upload_id = "sitting-1-main"
    assert (await create(client, 10)) == f"{MOUNT}/sitting-1-main"
    assert (await client.post(f"{MOUNT}/", headers={"Upload-Length": "10"})).status_code == 409


async def test_location_follows_the_mount(tus: TusApp) -> None:
    from tests.uploads.flows import client_for

    app = __import__("fastapi").FastAPI()
    app.mount("/elsewhere/tus", tus)
    async with client_for(app) as other:
        response = await other.post("/elsewhere/tus/", headers={"Upload-Length": "1"})
        assert response.headers["location"].startswith("/elsewhere/tus/")


# --- termination ---------------------------------------------------------------------------------------------------


async def test_termination(client: httpx.AsyncClient, tmp_path: Path) -> None:
    url = await create(client, 10)
    await patch(client, url, 0, b"abc")
    response = await client.delete(url)
    assert response.status_code == 204
    assert response.headers["tus-resumable"] == "1.0.0"
    assert not (tmp_path / "objects" / "uploads" / upload_id(url)).exists()
    assert (await client.head(url)).status_code == 410
    assert (await patch(client, url, 3, b"d")).status_code == 410
    assert (await client.delete(url)).status_code == 410


async def test_finished_upload_cannot_be_terminated_by_default(client: httpx.AsyncClient) -> None:
    url = await create(client, 3)
    await patch(client, url, 0, b"abc")
    assert (await client.delete(url)).status_code == 403
    assert await offset_of(client, url) == 3


# --- expiration ------------------------------------------------------------------------------------------------------


async def test_expiry_headers_410_and_cleanup(
    client: httpx.AsyncClient, rules: Rules, clock: FakeClock, tus: TusApp, tmp_path: Path
) -> None:
    rules.expires_at = clock.now() + timedelta(hours=1)  # 2026-06-01 01:00 UTC
    created = await client.post(f"{MOUNT}/", headers={"Upload-Length": "10"})
    assert created.headers["upload-expires"] == "Mon, 01 Jun 2026 01:00:00 GMT"
    url = created.headers["location"]
    patched = await patch(client, url, 0, b"abc")
    assert patched.headers["upload-expires"] == "Mon, 01 Jun 2026 01:00:00 GMT"
    assert (await client.head(url)).headers["upload-expires"] == "Mon, 01 Jun 2026 01:00:00 GMT"

    assert await tus.expire_uploads() == []  # not yet
    clock.advance(hours=1)
    assert (await client.head(url)).status_code == 410  # before any sweep ran
    assert (await patch(client, url, 3, b"d")).status_code == 410
    assert stored_bytes(tmp_path, url) == b"abc"
    assert await tus.expire_uploads() == [upload_id(url)]
    assert not (tmp_path / "objects" / "uploads" / upload_id(url)).exists()
    assert await tus.expire_uploads() == []  # idempotent
    assert (await client.head(url)).status_code == 410


async def test_finished_uploads_do_not_expire(client: httpx.AsyncClient, rules: Rules, clock: FakeClock, tus: TusApp) -> None:
    rules.expires_at = clock.now() + timedelta(minutes=5)
    url = await create(client, 3)
    done = await patch(client, url, 0, b"abc")
    assert "upload-expires" not in done.headers  # nothing left to expire
    clock.advance(hours=2)
    assert await tus.expire_uploads() == []
    assert await offset_of(client, url) == 3


async def test_set_expiry_moves_the_deadline(client: httpx.AsyncClient, rules: Rules, clock: FakeClock, tus: TusApp) -> None:
    rules.expires_at = clock.now() + timedelta(minutes=5)
    url = await create(client, 10)
    await tus.set_expiry(upload_id(url), clock.now() + timedelta(hours=1))
    clock.advance(minutes=10)
    assert (await patch(client, url, 0, b"abc")).headers["upload-expires"] == "Mon, 01 Jun 2026 01:00:00 GMT"


async def test_a_large_patch_is_streamed_not_buffered(client: httpx.AsyncClient, tmp_path: Path) -> None:
    """32 MiB in one PATCH: the server holds two reused write buffers (512 KiB each), never the body."""
    import tracemalloc

    piece = bytes(range(256)) * 256  # 64 KiB
    count = 512

    async def body():  # type: ignore[no-untyped-def]
        for _ in range(count):
            yield piece

    url = await create(client, len(piece) * count)
    tracemalloc.start()
    try:
        response = await client.patch(url, content=body(), headers={**OCTET, "Upload-Offset": "0"})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 204
    assert response.headers["upload-offset"] == str(len(piece) * count)
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1024 / 1024:.1f} MiB"
    assert (tmp_path / "objects" / "uploads" / upload_id(url)).stat().st_size == len(piece) * count
