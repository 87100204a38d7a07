"""Reliability with real processes (`uvicorn --factory tests.uploads.serve:create`).

1. Crash: a resuming client (HEAD, then PATCH with `Upload-Checksum: sha256`) uploads 24–40 MiB of seeded random
   bytes while the server is SIGKILLed at seeded random moments — some from inside the request body (part of the
   body sent and read, the rest never comes), some by a timer that lands wherever the server happens to be (a
   HEAD, the start of a PATCH, mid-body, between the body and the answer: fsync, S3 parts, the commit, the
   finish), some right after an acknowledgement — and restarted on the same database and store. Every offset the
   server acknowledged is recorded; no HEAD may ever show less (checked after every restart, and at every HEAD).
   At the end the stored object (the file, or the object read back from S3) is byte-identical to the source, the
   database recorded its sha256, and no lock is left. Local files on SQLite (the restarted process releases its
   predecessor's locks; on PostgreSQL in the suite's PostgreSQL pass), and S3 on PostgreSQL (a replica may not
   release locks at start: the dead process's lease has to run out, 2 s here).
2. Two server processes on one PostgreSQL database and one S3 bucket: PATCHes alternate A, B, A, B… in chunks
   above and below the 5 MiB part size (S3 parts and staged leftovers, read back by the other process), a stale
   offset answered 409 by the other process, and a PATCH stalled on one process taken over by a PATCH on the other
   (the first stops reading, keeps what it received and lets go). HEAD on both processes agrees at every step; the object read back from S3 is
   byte-identical and nothing else is left in the bucket.

The seed is fixed (UPLOADS_CRASH_SEED overrides it, to explore); a failure message names it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from app.uploads.models import UploadRow
from tests.support.seaweed import Seaweed
from tests.uploads.flows import MOUNT, OCTET, TUS, checksum, create_bucket
from tests.uploads.processes import AUTH, UploadServer, killed_at_exit

pytestmark = pytest.mark.slow
MiB = 1024 * 1024
KiB = 1024
PG_MODE = bool(os.environ.get("DUALCAM_TEST_DATABASE_URL"))
SEED = int(os.environ.get("UPLOADS_CRASH_SEED", "20260601"))
# The kills armed per run, by how they strike (see upload_through_kills); at least MIN_KILLS must land.
KILLS = {"body": 9, "sent": 5, "timer": 6, "ack": 4}
MIN_KILLS = 20
LEASE_S = 2.0  # on PostgreSQL a killed process's lock blocks its upload this long


# --- looking at the results from outside the servers -----------------------------------------------------------


def upload_row(db_url: str, upload_id: str) -> dict[str, Any]:
    async def read() -> dict[str, Any]:
        engine = create_async_engine(db_url)
        try:
            async with engine.connect() as conn:
                row = (await conn.execute(select(UploadRow.__table__).where(UploadRow.id == upload_id))).mappings().one()
                return dict(row)
        finally:
            await engine.dispose()

    return asyncio.run(read())


class RowWatch:
    """The upload's row straight from the database, from the client's side (one event loop, one engine)."""

    def __init__(self, db_url: str, upload_id: str) -> None:
        self.upload_id = upload_id
        self.loop = asyncio.new_event_loop()
        self.engine = create_async_engine(db_url)

    def read(self) -> dict[str, Any]:
        async def read() -> dict[str, Any]:
            query = select(UploadRow.upload_offset, UploadRow.finished_at).where(UploadRow.id == self.upload_id)
            async with self.engine.connect() as conn:
                return dict((await conn.execute(query)).mappings().one())

        return self.loop.run_until_complete(read())

    def close(self) -> None:
        self.loop.run_until_complete(self.engine.dispose())
        self.loop.close()


async def _with_s3(seaweed: Seaweed, work: Callable[[Any], Any]) -> Any:
    from app.adapters.s3 import _botocore_session

    async with _botocore_session().create_client(
        "s3",
        endpoint_url=seaweed.endpoint,
        region_name=seaweed.region,
        aws_access_key_id=seaweed.access_key,
        aws_secret_access_key=seaweed.secret_key,
    ) as client:
        return await work(client)


def new_bucket(seaweed: Seaweed) -> str:
    name = f"t-{uuid.uuid4().hex[:16]}"
    asyncio.run(create_bucket(seaweed, name))
    return name


@dataclass
class BucketView:
    data: bytes  # the upload's object
    keys: list[str]  # every object in the bucket
    multipart_uploads: list[str]  # keys with a multipart upload still open


def read_bucket(seaweed: Seaweed, bucket: str, key: str) -> BucketView:
    async def work(client: Any) -> BucketView:
        response = await client.get_object(Bucket=bucket, Key=key)
        async with response["Body"] as body:
            data = bytes(await body.read())
        keys: list[str] = []
        async for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys += [item["Key"] for item in page.get("Contents", [])]
        listing = await client.list_multipart_uploads(Bucket=bucket)
        return BucketView(data=data, keys=sorted(keys), multipart_uploads=[u["Key"] for u in listing.get("Uploads", [])])

    view: BucketView = asyncio.run(_with_s3(seaweed, work))
    return view


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- the killer and the resuming client -------------------------------------------------------------------


class Killed(Exception):
    """The killer struck from inside this request's body."""


