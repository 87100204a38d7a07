"""Recordings end to end through the tus server at /api/v1/uploads/ with the exam's rules: who may upload what and
when, one recording per sitting and role, verification by PyAV, the sitting becoming `uploaded` (or `incomplete`),
progress for ops, and the signed links reviewers watch through."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from httpx_ws import AsyncWebSocketSession
from sqlalchemy import func, select

from app.models import UploadRow
from tests.support.api import Api
from tests.support.media import webm
from tests.support.realtime import DEADLINE, ENDS, Scene, alive, move, scene, to_answering, to_ready
from tests.support.ws import next_message, phone, ws_client

pytestmark = pytest.mark.anyio

TUS = {"Tus-Resumable": "1.0.0"}
UPLOADS = "/api/v1/uploads/"


def meta(**fields: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in fields.items())


@dataclass
class Tus:
    """A phone's tus requests (what clients/common/uploader.js sends)."""

    api: Api

    async def create(self, token: str | None, **metadata: str) -> httpx.Response:
        headers = {**TUS, "Upload-Defer-Length": "1"}
        if metadata:
            headers["Upload-Metadata"] = meta(**metadata)
        return await self.api.request("POST", UPLOADS, token, headers=headers)

    async def head(self, token: str, url: str) -> httpx.Response:
        return await self.api.request("HEAD", url, token, headers=TUS)

    async def patch(self, token: str, url: str, offset: int, body: bytes, *, length: int | None = None, checksum: bool = True) -> httpx.Response:
        headers = {**TUS, "Content-Type": "application/offset+octet-stream", "Upload-Offset": str(offset)}
        if checksum:
            headers["Upload-Checksum"] = "sha256 " + base64.b64encode(hashlib.sha256(body).digest()).decode()
        if length is not None:
            headers["Upload-Length"] = str(length)
        return await self.api.request("PATCH", url, token, headers=headers, content=body)

    async def send(self, token: str, data: bytes, *, chunk: int = 1024, url: str | None = None) -> str:
        """Create (or find) the recording's upload and send `data` from the server's offset, length with the last;
        then wait for its verification (queued by the server once the last byte is in)."""
        if url is None:
            created = await self.create(token)
            assert created.status_code == 201, created.text
            url = created.headers["Location"]
        offset = int((await self.head(token, url)).headers["Upload-Offset"])
        while offset < len(data):
            body = data[offset : offset + chunk]
            last = offset + len(body) == len(data)
            answer = await self.patch(token, url, offset, body, length=len(data) if last else None)
            assert answer.status_code == 204, answer.text
            offset = int(answer.headers["Upload-Offset"])
        await self.api.settled(token)
        return url


@dataclass
class Answering:
    api: Api
    s: Scene
    main: AsyncWebSocketSession
    aux: AsyncWebSocketSession
    tus: Tus

    async def at(self, when: Any) -> None:
        """Move the clock with both phones heartbeating, and tick the scheduler."""
        await move(self.api, when, self.main, self.aux)

    async def sitting(self, token: str | None = None) -> dict[str, Any]:
        return await self.api.ok("GET", "/api/v1/device/sitting", token or self.s.seat.main)

    async def ops_row(self) -> dict[str, Any]:
        rows = await self.api.ok("GET", f"/api/v1/ops/sessions/{self.s.session['id']}/sittings", self.s.ops)
        (row,) = [r for r in rows if r["sitting_id"] == self.s.seat.sitting_id]
        return row

    async def recordings(self, token: str | None = None) -> dict[str, dict[str, Any]]:
        rows = await self.api.ok("GET", f"/api/v1/ops/sittings/{self.s.seat.sitting_id}/recordings", token or self.s.ops)
        return {r["role"]: r for r in rows}


@asynccontextmanager
async def answering(api: Api, candidates: int = 1) -> AsyncIterator[Answering]:
    s = await scene(api, candidates=candidates)
    async with ws_client(api.app) as client, phone(client, s.seat.main) as main, phone(client, s.seat.aux) as aux:
        await next_message(main)
        await next_message(aux)
        await to_ready(api, s.seat.sitting_id, main, aux)
        await to_answering(api, main, aux)
        yield Answering(api, s, main, aux, Tus(api))


async def upload_count(api: Api) -> int:
    async with api.app.state.sessionmaker() as db:
        return await db.scalar(select(func.count()).select_from(UploadRow)) or 0


MAIN_VIDEO = webm(seconds=3.0)
AUX_VIDEO = webm(seconds=2.0, fps=8)


