"""`dualcam`: serve, migrate, demo, and the ops operations of the API (exams, sessions, roster, status).

One module past 300 lines: the whole command tree in one place, each command a thin call into a service."""

from __future__ import annotations

import asyncio
import sys
import uuid
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.adapters.factory import open_object_store
from app.adapters.storage import ObjectStore
from app.clock import SystemClock
from app.config import DEFAULT_TIMEZONE, Settings
from app.db import make_sessionmaker, transaction
from app.face.cli import face_app, models_app
from app.flags.cli import analyze_command
from app.models import SessionKind, StaffRole
from app.services import demo as demo_service
from app.services import exports
from app.services.exam import assignments, exams, photo_archive, roster, sessions
from app.services.recordings import progress
from app.services.sitting import sittings
from app.services.auth import create_staff
from app.services.images import MAX_IMAGE_BYTES
from app.cli_grading import grading_cli, results_cli
from app.cli_common import CLI_ACTOR, emit, fail, migrated_engine, load_settings, parse_input, parse_when, run_work, uuid_arg
from app.cli_output import progress_bar, show

cli = typer.Typer(help="dualcam: proctored exams on two phones", no_args_is_help=True, pretty_exceptions_enable=False)
exam_cli = typer.Typer(help="Exams and notices", no_args_is_help=True)
session_cli = typer.Typer(help="Sessions, questions and live status", no_args_is_help=True)
roster_cli = typer.Typer(help="Roster import", no_args_is_help=True)
staff_cli = typer.Typer(help="Ops, reviewer and grader accounts, and the exams a reviewer may read", no_args_is_help=True)
flags_cli = typer.Typer(help="Flags: the analysis of the recordings", no_args_is_help=True)
cli.add_typer(exam_cli, name="exam")
cli.add_typer(session_cli, name="session")
cli.add_typer(roster_cli, name="roster")
cli.add_typer(staff_cli, name="staff")
cli.add_typer(flags_cli, name="flags")
cli.add_typer(models_app, name="models")
cli.add_typer(face_app, name="face")
cli.add_typer(grading_cli, name="grading")
cli.add_typer(results_cli, name="results")
# `flags analyze` reads one file (app.flags.cli); the jobs' commands (`run`, `status`) are below.
flags_cli.command("analyze")(analyze_command)

# --- server ------------------------------------------------------------------------------------------


