"""`dualcam grading …` and `dualcam results …`: the rubric, graders and assignment of a session; its results shown,
published, reopened and exported. Each command is a thin call into app/services/grading and app/services/results."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.adapters.storage import ObjectStore
from app.cli_common import CLI_ACTOR, emit, fail, parse_input, run_work, uuid_arg
from app.cli_output import progress_bar, show
from app.config import Settings
from app.schemas.grading import GradingPlanIn
from app.services.exam.assignments import staff_by_username
from app.services.flags.triage import AuditPolicy
from app.services.grading import assignment, plan
from app.services.results import export, publication, table

grading_cli = typer.Typer(help="Blind grading: a session's rubric, its graders, and who scores which sitting", no_args_is_help=True)
rubric_cli = typer.Typer(help="A session's rubric", no_args_is_help=True)
grader_cli = typer.Typer(help="The graders of a session", no_args_is_help=True)
results_cli = typer.Typer(help="Results: show, publish, reopen, export", no_args_is_help=True)
grading_cli.add_typer(rubric_cli, name="rubric")
grading_cli.add_typer(grader_cli, name="grader")



def _plan_dict(found: plan.Plan, graders: list[plan.Grader]) -> dict[str, Any]:
    return {
        "session_id": str(found.session.id), "items": found.rubric.to_json() if found.rubric else [],
        "maximum": float(found.rubric.maximum) if found.rubric else None, "graders_per_sitting": found.graders_per_sitting,
        "tolerance": found.tolerance, "graders": [{"username": g.staff.username, "code": g.code} for g in graders],
    }  # fmt: skip


def _rubric_file(path: Path) -> dict[str, Any]:
    """The file's JSON: {"items": [...], "graders_per_sitting"?, "tolerance"?}, or the list of items alone."""
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        fail(errors.RubricInvalid(details={"reason": "unreadable_file", "file": str(path), "detail": str(exc)[:200]}))
    return loaded if isinstance(loaded, dict) else {"items": loaded}