async def test_both_recordings_verified_make_the_sitting_uploaded(api: Api) -> None:
    async with answering(api) as a:
        seat = a.s.seat
        await a.at(ENDS + timedelta(seconds=5))
        assert (await a.sitting())["state"] == "recorded"
        main_url = await a.tus.send(seat.main, MAIN_VIDEO)
        mine = {r["role"]: r for r in (await a.sitting(seat.main))["recordings"]}
        assert mine["main"]["status"] == "verified" and mine["main"]["verified"] is True
        assert mine["main"]["duration_seconds"] == pytest.approx(3.0, abs=0.1)
        assert mine["aux"]["status"] == "missing"
        assert (await a.sitting())["state"] == "recorded"  # one of two is not enough

        # Ops see the progress of the other one while it arrives.
        created = await a.tus.create(seat.aux, role="aux", sitting_id=seat.sitting_id)
        aux_url = created.headers["Location"]
        assert (await a.tus.patch(seat.aux, aux_url, 0, AUX_VIDEO[:1000])).status_code == 204
        row = await a.ops_row()
        progress = {r["role"]: r for r in row["recordings"]}
        assert progress["aux"]["status"] == "receiving" and progress["aux"]["bytes_received"] == 1000
        assert progress["aux"]["length"] is None and progress["aux"]["last_write_at"] is not None
        status = await api.ok("GET", f"/api/v1/ops/sessions/{a.s.session['id']}/status", a.s.ops)
        assert status["recordings"]["main"]["verified"] == 1 and status["recordings"]["aux"]["receiving"] == 1

        await a.tus.send(seat.aux, AUX_VIDEO, url=aux_url)
        sitting = await a.sitting(seat.aux)
        assert sitting["state"] == "uploaded"
        assert {r["role"]: r["status"] for r in sitting["recordings"]} == {"main": "verified", "aux": "verified"}
        status = await api.ok("GET", f"/api/v1/ops/sessions/{a.s.session['id']}/status", a.s.ops)
        assert status["counts"]["uploaded"] == 1 and status["recordings"]["aux"]["verified"] == 1

        # The evidence: the object's sha256 and the chain over its PATCHes.
        recordings = await a.recordings()
        assert recordings["main"]["sha256"] == hashlib.sha256(MAIN_VIDEO).hexdigest()
        assert recordings["main"]["size"] == len(MAIN_VIDEO) and recordings["main"]["container"] == "matroska,webm"
        assert len(recordings["main"]["chain_sha256"]) == 64
        assert main_url != aux_url
        # A retried final PATCH (its answer was lost) is answered with the offset; nothing changes.
        again = await a.tus.patch(seat.main, main_url, len(MAIN_VIDEO), b"", length=len(MAIN_VIDEO), checksum=False)
        assert again.status_code == 204 and again.headers["Upload-Offset"] == str(len(MAIN_VIDEO))


async def test_a_second_creation_answers_the_same_upload_even_from_a_new_phone(api: Api) -> None:
    async with answering(api) as a:
        seat = a.s.seat
        first = await a.tus.create(seat.main)
        url = first.headers["Location"]
        assert (await a.tus.patch(seat.main, url, 0, MAIN_VIDEO[:500])).status_code == 204
        again = await a.tus.create(seat.main)
        assert again.status_code == 201 and again.headers["Location"] == url and again.headers["Upload-Offset"] == "500"
        # The candidate logs the main role in on another phone: the old token stops working, the upload goes on.
        replacement = await api.device(seat.candidate, seat.sitting_id, "main")
        assert (await a.tus.head(seat.main, url)).status_code == 401
        head = await a.tus.head(replacement, url)
        assert head.status_code == 200 and head.headers["Upload-Offset"] == "500"
        assert head.headers["Cache-Control"] == "no-store"
        assert "Upload-Expires" in head.headers
        # The aux phone's role is another recording: it cannot see the main one.
        assert (await a.tus.head(seat.aux, url)).status_code == 404
        assert await upload_count(api) == 1