@cli.command()
def migrate() -> None:
    """Bring the database schema up to date (alembic upgrade head)."""
    from alembic import command
    from alembic.config import Config

    settings = load_settings()
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    config = Config(str(Path(__file__).resolve().parent.parent / "alembic.ini"))
    config.attributes["database_url"] = settings.resolved_database_url
    command.upgrade(config, "head")
    typer.echo("migrated")


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="default: DUALCAM_HOST or 127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="default: DUALCAM_PORT or 8000")] = None,
) -> None:
    """Serve the API and the phone apps."""
    import gc

    import uvicorn

    from app.http_limits import http_protocol
    from app.logs import configure_logging
    from app.main import create_app

    settings = load_settings(keyed=True)  # a missing or weak production key: one line now, not a failed lifespan

    async def check() -> None:
        await (await migrated_engine(settings.resolved_database_url)).dispose()

    try:
        asyncio.run(check())
    except errors.DualcamError as exc:
        fail(exc)
    configure_logging(json_lines=settings.log_json)
    app = create_app(settings)

    # Full garbage collections scan every tracked object: with 10,000 sockets (~2 million objects) each took 1-2 s
    # here, often right in a push to all phones. What survives one is long-lived (sockets, caches, modules): freeze
    # it, so later full collections scan only what came since (pauses of tens of ms). The price: a reference cycle
    # that includes a frozen object is never collected. Socket objects leave none (measured: a phone that leaves is
    # freed by reference counting), so this holds memory flat over connects and disconnects (docs/realtime.md).
    def freeze_survivors(phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info["generation"] == 2:
            gc.freeze()

    gc.freeze()
    gc.callbacks.append(freeze_survivors)
    config = uvicorn.Config(
        app,
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,
        access_log=False,  # ours is app.api.access_log (never the query string)
        http=http_protocol(max_head_bytes=settings.max_header_bytes),  # httptools with a cap on headers (431)
        # uvicorn's own INFO lines would log every socket's URL, device token included (`?token=`): warnings only.
        log_level="warning",
        ws="websockets-sansio",
        # Phone messages are a few hundred bytes: compression would cost ~35 KiB of zlib state per socket and CPU
        # on every push to 10,000 sockets (docs/realtime.md, Capacity). Frames over the app's limit are refused
        # by the protocol layer (close 1009) before they are buffered whole.
        ws_per_message_deflate=False,
        ws_max_size=settings.ws_max_message_bytes,
        # The app reads X-Forwarded-* from the proxies in forwarded_allow_ips itself (app.main): not twice.
        proxy_headers=False,
    )
    base = f"http://{config.host}:{config.port}"

    class Announcing(uvicorn.Server):  # one line once it listens: uvicorn's own lines are warnings only
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if self.started:
                typer.echo(f"dualcam 已启动 / listening on {base} — 主机位 main {base}/main/ · 辅机位 aux {base}/aux/ · API {base}/docs")

    server = Announcing(config)
    server.run()
    if not server.started:
        raise typer.Exit(3)  # uvicorn logged why (the port is taken, no permission)


@cli.command()
def demo(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    id_photo: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="the demo candidate's ID photo (JPEG/PNG)")] = None,
) -> None:
    """Seed a ready-to-try exam and print the URLs and credentials a tester needs."""
    photo = id_photo.read_bytes() if id_photo is not None else None
    seed = run_work(lambda db, store, s, now: demo_service.seed(db, store=store, secret_key=s.secret_key, timezone=s.timezone, now=now, id_photo=photo))
    base = load_settings().public_base_url.rstrip("/")
    out = {
        **asdict(seed),
        "urls": {"main_camera": f"{base}/main/", "aux_camera": f"{base}/aux/", "api_docs": f"{base}/docs", "health": f"{base}/healthz"},
    }
    if as_json:
        emit(out, True)
        return
    typer.echo(
        f"""dualcam 演示考试已创建 / demo exam created: {seed.exam_id}

  考务 Ops:        {seed.ops_username} / {seed.ops_password}   (POST {base}/api/v1/auth/staff/login)
  考生 Candidate:  {seed.candidate_name}  身份证号 ID {seed.candidate_id_number}  手机 {seed.candidate_phone}
                   登录码 access code: {seed.candidate_access_code}   (POST {base}/api/v1/auth/candidate/login)
  练习 Practice:   any time (session {seed.practice_session_id})
  模拟 Mock:       waiting opens {seed.mock_waiting_opens_at:%Y-%m-%d %H:%M:%S %z} (session {seed.mock_session_id})
  正式 Formal:     answer starts {seed.formal_answer_starts_at:%Y-%m-%d %H:%M %z} (session {seed.formal_session_id})

  主机位 Main camera:  {base}/main/
  辅机位 Aux camera:   {base}/aux/
  API docs:            {base}/docs"""
    )
    if photo is None:
        typer.echo(
            "\n  证件照 ID photo: none yet — the candidate uploads one on the main phone (实名认证), or run the demo with one:\n"
            "                   dualcam demo --id-photo PHOTO.jpg"
        )


# --- staff -------------------------------------------------------------------------------------------


