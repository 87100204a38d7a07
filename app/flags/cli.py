"""`dualcam flags analyze VIDEO`: one recording's flags and risk, as JSON (a contract, DESIGN.md) or a table.

Registered on the `flags` sub-app of app/cli.py. The heavy modules (PyAV, OpenCV, onnxruntime) load inside the
command, so `dualcam` starts as fast as before.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError

from app.face import FaceError, NoFace
from app.flags import ROLES, VideoUnreadable

MAX_FPS = 10.0


def _fail(code: str, message: str, message_en: str, details: Any = None) -> NoReturn:
    error: dict[str, Any] = {"code": code, "message": message, "message_en": message_en}
    if details is not None:
        error["details"] = details
    # As every dualcam command: one JSON line on stderr, exit status 2.
    typer.echo(json.dumps({"error": error}, ensure_ascii=False), err=True)
    raise typer.Exit(2)


def _fail_with(body: dict[str, Any]) -> NoReturn:
    error = body["error"]
    _fail(error["code"], error["message"], error["message_en"], error.get("details"))


def analyze_command(
    video: Annotated[Path, typer.Argument(help="The recording (WebM or MP4; VP8, VP9 or H.264)")],
    id_photo: Annotated[Path | None, typer.Option("--id-photo", help="The candidate's photo: enables different_person")] = None,
    role: Annotated[str, typer.Option("--role", help="main | aux")] = "main",
    fps: Annotated[float | None, typer.Option("--fps", help="Samples per second (default: $DUALCAM_FLAGS_SAMPLE_FPS or 1)")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Flags and risk of one recording: exit 0, or 2 with a JSON error (not a video, no video track, damaged)."""
    if role not in ROLES:
        _fail("flags_role_invalid", "角色只能是 main 或 aux", "The role must be main or aux", {"role": role})
    if fps is not None and not 0 < fps <= MAX_FPS:
        _fail("flags_fps_invalid", f"采样频率须大于 0 且不超过 {MAX_FPS:g}", f"The sample rate must be above 0 and at most {MAX_FPS:g}", {"fps": fps})
    if not video.is_file():
        _fail("video_not_found", "找不到视频文件", "The video file does not exist")
    from app.config import Settings
    from app.flags.thresholds import Thresholds

    try:
        settings = Settings()
    except ValidationError as exc:
        problems = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        _fail("config_invalid", "配置无效（DUALCAM_ 环境变量）", "Invalid configuration (DUALCAM_ environment variables)", problems)
    thresholds = Thresholds.of(settings)
    if fps is not None:
        thresholds = dataclasses.replace(thresholds, sample_fps=fps)
    try:
        result = _analyze(video, id_photo, role, thresholds, settings)
    except (FaceError, VideoUnreadable) as exc:
        _fail_with(exc.body())
    if json_out:
        typer.echo(json.dumps(result, ensure_ascii=False))
    else:
        typer.echo(_table(result))


def _analyze(video: Path, id_photo: Path | None, role: str, thresholds: Any, settings: Any) -> dict[str, Any]:
    import cv2

    from app.face.engine import enroll, load_engine
    from app.face.images import decode_image
    from app.flags.analysis import analyze
    from app.flags.risk import risk

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # OpenCV 5's graph-engine notice at each load
    reference = None
    engine = load_engine(settings.resolved_face_model_dir, settings.face_pack)
    if id_photo is not None:
        try:
            data = id_photo.read_bytes()
        except OSError:
            _fail("image_file_not_found", "找不到图片文件", "The image file does not exist")
        reference = enroll(engine, decode_image(data)).embedding
        if reference is None:
            raise NoFace("no face in the ID photo")
    found = analyze(video, role=role, engine=engine, reference=reference, thresholds=thresholds)
    scored = risk(found.flags)
    return {
        "duration_s": found.duration_s,
        "flags": [dataclasses.asdict(flag) | {"source": flag.source} for flag in found.flags],
        "risk": dataclasses.asdict(scored),
        "samples": found.samples,
        "role": role,
        "sample_fps": thresholds.sample_fps,
        "has_audio": found.has_audio,
        "pack": engine.spec.name,
        "analyzer_version": found.analyzer_version,
    }


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:d}:{whole % 3600 // 60:02d}:{whole % 60:02d}.{int(round((seconds - whole) * 10)) % 10}"


def _table(result: dict[str, Any]) -> str:
    lines = [
        f"时长 duration {_clock(result['duration_s'])}  采样 samples {result['samples']}  "
        f"风险 risk {result['risk']['score']}/100  ({result['role']}, {result['pack']})",
    ]
    if not result["flags"]:
        lines.append("无标记 no flags")
        return "\n".join(lines)
    lines.append(f"{'类型 kind':<20} {'开始 start':>12} {'结束 end':>12} {'数值 value':>10}")
    for flag in result["flags"]:
        value = "" if flag["value"] is None else f"{flag['value']:g}"
        lines.append(f"{flag['kind']:<20} {_clock(flag['start_s']):>12} {_clock(flag['end_s']):>12} {value:>10}")
    lines.append("时间为距录像开始的时长 times are offsets from the recording's start")
    return "\n".join(lines)
