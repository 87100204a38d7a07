"""Request body limits per route class (app.api.body_limits): a `Content-Length` over the limit is answered 413
before a byte is read, a chunked body is cut off once it passes the limit, routes taking large bodies check the
token before reading, and the tus uploads keep their own limits."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.api.test_recordings import TUS, answering
from tests.support.api import Api, id_number, phone
from tests.support.realtime import DEADLINE, ENDS, OPENS, STARTS

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024
JSON_LIMIT = MiB
IMAGE_LIMIT = 10 * MiB + 64 * 1024
ROSTER_LIMIT = 521 * MiB
LOGIN = "/api/v1/auth/candidate/login"
CHUNK = 64 * 1024


class Stream:
    """A request body handed out chunk by chunk, counting what the server pulled."""

    def __init__(self, size: int, *, head: bytes = b"", tail: bytes = b"", fill: bytes = b"x") -> None:
        self.head, self.tail, self.fill = head, tail, fill
        self.size = size  # bytes between head and tail
        self.pulled = 0

    @property
    def length(self) -> int:
        return len(self.head) + self.size + len(self.tail)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._pieces():
            self.pulled += len(piece)
            yield piece

    def _pieces(self) -> Any:
        if self.head:
            yield self.head
        left = self.size
        while left > 0:
            yield self.fill[:1] * min(CHUNK, left)
            left -= CHUNK
        if self.tail:
            yield self.tail


def multipart(field: str, size: int, *, content_type: str = "image/png", prefix: bytes = b"") -> tuple[Stream, str]:
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"f\"\r\nContent-Type: {content_type}\r\n\r\n").encode() + prefix
    tail = f"\r\n--{boundary}--\r\n".encode()
    return Stream(size - len(prefix), head=head, tail=tail, fill=b"\0"), f"multipart/form-data; boundary={boundary}"


async def send(api: Api, method: str, url: str, stream: Stream, *, token: str | None = None, declared: bool = True, content_type: str = "application/json") -> httpx.Response:
    """`declared`: with a Content-Length (else chunked, as a client streaming a body of unknown size sends it)."""
    headers = {"Content-Type": content_type}
    if declared:
        headers["Content-Length"] = str(stream.length)
    return await api.request(method, url, token, content=stream, headers=headers)


def assert_too_large(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 413, response.text
    assert response.json()["error"] == {
        "code": "payload_too_large", "message": "上传内容过大", "message_en": "The upload is too large", "details": {"max_bytes": limit},
        "request_id": response.headers["x-request-id"],
    }  # fmt: skip
    assert response.headers["connection"] == "close"  # the rest of the body is never read


async def test_a_json_body_declared_too_large_is_refused_before_a_byte_is_read(api: Api) -> None:
    """The anonymous log-in: 200 MB declared, nothing read, nothing buffered."""
    body = Stream(200 * MiB)
    assert_too_large(await send(api, "POST", LOGIN, body), JSON_LIMIT)
    assert body.pulled == 0


async def test_a_chunked_json_body_is_cut_off_once_it_passes_the_limit(api: Api) -> None:
    body = Stream(50 * MiB)
    assert_too_large(await send(api, "POST", LOGIN, body, declared=False), JSON_LIMIT)
    assert JSON_LIMIT < body.pulled <= JSON_LIMIT + CHUNK


async def test_a_json_body_at_the_limit_is_read(api: Api) -> None:
    frame = b'{"identifier": "x", "secret": ""}'
    body = frame[:-2] + b"y" * (JSON_LIMIT - len(frame)) + frame[-2:]
    assert len(body) == JSON_LIMIT
    answer = await api.request("POST", LOGIN, content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422  # read and judged by the route (a secret that long is no secret)
    assert_too_large(await api.request("POST", LOGIN, content=body + b" ", headers={"Content-Type": "application/json"}), JSON_LIMIT)


async def test_a_route_without_a_body_does_not_run_for_an_oversized_one(api: Api) -> None:
    """Reissuing an access code takes no body: sent a large one, it is refused and the old code keeps working."""
    ops = await api.staff()
    exam = await api.exam(ops)
    (row,) = await api.roster(ops, exam["id"], [("张三", id_number(1), phone(1))])
    body = Stream(2 * MiB)
    assert_too_large(await send(api, "POST", f"/api/v1/ops/candidates/{row['candidate_id']}/access-code", body, token=ops), JSON_LIMIT)
    assert body.pulled == 0
    await api.ok("POST", LOGIN, json={"identifier": id_number(1), "secret": row["access_code"]})


async def _question(api: Api) -> tuple[str, str]:
    ops = await api.staff()
    exam = await api.exam(ops)
    session = await api.timed_session(ops, exam["id"], OPENS, STARTS, ENDS, DEADLINE)
    question = await api.question(ops, session["id"], "请介绍你自己。")
    return ops, f"/api/v1/ops/sessions/{session['id']}/questions/{question['id']}/image"


async def test_an_image_route_takes_up_to_the_image_limit(api: Api) -> None:
    ops, url = await _question(api)
    png = b"\x89PNG\r\n\x1a\n"
    body, content_type = multipart("image", 5 * MiB, prefix=png)
    answer = await send(api, "PUT", url, body, token=ops, content_type=content_type)
    assert answer.status_code == 200, answer.text
    assert body.pulled == body.length
    # Declared past the image class's limit: refused unread; streamed past it: cut off.
    body, content_type = multipart("image", 11 * MiB, prefix=png)
    assert_too_large(await send(api, "PUT", url, body, token=ops, content_type=content_type), IMAGE_LIMIT)
    assert body.pulled == 0
    body, content_type = multipart("image", 12 * MiB, prefix=png)
    assert_too_large(await send(api, "PUT", url, body, token=ops, content_type=content_type, declared=False), IMAGE_LIMIT)
    assert IMAGE_LIMIT < body.pulled <= IMAGE_LIMIT + CHUNK


@pytest.mark.parametrize(("token", "code"), [(None, "not_authenticated"), ("cand_not-a-real-token", "invalid_token")])
async def test_an_image_without_a_valid_token_is_refused_before_it_is_read(api: Api, token: str | None, code: str) -> None:
    _ops, url = await _question(api)
    body, content_type = multipart("image", 5 * MiB)
    for route, method in ((url, "PUT"), ("/api/v1/candidate/identity/selfie", "POST"), ("/api/v1/device/face", "POST")):
        answer = await send(api, method, route, body, token=token, content_type=content_type)
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] == code
        assert answer.headers["www-authenticate"] == "Bearer" and answer.headers["connection"] == "close"
    assert body.pulled == 0


async def test_the_roster_import_takes_a_larger_body_after_the_token(api: Api) -> None:
    ops = await api.staff()
    exam = await api.exam(ops)
    url = f"/api/v1/ops/exams/{exam['id']}/roster"
    # Past the image limit, within the roster's: read, and judged by the route (not a zip).
    csv = b"\xe5\xa7\x93\xe5\x90\x8d,\xe8\xba\xab\xe4\xbb\xbd\xe8\xaf\x81\xe5\x8f\xb7,\xe6\x89\x8b\xe6\x9c\xba\xe5\x8f\xb7\n"
    boundary = uuid.uuid4().hex
    head = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"csv_file\"; filename=\"r.csv\"\r\nContent-Type: text/csv\r\n\r\n".encode()
        + csv
        + f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"photos\"; filename=\"p.zip\"\r\nContent-Type: application/zip\r\n\r\n".encode()
    )
    body = Stream(12 * MiB, head=head, tail=f"\r\n--{boundary}--\r\n".encode())
    answer = await send(api, "POST", url, body, token=ops, content_type=f"multipart/form-data; boundary={boundary}")
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "photo_archive_unreadable", answer.text
    assert body.pulled == body.length
    # Anonymous: 401 before a byte of 100 MB; past the roster's own limit: 413 unread.
    body, content_type = multipart("csv_file", 100 * MiB, content_type="text/csv")
    anonymous = await send(api, "POST", url, body, content_type=content_type)
    assert anonymous.status_code == 401 and body.pulled == 0
    body, content_type = multipart("csv_file", ROSTER_LIMIT + 1, content_type="text/csv")
    assert_too_large(await send(api, "POST", url, body, token=ops, content_type=content_type), ROSTER_LIMIT)
    assert body.pulled == 0


async def test_tus_uploads_keep_their_own_limits(api: Api) -> None:
    """Not the JSON limit: a PATCH is bounded by the upload's remaining room, refused before a byte is read when its
    Content-Length says more, cut off when a chunked body goes past it (tus answers, in tus terms)."""
    async with answering(api) as a:
        token = a.s.seat.main
        created = await a.tus.create(token)
        url = created.headers["Location"]
        octet = {**TUS, "Content-Type": "application/offset+octet-stream"}

        chunk = b"\x1aE\xdf\xa3" + b"\0" * (2 * MiB)
        answer = await api.request("PATCH", url, token, content=chunk, headers={**octet, "Upload-Offset": "0"})
        assert answer.status_code == 204, answer.text
        offset = len(chunk)

        body = Stream(11)
        headers = {**octet, "Upload-Offset": str(offset), "Upload-Length": str(offset + 10), "Content-Length": "11"}
        refused = await api.request("PATCH", url, token, content=body, headers=headers)
        assert refused.status_code == 413 and refused.json()["error"]["code"] == "upload_body_exceeds_length"
        assert refused.headers["tus-resumable"] == "1.0.0"
        assert body.pulled == 0

        body = Stream(4 * MiB)
        headers = {**octet, "Upload-Offset": str(offset), "Upload-Length": str(offset + MiB)}
        refused = await api.request("PATCH", url, token, content=body, headers=headers)
        assert refused.status_code == 413 and refused.json()["error"]["code"] == "upload_body_exceeds_length"
        assert body.pulled <= MiB + CHUNK
        assert (await a.tus.head(token, url)).headers["Upload-Offset"] == str(offset)