@staff_cli.command("create")
def staff_create(
    username: str,
    role: Annotated[StaffRole, typer.Option()] = StaffRole.ops,
    display_name: Annotated[str | None, typer.Option()] = None,
    password: Annotated[str | None, typer.Option(help="default: generated and printed")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Create an ops or reviewer account."""
    import secrets

    # The password rule wants a letter and a digit; a token alone lacks a digit about one time in 15.
    chosen = password or f"Dc{secrets.randbelow(10)}{secrets.token_urlsafe(12)}"
    staff = run_work(
        lambda db, store, s, now: create_staff(
            db, username=username, display_name=display_name or username, role=role, password=chosen, now=now, actor=CLI_ACTOR
        )
    )
    emit({"id": str(staff.id), "username": staff.username, "role": staff.role.value, "password": chosen}, as_json)


@staff_cli.command("assign")
def staff_assign(username: str, exam_id: str) -> None:
    """Let a reviewer read an exam (ops read every exam); assigning again changes nothing."""
    exam = uuid_arg("exam_id", exam_id)

    async def work(db: AsyncSession, store: ObjectStore, s: Settings, now: datetime) -> Any:
        staff = await assignments.staff_by_username(db, username)
        return await assignments.assign(db, exam_id=exam, staff=staff, now=now, actor=CLI_ACTOR, assigned_by=None)

    done = run_work(work)
    typer.echo(f"{username} assigned to exam {exam} (since {done.assigned_at.isoformat()})")


@staff_cli.command("unassign")
def staff_unassign(username: str, exam_id: str) -> None:
    """Take an exam away from a reviewer."""
    exam = uuid_arg("exam_id", exam_id)

    async def work(db: AsyncSession, store: ObjectStore, s: Settings, now: datetime) -> None:
        staff = await assignments.staff_by_username(db, username)
        await assignments.unassign(db, exam_id=exam, staff=staff, now=now, actor=CLI_ACTOR)

    run_work(work)
    typer.echo(f"{username} unassigned from exam {exam}")


# --- exams -------------------------------------------------------------------------------------------


@exam_cli.command("create")
def exam_create(
    title: Annotated[str, typer.Option()],
    organizer: Annotated[str, typer.Option()],
    province: Annotated[str, typer.Option()],
    identity_category: Annotated[str, typer.Option()],
    confirm_opens_at: Annotated[str, typer.Option(help="ISO 8601")],
    confirm_closes_at: Annotated[str, typer.Option(help="ISO 8601")],
    timezone: Annotated[str | None, typer.Option(help=f"IANA timezone (default: DUALCAM_TIMEZONE, {DEFAULT_TIMEZONE})")] = None,
    support_phone: Annotated[str, typer.Option()] = "",
    support_hours: Annotated[str, typer.Option()] = "",
    rules_file: Annotated[Path | None, typer.Option(help="text file with the conduct rules")] = None,
    self_registration: Annotated[bool, typer.Option()] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create an exam."""
    from app.schemas.exams import ExamCreate

    body = parse_input(
        ExamCreate,
        title=title,
        organizer=organizer,
        province=province,
        identity_category=identity_category,
        timezone=timezone,
        confirm_opens_at=parse_when(confirm_opens_at),
        confirm_closes_at=parse_when(confirm_closes_at),
        support_phone=support_phone,
        support_hours=support_hours,
        rules_text=rules_file.read_text(encoding="utf-8") if rules_file else "",
        self_registration=self_registration,
    )
    exam = run_work(lambda db, store, s, now: exams.create_exam(db, fields=body.model_dump(), default_timezone=s.timezone, now=now, actor=CLI_ACTOR))
    emit({"id": str(exam.id), "title": exam.title}, as_json)


@exam_cli.command("list")
def exam_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List exams."""
    rows = run_work(lambda db, store, s, now: exams.list_exams(db))
    emit([{"id": str(e.id), "title": e.title, "province": e.province, "identity_category": e.identity_category} for e in rows], as_json)


@exam_cli.command("notice")
def exam_notice(
    exam_id: uuid.UUID,
    title: Annotated[str, typer.Option()],
    body: Annotated[str, typer.Option()],
    pinned: Annotated[bool, typer.Option()] = False,
) -> None:
    """Publish a notice."""

    async def work(db: AsyncSession, store: ObjectStore, s: Settings, now: datetime) -> Any:
        exam = await exams.get_exam(db, exam_id)
        return await exams.create_notice(db, exam=exam, title=title, body=body, pinned=pinned, now=now, actor=CLI_ACTOR)

    notice = run_work(work)
    emit({"id": str(notice.id)}, False)


# --- sessions ----------------------------------------------------------------------------------------


@session_cli.command("create")
def session_create(
    exam_id: uuid.UUID,
    kind: Annotated[SessionKind, typer.Option()],
    title: Annotated[str, typer.Option()],
    waiting_opens_at: Annotated[str | None, typer.Option(help="mock/formal, ISO 8601")] = None,
    answer_starts_at: Annotated[str | None, typer.Option()] = None,
    answer_ends_at: Annotated[str | None, typer.Option()] = None,
    upload_deadline: Annotated[str | None, typer.Option()] = None,
    waiting_seconds: Annotated[int | None, typer.Option(help="practice")] = None,
    answer_seconds: Annotated[int | None, typer.Option(help="practice")] = None,
    upload_seconds: Annotated[int | None, typer.Option(help="practice")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Add a session to an exam."""
    from app.schemas.sessions import SessionCreate

    parsed = parse_input(
        SessionCreate,
        kind=kind,
        title=title,
        waiting_opens_at=parse_when(waiting_opens_at) if waiting_opens_at else None,
        answer_starts_at=parse_when(answer_starts_at) if answer_starts_at else None,
        answer_ends_at=parse_when(answer_ends_at) if answer_ends_at else None,
        upload_deadline=parse_when(upload_deadline) if upload_deadline else None,
        waiting_seconds=waiting_seconds,
        answer_seconds=answer_seconds,
        upload_seconds=upload_seconds,
    )

    async def work(db: AsyncSession, store: ObjectStore, s: Settings, now: datetime) -> Any:
        exam = await exams.get_exam(db, exam_id)
        return await sessions.create_session(db, exam=exam, kind=kind, fields=parsed.model_dump(exclude={"kind"}), now=now, actor=CLI_ACTOR)

    session = run_work(work)
    emit({"id": str(session.id), "kind": session.kind.value, "title": session.title}, as_json)


@session_cli.command("question")
def session_question(
    session_id: uuid.UUID,
    text: Annotated[str, typer.Option()],
    image: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="a JPEG or PNG shown with the question (at most 10 MB)")] = None,
) -> None:
    """Add a question to a session, with an image if given (both or neither)."""

    async def work(db: AsyncSession, store: ObjectStore, s: Settings, now: datetime) -> Any:
        if image is not None and image.stat().st_size > MAX_IMAGE_BYTES:  # as the API's upload limit
            raise errors.PayloadTooLarge()
        session = await sessions.get_session(db, session_id)
        question = await sessions.add_question(db, session=session, text=text, now=now, actor=CLI_ACTOR)
        if image is not None:
            await sessions.set_question_image(db, session=session, question=question, data=image.read_bytes(), store=store, now=now, actor=CLI_ACTOR)
        return question

    question = run_work(work)
    emit({"id": str(question.id), "position": question.position, "has_image": question.image_key is not None}, False)