@rubric_cli.command("set")
def rubric_set(
    session_id: str,
    file: Annotated[Path, typer.Argument(help="JSON: {\"items\": [{\"key\", \"label\", \"max_points\", \"step\", \"descriptors\"}], ...}")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Set a session's rubric (and graders per sitting, tolerance, when the file has them)."""
    session = uuid_arg("session_id", session_id)
    body = parse_input(GradingPlanIn, **_rubric_file(file))

    async def work(db: AsyncSession, store: ObjectStore, s: Settings, now: datetime) -> dict[str, Any]:
        found = await plan.set_plan(
            db, session_id=session, items=body.items_json(), graders_per_sitting=body.graders_per_sitting,
            tolerance=float(body.tolerance), now=now, actor=CLI_ACTOR, staff_id=None,
        )  # fmt: skip
        return _plan_dict(found, await plan.graders(db, session_id=session))

    emit(run_work(work), as_json)


@rubric_cli.command("show")
def rubric_show(session_id: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """A session's rubric, grading settings and graders."""
    session = uuid_arg("session_id", session_id)

    async def work(db: AsyncSession, store: ObjectStore, s: Settings, now: datetime) -> dict[str, Any]:
        return _plan_dict(await plan.get_plan(db, session), await plan.graders(db, session_id=session))

    emit(run_work(work), as_json)


@grader_cli.command("add")
def grader_add(session_id: str, username: str) -> None:
    """Give a grader account a session to score (idempotent)."""
    session = uuid_arg("session_id", session_id)

    async def work(db: AsyncSession, store: ObjectStore, s: Settings, now: datetime) -> plan.Grader:
        staff = await staff_by_username(db, username)
        return await plan.add_grader(db, session_id=session, staff=staff, now=now, actor=CLI_ACTOR, assigned_by=None)

    grader = run_work(work)
    typer.echo(f"{grader.staff.username}: {grader.code}")


@grader_cli.command("remove")
def grader_remove(session_id: str, username: str) -> None:
    """Take a session from a grader; their open sheets go back to be assigned."""
    session = uuid_arg("session_id", session_id)

    async def work(db: AsyncSession, store: ObjectStore, s: Settings, now: datetime) -> int:
        staff = await staff_by_username(db, username)
        return await plan.remove_grader(db, session_id=session, staff=staff, now=now, actor=CLI_ACTOR)

    typer.echo(f"removed; {run_work(work)} open sheets returned")


@grading_cli.command("assign")
def grading_assign(session_id: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Give each sitting with both recordings its graders (and an extra one where the first disagree)."""
    session = uuid_arg("session_id", session_id)

    async def work(db: AsyncSession, store: ObjectStore, s: Settings, now: datetime) -> dict[str, Any]:
        report = await assignment.assign(db, session_id=session, now=now, actor=CLI_ACTOR)
        return {"sittings": report.sittings, "sheets_added": report.sheets_added, "extra_added": report.extra_added, "short": [str(s) for s in report.short]}

    emit(run_work(work), as_json)


@results_cli.command("show")
def results_show(session_id: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """One row per candidate: result, score, reason (the published version when there is one)."""
    session = uuid_arg("session_id", session_id)

    async def work(db: AsyncSession, store: ObjectStore, s: Settings, now: datetime) -> table.Table:
        return await table.table(db, session_id=session, now=now, policy=AuditPolicy.of(s))

    found = run_work(work)
    if as_json:
        version = found.publication.version if found.publication else None
        emit({"session_id": str(found.session.id), "published_version": version, "rows": found.rows}, True)
        return
    keys = ("candidate_id", "name", "id_number_masked", "state", "score", "reason", "graders")
    show([{k: row.get(k) for k in keys if k in row} for row in found.rows])


@results_cli.command("publish")
def results_publish(
    session_id: str,
    allow_pending: Annotated[bool, typer.Option("--allow-pending", help="publish although some rows are pending")] = False,
) -> None:
    """Freeze a session's results; prints the version and its sha256."""
    session = uuid_arg("session_id", session_id)

    async def work(db: AsyncSession, store: ObjectStore, s: Settings, now: datetime) -> tuple[int, str]:
        done = await table.publish(db, session_id=session, now=now, policy=AuditPolicy.of(s), allow_pending=allow_pending, actor=CLI_ACTOR, staff_id=None)
        return done.version, done.sha256

    version, sha256 = run_work(work)
    typer.echo(f"published version {version}, sha256 {sha256}")


@results_cli.command("reopen")
def results_reopen(session_id: str, reason: Annotated[str, typer.Option(help="why (kept in the audit log)")]) -> None:
    """Reopen published results so they may change; publishing again makes the next version."""
    session = uuid_arg("session_id", session_id)
    if not reason.strip():
        fail(errors.ValidationFailed(details=[{"loc": ["reason"], "msg": "a reason is required"}]))

    async def work(db: AsyncSession, store: ObjectStore, s: Settings, now: datetime) -> int:
        await table.timezone_of(db, session)
        return (await publication.reopen(db, session_id=session, reason=reason.strip(), now=now, actor=CLI_ACTOR, staff_id=None)).version

    typer.echo(f"reopened version {run_work(work)}")


@results_cli.command("export")
def results_export(
    session_id: str,
    format: Annotated[Literal["csv", "xlsx"], typer.Option("--format", help="csv (UTF-8 with BOM) or xlsx")],
    out: Annotated[Path, typer.Option("--out", help="the file to write")],
) -> None:
    """Write the results as CSV or XLSX (the published version when there is one)."""
    session = uuid_arg("session_id", session_id)

    with progress_bar() as steps:

        async def work(db: AsyncSession, store: ObjectStore, s: Settings, now: datetime) -> tuple[bytes, int]:
            found = await table.table(db, session_id=session, now=now, policy=AuditPolicy.of(s))
            return (export.to_csv(found, steps) if format == "csv" else export.to_xlsx(found, now, steps)), len(found.rows)

        content, rows = run_work(work)
    try:
        out.write_bytes(content)
    except OSError as exc:
        fail(errors.ValidationFailed(details=[{"loc": ["out"], "msg": f"cannot write {out}: {exc.strerror}"}]))
    typer.echo(f"wrote {rows} rows to {out}")