class Killer:
    """SIGKILLs the server: from the client's thread (inside a body, after an acknowledgement) or from a timer
    thread that lands wherever the server happens to be. Records the client's phase each kill hit."""

    def __init__(self, server: UploadServer) -> None:
        self.server = server
        self.phase = "idle"  # set by the client: head, patch, mid-body, response, idle
        self.kills: list[str] = []
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    def kill(self, how: str) -> bool:
        with self._lock:
            phase = self.phase
            if not self.server.kill():
                return False
            self.kills.append(f"{how}@{phase}")
            return True

    def arm(self, delay: float) -> None:
        self._timer = threading.Timer(delay, self.kill, args=("timer",))
        self._timer.daemon = True
        self._timer.start()

    @property
    def armed(self) -> bool:
        return self._timer is not None and self._timer.is_alive()

    def settle(self, *, cancel: bool = False) -> None:
        """Let a pending timer fire (or cancel it): only then may the client restart the server."""
        if self._timer is not None:
            if cancel:
                self._timer.cancel()
            self._timer.join()
            self._timer = None

    def count(self, kind: str) -> int:
        return sum(1 for k in self.kills if kind in k)


@dataclass
class Ledger:
    """What the client was told. The server may be ahead of it (a commit whose 204 was lost), never behind."""

    acked: list[int] = field(default_factory=list)
    heads_after_restart: list[tuple[int, int]] = field(default_factory=list)  # (acknowledged before, HEAD)
    heads: int = 0
    ends: set[int] = field(default_factory=lambda: {0})  # where the PATCHes sent so far would end

    def attempt(self, end: int) -> None:
        self.ends.add(end)

    @property
    def max_acked(self) -> int:
        return max(self.acked, default=0)

    def ack(self, offset: int) -> None:
        assert offset >= self.max_acked, f"a 204 went backwards: {offset} after {self.max_acked}"
        self.acked.append(offset)

    def head(self, offset: int, *, after_restart: bool) -> None:
        self.heads += 1
        assert offset >= self.max_acked, (
            f"HEAD says {offset} but {self.max_acked} was acknowledged "
            f"({'right after a restart' if after_restart else 'no restart in between'})"
        )
        # Every PATCH carries an Upload-Checksum: a chunk is kept whole or not at all, whatever the kill cut off.
        assert offset in self.ends, f"HEAD says {offset}: not the end of any PATCH sent (a torn chunk was kept)"
        if after_restart:
            self.heads_after_restart.append((self.max_acked, offset))


def body(piece: bytes, killer: Killer, kill_at: int | None, how: str, wait: Callable[[], str | None]) -> Iterator[bytes]:
    """The PATCH body in 64 KiB pieces; with `kill_at`, the server is killed once that many bytes went out and
    `wait()` returned (a pause so that the server has read them, or a look at the database; it may name the phase)
    and the rest never comes. `kill_at == len(piece)`: killed while it writes, commits, finishes or answers."""
    step = 64 * KiB
    sent = 0
    while sent < len(piece):
        end = min(sent + step, len(piece))
        if kill_at is not None and end >= kill_at:
            yield piece[sent:kill_at]
            killer.phase = "mid-body" if kill_at < len(piece) else "response"
            killer.phase = wait() or killer.phase
            killer.kill(how)
            raise Killed
        yield piece[sent:end]
        sent = end
        killer.phase = "mid-body"
    killer.phase = "response"