@session_cli.command("status")
def session_status(session_id: uuid.UUID, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Count the session's sittings per state, and its recordings per phone and status, now."""

    async def work(db: AsyncSession, store: ObjectStore, s: Settings, now: datetime) -> Any:
        session = await sessions.get_session(db, session_id)
        counts = await sittings.session_status(db, session=session, now=now)
        by_role = await progress.session_counts(db, session_id=session.id)
        return {
            "session_id": str(session.id),
            "now": now.isoformat(),
            "counts": {k.value: v for k, v in counts.items()},
            "recordings": {role.value: c for role, c in by_role.items()},
        }

    emit(run_work(work), as_json)


# --- roster ------------------------------------------------------------------------------------------


def _photos_from(path: Path | None) -> dict[str, bytes | None] | None:
    if path is None:
        return None
    if path.is_dir():
        return photo_archive.read_photo_folder(path)
    if path.stat().st_size > photo_archive.MAX_ARCHIVE_BYTES:  # as the API's upload limit
        raise errors.PayloadTooLarge()
    return photo_archive.read_photo_archive(path.read_bytes())


@roster_cli.command("import")
def roster_import(
    exam_id: uuid.UUID,
    roster_file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV (UTF-8 or GBK) or XLSX (ID numbers as text)")],
    photos: Annotated[Path | None, typer.Option(exists=True, help="folder or zip of the photos named in the roster")] = None,
    dry_run: Annotated[bool, typer.Option()] = False,
    codes_out: Annotated[Path | None, typer.Option(help="write name, phone, access code to this CSV")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Import a roster (all rows or none); prints each candidate's access code."""

    with progress_bar(enabled=not as_json) as steps:

        async def work(db: AsyncSession, store: ObjectStore, s: Settings, now: datetime) -> Any:
            exam = await exams.get_exam(db, exam_id)
            return await roster.import_roster(
                db, exam=exam, data=roster_file.read_bytes(), photos=_photos_from(photos), store=store, secret_key=s.secret_key,
                dry_run=dry_run, now=now, actor=CLI_ACTOR, steps=steps,
            )  # fmt: skip

        result = run_work(work)
    if codes_out is not None:
        # Access codes are credentials: the file is the owner's only (0600).
        rows = ([i.name, i.id_number_masked, i.phone, i.access_code] for i in result.imported)
        exports.write_csv(codes_out, ["姓名", "身份证号(掩码)", "手机号", "登录码"], rows, private=True)
    emit(asdict(result), as_json)


# --- flags -------------------------------------------------------------------------------------------


@flags_cli.command("run")
def flags_run(
    session: Annotated[uuid.UUID | None, typer.Option("--session", help="only this session's recordings")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Analyse the pending recordings in this process (workers as DUALCAM_FLAGS_WORKERS), then exit. Beside a
    running server this is safe: each job is claimed once."""
    from app.adapters.factory import open_hub, open_upload_store
    from app.services.face import engine as face_engine
    from app.services.flags.queue import queue_for
    from app.services.flags.runner import Runner
    from app.uploads import SqlUploadState
    from app.uploads.files import UploadFiles

    settings = load_settings(keyed=True)

    async def main() -> list[Any]:
        engine = await migrated_engine(settings.resolved_database_url)
        uploads, hub, faces = open_upload_store(settings.resolved_storage_url), open_hub(settings.redis_url), await face_engine.open_engine(settings)
        try:
            if faces is None:
                raise errors.FaceModelsMissing(details={"fix": f"dualcam models fetch --pack {settings.face_pack}"})
            sessionmaker = make_sessionmaker(engine)
            if session is not None:
                async with transaction(sessionmaker) as db:
                    await sessions.get_session(db, session)
            runner = Runner(
                sessionmaker=sessionmaker, hub=hub, clock=SystemClock(), queue=queue_for(is_sqlite=settings.is_sqlite),
                reader=UploadFiles(state=SqlUploadState(sessionmaker), store=uploads),
                faces=face_engine.Faces(faces, open_object_store(settings.resolved_storage_url), face_engine.FacePolicy.of(settings), face_engine.Throttle()),
                settings=settings, scratch_dir=settings.data_dir / "tmp" / "analysis",
            )  # fmt: skip
            try:
                return await runner.run_pending(session_id=session, steps=steps)
            finally:
                await runner.stop()
        finally:
            face_engine.close_engine(faces)
            await hub.close()
            await uploads.close()
            await engine.dispose()

    try:
        with progress_bar(enabled=not as_json) as steps:
            runs = asyncio.run(main())
    except errors.DualcamError as exc:
        fail(exc)
    counts = {status: sum(1 for r in runs if r.status == status) for status in ("done", "pending", "failed", "lost")}
    if as_json:
        emit({"session_id": session, "counts": counts, "jobs": [asdict(r) for r in runs]}, True)
        return
    show([{"job_id": r.job_id, "status": r.status, "attempts": r.attempts, "flags": r.flags, "reason": r.reason} for r in runs])
    show(counts)


@flags_cli.command("status")
def flags_status(
    session: Annotated[uuid.UUID | None, typer.Option("--session", help="only this session's jobs")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Analysis jobs by status, and the failed ones with their reasons."""
    from app.services.flags import jobs

    async def work(db: AsyncSession, store: ObjectStore, s: Settings, now: datetime) -> Any:
        if session is not None:
            await sessions.get_session(db, session)
        return await jobs.queue_status(db, session_id=session)

    found = run_work(work)
    if as_json:
        emit({"session_id": session, **asdict(found)}, True)
        return
    show(dict(found.counts))
    if found.failures:
        show([asdict(f) for f in found.failures])


def main() -> None:
    cli(prog_name="dualcam")


if __name__ == "__main__":
    sys.exit(main())