async def test_who_may_upload_what_and_when(api: Api) -> None:
    s = await scene(api, candidates=2)
    me, other = s.seats
    tus = Tus(api)
    async with ws_client(api.app) as client, phone(client, me.main) as main, phone(client, me.aux) as aux:
        await next_message(main)
        await next_message(aux)
        # Before answer start: refused, nothing stored.
        early = await tus.create(me.main)
        assert early.status_code == 403 and early.json()["error"]["code"] == "recording_not_open"
        assert early.headers["Tus-Resumable"] == "1.0.0"
        await to_ready(api, me.sitting_id, main, aux)
        await to_answering(api, main, aux)
        # No token, a bad token, a candidate's (not a phone's) token.
        assert (await tus.create(None)).status_code == 401
        assert (await tus.create("dcd_not-a-token")).status_code == 401
        candidate = await tus.create(me.candidate)
        assert candidate.status_code == 403 and candidate.json()["error"]["code"] == "forbidden"
        # Metadata naming another sitting or role.
        for fields in ({"sitting_id": other.sitting_id}, {"role": "aux"}):
            refused = await tus.create(me.main, **fields)
            assert refused.status_code == 403 and refused.json()["error"]["code"] == "recording_not_yours"
        # The other candidate missed the waiting room: absent, no recording.
        absent = await tus.create(other.main)
        assert absent.status_code == 403 and absent.json()["error"]["code"] == "sitting_absent"
        assert await upload_count(api) == 0

        url = (await tus.create(me.main, role="main", sitting_id=me.sitting_id)).headers["Location"]
        # Another candidate's phone does not see it.
        assert (await tus.head(other.main, url)).status_code == 404
        assert (await tus.patch(other.main, url, 0, b"x")).status_code == 404
        # A finished recording cannot be deleted; an unfinished one may be abandoned by its phone only.
        assert (await api.request("DELETE", url, other.aux, headers=TUS)).status_code == 404

        # After the deadline: no creation, no write.
        await move(api, DEADLINE, main, aux)
        late = await tus.create(me.aux)
        assert late.status_code == 410 and late.json()["error"]["code"] == "upload_deadline_passed"
        assert (await tus.patch(me.main, url, 0, b"late")).status_code == 410
        assert await upload_count(api) == 1


async def test_at_the_deadline_a_missing_recording_makes_the_sitting_incomplete_and_the_partial_upload_expires(api: Api) -> None:
    async with answering(api) as a:
        seat = a.s.seat
        await a.at(ENDS)
        await a.tus.send(seat.main, MAIN_VIDEO)
        url = (await a.tus.create(seat.aux)).headers["Location"]
        assert (await a.tus.patch(seat.aux, url, 0, AUX_VIDEO[:700])).status_code == 204
        assert (await a.sitting())["state"] == "recorded"
        await a.at(DEADLINE)
        assert (await a.sitting())["state"] == "incomplete"
        head = await a.tus.head(seat.aux, url)
        assert head.status_code == 410
        assert {r["role"]: r["status"] for r in (await a.recordings()).values()} == {"main": "verified", "aux": "receiving"}


async def test_a_recording_that_does_not_parse_fails_and_may_be_sent_again(api: Api) -> None:
    async with answering(api) as a:
        seat = a.s.seat
        await a.at(ENDS)
        broken = b"this is not a video " * 50
        first_url = await a.tus.send(seat.main, broken)
        (mine,) = [r for r in (await a.sitting())["recordings"] if r["role"] == "main"]
        assert mine["status"] == "failed" and mine["failure_reason"] == "not a media file: Invalid data found when processing input"
        # The phone sends it again: a new upload, the failed one stays as evidence.
        second = await a.tus.create(seat.main)
        assert second.status_code == 201 and second.headers["Location"] != first_url
        assert second.headers["Upload-Offset"] == "0"
        await a.tus.send(seat.main, MAIN_VIDEO, url=second.headers["Location"])
        recordings = await a.recordings()
        assert recordings["main"]["status"] == "verified" and recordings["main"]["attempts"] == 2
        assert (await a.tus.head(seat.main, first_url)).status_code == 200  # kept, untouched
        assert await upload_count(api) == 2


async def test_uploaded_even_when_both_phones_stop_a_moment_before_the_servers_answer_end(api: Api) -> None:
    async with answering(api) as a:
        seat = a.s.seat
        await a.at(ENDS - timedelta(seconds=1))
        await a.tus.send(seat.main, MAIN_VIDEO)
        await a.tus.send(seat.aux, AUX_VIDEO)
        sitting = await a.sitting()
        assert sitting["state"] == "uploaded"