@dataclass
class Outcome:
    upload_id: str
    ledger: Ledger
    restarts: int
    patches: int
    finish_retried: bool  # the last PATCH's 204 never came: an empty PATCH ran the finish (again)
    seconds: float


def upload_through_kills(
    server: UploadServer,
    data: bytes,
    rng: random.Random,
    chunk: Callable[[], int],
    *,
    kills: dict[str, int],
    budget_s: float,
) -> tuple[Outcome, Killer]:
    """Upload `data` with a HEAD + PATCH loop while kills are armed at random byte positions; restart the
    server after each (same database and store, new port) and resume from HEAD. One more kill is aimed at the
    finish: the last PATCH's commit is watched for in the database and the server killed as soon as it shows."""
    started = time.monotonic()
    size = len(data)
    killer = Killer(server)
    ledger = Ledger()
    # Each kill is armed on the PATCH whose range covers its byte position (re-armed if it did not strike).
    modes = [mode for mode, count in kills.items() for _ in range(count)]
    rng.shuffle(modes)
    positions = list(zip(sorted(rng.randrange(size) for _ in modes), modes, strict=True))
    restarts = patches = unexplained = 0
    just_restarted = finished_acked = finish_retried = finish_struck = False
    patch_s = 0.2  # running mean of a PATCH's time: a timer lands within one

    with httpx.Client(headers={**TUS, **AUTH}, timeout=20) as client, contextlib.ExitStack() as cleanup:
        created = client.post(f"{server.url}{MOUNT}/", headers={"Upload-Length": str(size)})
        assert created.status_code == 201, created.text
        upload_id = created.headers["location"].rsplit("/", 1)[1]
        watch = RowWatch(server.env["UPLOADS_TEST_DB"], upload_id)
        cleanup.callback(watch.close)

        def committed_all() -> str:
            """Wait until the last byte is committed; the phase the kill then hits."""
            deadline = time.monotonic() + 10
            while (row := watch.read())["upload_offset"] < size and time.monotonic() < deadline:
                time.sleep(0.002)
            return "finishing" if row["upload_offset"] == size and row["finished_at"] is None else "response"

        def recover() -> None:
            nonlocal restarts, unexplained, just_restarted
            killer.settle()
            if server.running:
                unexplained += 1  # a transport error without a kill: allow a hiccup, not a habit
                assert unexplained <= 3, f"transport errors with the server alive:\n{server.log()}"
                return
            server.start()
            restarts += 1
            just_restarted = True

        while True:
            assert time.monotonic() - started < budget_s, (
                f"seed {SEED}: not done in {budget_s} s: {ledger.max_acked}/{size} acknowledged, "
                f"{len(killer.kills)} kills, {restarts} restarts\n{server.log()}"
            )
            killer.phase = "head"
            try:
                head = client.head(f"{server.url}{MOUNT}/{upload_id}")
            except httpx.TransportError:
                recover()
                continue
            killer.phase = "idle"
            assert head.status_code == 200, f"HEAD {head.status_code}\n{server.log()}"
            offset = int(head.headers["upload-offset"])
            ledger.head(offset, after_restart=just_restarted)
            just_restarted = False
            assert offset <= size
            if offset == size and finished_acked:
                if killer.armed:  # a timer from the last PATCH: let it strike, then restart and look again
                    killer.settle()
                    recover()
                    continue
                if not positions:
                    break
                positions.pop(0)  # kills left over (rare): strike the finished upload's server
                killer.kill("late")
                recover()
                continue
            # At the end (a kill between the last commit and the finish) an empty PATCH runs the finish again.
            end = min(size, offset + chunk())
            mode: str | None = None
            planned = (0, "")
            if positions and positions[0][0] < max(end, offset + 1):
                if killer.armed:  # the last timer has not struck yet: let it (between requests) before the next
                    killer.settle()
                    recover()
                    continue
                planned = positions.pop(0)
                mode = planned[1]
            if positions and end == size and offset < size - 1:
                end = size - 1  # more kills to place: not the last PATCH yet
            piece = data[offset:end]
            finish_retried |= not piece
            if end == size and piece and not finish_struck:
                if mode is not None:
                    positions.insert(0, planned)  # the finish's kill first
                mode = "finish"
                finish_struck = True
            if (mode == "body" and len(piece) < 2) or (mode == "sent" and not piece):
                mode = "timer"
            kill_at = rng.randrange(1, len(piece)) if mode == "body" else len(piece) if mode in ("sent", "finish") else None
            pause = rng.uniform(0.02, 0.1) if mode == "body" else rng.uniform(0, 0.6 * patch_s)
            if mode == "timer":
                killer.arm(rng.uniform(0, patch_s))
            headers = {**OCTET, "Upload-Offset": str(offset), "Content-Length": str(len(piece))}
            if piece:
                headers["Upload-Checksum"] = checksum("sha256", piece)
            struck = len(killer.kills)
            ledger.attempt(end)
            began = time.monotonic()
            killer.phase = "patch"
            patches += 1
            try:
                response = client.patch(
                    f"{server.url}{MOUNT}/{upload_id}",
                    content=body(
                        piece, killer, kill_at, mode or "", committed_all if mode == "finish" else lambda: time.sleep(pause)
                    ),
                    headers=headers,
                )
            except (httpx.TransportError, Killed):
                if mode == "finish" and len(killer.kills) == struck:
                    finish_struck = False
                if mode in ("body", "sent") and len(killer.kills) == struck:
                    positions.insert(0, planned)
                recover()
                continue
            killer.phase = "idle"
            if response.status_code in (409, 423):  # the lock of a dead process, or a commit whose 204 was lost
                if mode in ("body", "sent", "ack"):
                    positions.insert(0, planned)
                continue
            assert response.status_code == 204, f"PATCH {response.status_code} {response.text}\n{server.log()}"
            acked = int(response.headers["upload-offset"])
            assert acked == offset + len(piece), (acked, offset, len(piece))
            ledger.ack(acked)
            finished_acked = acked == size
            patch_s = 0.8 * patch_s + 0.2 * (time.monotonic() - began)
            if mode in ("body", "sent"):
                positions.insert(0, planned)  # answered before the kill point was sent (should not happen: re-arm)
            elif mode == "finish":
                finish_struck = False
            elif mode == "ack" and killer.kill("ack"):
                recover()
    outcome = Outcome(
        upload_id=upload_id,
        ledger=ledger,
        restarts=restarts,
        patches=patches,
        finish_retried=finish_retried,
        seconds=time.monotonic() - started,
    )
    return outcome, killer