async def test_reviewers_watch_through_short_lived_signed_links(api: Api) -> None:
    async with answering(api) as a:
        seat = a.s.seat
        await a.at(ENDS)
        await a.tus.send(seat.main, MAIN_VIDEO)
        reviewer = await api.reviewer(a.s.ops, a.s.exam["id"], username="reviewer1")
        recordings = await a.recordings(reviewer)
        assert recordings["aux"]["url"] is None  # nothing to watch yet
        assert recordings["main"]["url"].startswith(f"/api/v1/recordings/{recordings['main']['id']}/content?")
        link = recordings["main"]["original_url"]  # the untouched bytes (tests/api/test_playback.py: the copy)
        assert link.startswith(f"/api/v1/recordings/{recordings['main']['id']}/original?")

        whole = await api.client.get(link)
        assert whole.status_code == 200 and whole.content == MAIN_VIDEO
        assert whole.headers["content-type"] == "video/webm" and whole.headers["accept-ranges"] == "bytes"
        part = await api.client.get(link, headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == MAIN_VIDEO[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{len(MAIN_VIDEO)}"
        tail = await api.client.get(link, headers={"Range": "bytes=-10"})
        assert tail.status_code == 206 and tail.content == MAIN_VIDEO[-10:]
        beyond = await api.client.get(link, headers={"Range": f"bytes={len(MAIN_VIDEO)}-"})
        assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{len(MAIN_VIDEO)}"

        forged = link.replace("signature=", "signature=0")
        refused = await api.client.get(forged)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "recording_link_invalid"
        other_id = link.replace(recordings["main"]["id"], "00000000-0000-0000-0000-000000000000")
        assert (await api.client.get(other_id)).json()["error"]["code"] == "recording_link_invalid"

        api.clock.set(api.clock.now() + timedelta(seconds=api.app.state.settings.recording_link_seconds))
        expired = await api.client.get(link)
        assert expired.status_code == 403 and expired.json()["error"]["code"] == "recording_link_expired"

        # Phones and candidates get no links.
        assert (await api.request("GET", f"/api/v1/ops/sittings/{seat.sitting_id}/recordings", seat.main)).status_code == 403
        assert (await api.request("GET", f"/api/v1/ops/sittings/{seat.sitting_id}/recordings", seat.candidate)).status_code == 403
        missing = await api.request("GET", "/api/v1/ops/sittings/00000000-0000-0000-0000-000000000000/recordings", a.s.ops)
        assert missing.status_code == 404
        # A reviewer of another exam is handed no link (the sitting is not found for it), and nothing is audited.
        elsewhere = await api.reviewer(a.s.ops, (await api.exam(a.s.ops, title="另一场"))["id"])
        links_before = len(await api.ok("GET", "/api/v1/ops/audit", a.s.ops, params={"action": "recording.link"}))
        hidden = await api.request("GET", f"/api/v1/ops/sittings/{seat.sitting_id}/recordings", elsewhere)
        assert (hidden.status_code, hidden.json()["error"]["code"]) == (404, "sitting_not_found")
        assert len(await api.ok("GET", "/api/v1/ops/audit", a.s.ops, params={"action": "recording.link"})) == links_before


async def test_checksum_mismatch_discards_the_chunk_and_keeps_the_offset(api: Api) -> None:
    async with answering(api) as a:
        seat = a.s.seat
        url = (await a.tus.create(seat.main)).headers["Location"]
        headers = {**TUS, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0",
                   "Upload-Checksum": "sha256 " + base64.b64encode(hashlib.sha256(b"other").digest()).decode()}
        answer = await api.request("PATCH", url, seat.main, headers=headers, content=MAIN_VIDEO[:100])
        assert answer.status_code == 460
        assert (await a.tus.head(seat.main, url)).headers["Upload-Offset"] == "0"
        await alive(a.main, a.aux)


async def test_both_phones_finishing_at_the_same_moment_still_make_the_sitting_uploaded(api: Api) -> None:
    """The two last PATCHes race, and so do their verifications (each settles its recording and looks at the other
    one's): one of them sees both."""
    async with answering(api) as a:
        seat = a.s.seat
        await a.at(ENDS)
        urls = {}
        for token, data in ((seat.main, MAIN_VIDEO), (seat.aux, AUX_VIDEO)):
            urls[token] = (await a.tus.create(token)).headers["Location"]
            assert (await a.tus.patch(token, urls[token], 0, data[:-10])).status_code == 204
        finals = await asyncio.gather(
            *(a.tus.patch(token, urls[token], len(data) - 10, data[-10:], length=len(data)) for token, data in ((seat.main, MAIN_VIDEO), (seat.aux, AUX_VIDEO)))
        )
        assert [r.status_code for r in finals] == [204, 204]
        assert (await api.settled(seat.main))["state"] == "uploaded"