def await_finish(server: UploadServer, upload_id: str, size: int, db_url: str, budget_s: float = 60) -> None:
    """On S3 the finish runs after the last PATCH's answer, and a kill may cut it short: ask again with an empty
    PATCH (what a tus client does) until the upload is finished."""
    deadline = time.monotonic() + budget_s
    with httpx.Client(headers={**TUS, **AUTH}, timeout=20) as client:
        while upload_row(db_url, upload_id)["finished_at"] is None:
            assert time.monotonic() < deadline, f"not finished in {budget_s} s\n{server.log()}"
            with contextlib.suppress(httpx.TransportError):
                client.patch(f"{server.url}{MOUNT}/{upload_id}", content=b"", headers={**OCTET, "Upload-Offset": str(size)})
            time.sleep(0.5)


def check_outcome(outcome: Outcome, killer: Killer, data: bytes, row: dict[str, Any]) -> str:
    """The invariants every crash run must keep; a one-line summary for the report."""
    assert len(killer.kills) >= MIN_KILLS, f"seed {SEED}: only {len(killer.kills)} kills landed: {killer.kills}"
    assert killer.count("@mid-body") >= 5, f"seed {SEED}: too few kills mid-body: {killer.kills}"
    assert len(outcome.ledger.heads_after_restart) == outcome.restarts
    assert row["upload_offset"] == len(data) and row["upload_length"] == len(data)
    assert row["finished_at"] is not None
    assert row["sha256"] == sha(data)
    assert row["lock_token"] is None, "a lock is left on the finished upload"
    lag = [head - acked for acked, head in outcome.ledger.heads_after_restart]
    return (
        f"seed {SEED}: {len(data)} bytes, {outcome.patches} PATCHes ({len(outcome.ledger.acked)} acknowledged), "
        f"{len(killer.kills)} kills ({killer.count('@mid-body')} mid-body, {killer.count('@response')} awaiting the "
        f"answer, {killer.count('@finishing')} between the last commit and the finish, {killer.count('@head')} in a HEAD, {killer.count('@patch')} at a PATCH's start, "
        f"{killer.count('@idle')} between requests), {outcome.restarts} restarts, server ahead of its last 204 "
        f"after {sum(1 for x in lag if x)} restarts, finish re-run: {outcome.finish_retried}, {outcome.seconds:.1f} s"
    )


# --- 1. crash -------------------------------------------------------------------------------------------


def test_kill_9_at_random_moments_local_files(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """On SQLite; in the suite's PostgreSQL pass on PostgreSQL, where the dead process's lease has to run out."""
    rng = random.Random(SEED)
    data = rng.randbytes(rng.randint(24 * MiB, 40 * MiB))
    if PG_MODE:
        server = UploadServer(
            tmp_path, db_url=request.getfixturevalue("own_pg_uploads_url"), env={"UPLOADS_TEST_LEASE_S": str(LEASE_S)}
        )
    else:
        server = UploadServer(tmp_path)
    with killed_at_exit(server):
        server.start()
        outcome, killer = upload_through_kills(
            server, data, rng, lambda: rng.randint(256 * KiB, 3 * MiB), kills=KILLS, budget_s=150
        )
    stored = server.stored(outcome.upload_id)
    assert len(stored) == len(data) and sha(stored) == sha(data)
    summary = check_outcome(outcome, killer, data, upload_row(server.env["UPLOADS_TEST_DB"], outcome.upload_id))
    print(summary)


def test_kill_9_at_random_moments_s3_on_postgres(tmp_path: Path, seaweed: Seaweed, own_pg_uploads_url: str) -> None:
    rng = random.Random(SEED + 1)
    data = rng.randbytes(rng.randint(24 * MiB, 40 * MiB))
    bucket = new_bucket(seaweed)
    server = UploadServer(
        tmp_path, db_url=own_pg_uploads_url, store_url=seaweed.url(bucket), env={"UPLOADS_TEST_LEASE_S": str(LEASE_S)}
    )

    def chunk() -> int:  # whole parts and more, and leftovers to stage
        return rng.randint(5 * MiB, 8 * MiB) if rng.random() < 0.4 else rng.randint(64 * KiB, 2 * MiB)

    with killed_at_exit(server):
        server.start()
        outcome, killer = upload_through_kills(server, data, rng, chunk, kills=KILLS, budget_s=200)
        await_finish(server, outcome.upload_id, len(data), own_pg_uploads_url)
    view = read_bucket(seaweed, bucket, f"uploads/{outcome.upload_id}")
    assert len(view.data) == len(data) and sha(view.data) == sha(data)
    summary = check_outcome(outcome, killer, data, upload_row(own_pg_uploads_url, outcome.upload_id))
    # Killed writes leave staged objects and multipart uploads no commit refers to (the bucket's lifecycle rule
    # sweeps them; see docs/uploads.md): report them, the finished upload's own are gone.
    print(f"{summary}; orphans: {len(view.keys) - 1} objects, {len(view.multipart_uploads)} multipart uploads")


# --- 2. two processes, one PostgreSQL database, one bucket ---------------------------------------------------

# Around the 5 MiB part: leftovers staged by one process are read back by the other when a part fills.
CHUNKS: list[int | str] = [
    1 * MiB,
    300 * KiB + 7,
    6 * MiB,
    5 * MiB,
    64 * KiB,
    12 * MiB + 5,
    1,
    5 * MiB,
    3 * MiB,
    "stall",  # a PATCH on one process that stalls mid-body, taken over by the other
    2 * MiB + 1,
    7 * MiB + 1234,  # the last: the staged rest becomes the last, small part
]
STALL_SENT = 2 * MiB + 100 * KiB  # what the stalled PATCH gets out before it goes quiet


def test_two_processes_alternate_patches_on_postgres_and_s3(tmp_path: Path, seaweed: Seaweed, own_pg_uploads_url: str) -> None:
    rng = random.Random(SEED + 2)
    sizes = [STALL_SENT if c == "stall" else c for c in CHUNKS]
    data = rng.randbytes(sum(int(s) for s in sizes))
    bucket = new_bucket(seaweed)
    a, b = (
        UploadServer(tmp_path, db_url=own_pg_uploads_url, store_url=seaweed.url(bucket), name=name) for name in "ab"
    )
    started = time.monotonic()
    with killed_at_exit(a, b), httpx.Client(headers={**TUS, **AUTH}, timeout=30) as client:
        a.start()
        b.start()

        def heads_agree() -> int:
            offsets = {server.name: server.offset(upload_id) for server in (a, b)}
            assert offsets["a"] == offsets["b"], offsets
            return offsets["a"]

        def patch(server: UploadServer, offset: int, piece: bytes) -> httpx.Response:
            headers = {**OCTET, "Upload-Offset": str(offset), "Upload-Checksum": checksum("sha256", piece)}
            return client.patch(f"{server.url}{MOUNT}/{upload_id}", content=piece, headers=headers)

        created = client.post(f"{a.url}{MOUNT}/", headers={"Upload-Length": str(len(data))})
        assert created.status_code == 201, created.text
        upload_id = created.headers["location"].rsplit("/", 1)[1]
        offset = heads_agree()
        assert offset == 0
        for step, size in enumerate(CHUNKS):
            here, there = (a, b) if step % 2 == 0 else (b, a)
            if size == "stall":
                offset = stalled_patch_taken_over(client, here, there, upload_id, offset, data)
                assert heads_agree() == offset
                continue
            assert isinstance(size, int)
            piece = data[offset : offset + size]
            response = patch(here, offset, piece)
            assert response.status_code == 204, (here.name, step, response.status_code, response.text, here.log())
            offset += size
            assert int(response.headers["upload-offset"]) == offset
            assert heads_agree() == offset
            if step == 4:  # the other process refuses a stale offset, and nothing changes
                stale = patch(there, offset - size, piece)
                assert stale.status_code == 409, (stale.status_code, stale.text)
                assert heads_agree() == offset
        assert offset == len(data)
        await_finish(here, upload_id, len(data), own_pg_uploads_url)  # on S3 the last PATCH is assembled after its answer
        view = read_bucket(seaweed, bucket, f"uploads/{upload_id}")
        row = upload_row(own_pg_uploads_url, upload_id)
    assert view.data == data
    assert row["sha256"] == sha(data) and row["finished_at"] is not None and row["lock_token"] is None
    assert view.keys == [f"uploads/{upload_id}"], "staged objects left behind"
    assert view.multipart_uploads == []
    print(
        f"seed {SEED + 2}: {len(data)} bytes in {len(CHUNKS)} PATCHes alternating between 2 processes, "
        f"{time.monotonic() - started:.1f} s"
    )


def stalled_patch_taken_over(
    client: httpx.Client, here: UploadServer, there: UploadServer, upload_id: str, offset: int, data: bytes
) -> int:
    """A PATCH (no checksum) on `here` sends STALL_SENT bytes and goes quiet; a PATCH on `there` at the same offset
    asks for the lock through the database; `here` sees that at its next heartbeat, stops reading, commits what it
    received and lets go; `there` then answers 409 (the offset moved). Returns the new offset."""
    rest = data[offset:]
    went_quiet = threading.Event()
    release = threading.Event()

    def stalling() -> Iterator[bytes]:
        yield rest[:STALL_SENT]
        went_quiet.set()
        release.wait(30)
        raise Killed  # the client gives up on this request

    def send() -> None:  # its own client: this runs in another thread
        with httpx.Client(headers={**TUS, **AUTH}, timeout=30) as own, contextlib.suppress(httpx.TransportError, Killed):
            own.patch(
                f"{here.url}{MOUNT}/{upload_id}",
                content=stalling(),
                headers={**OCTET, "Upload-Offset": str(offset), "Content-Length": str(len(rest))},
            )

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        assert went_quiet.wait(10)
        time.sleep(0.5)  # `here` has read what was sent
        newcomer = client.patch(
            f"{there.url}{MOUNT}/{upload_id}",
            content=rest[:MiB],
            headers={**OCTET, "Upload-Offset": str(offset), "Upload-Checksum": checksum("sha256", rest[:MiB])},
        )
        assert newcomer.status_code == 409, (newcomer.status_code, newcomer.text, here.log(), there.log())
    finally:
        release.set()
        sender.join(30)
    assert there.offset(upload_id) == offset + STALL_SENT, "the stalled PATCH's bytes were not kept"
    return offset + STALL_SENT
