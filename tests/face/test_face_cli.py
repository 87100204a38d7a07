from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from app.face.cli import root
from tests.face.support import FACES, ROOT

runner = CliRunner()


def face(name: str) -> str:
    return str(FACES / f"{name}.jpg")


def compare(model_dir: Path, a: str, b: str, *options: str) -> tuple[int, dict[str, object]]:
    result = runner.invoke(root, ["face", "compare", a, b, "--json", "--model-dir", str(model_dir), *options])
    stream = result.stdout if result.exit_code == 0 else result.stderr.splitlines()[0]
    return result.exit_code, json.loads(stream)


@pytest.mark.parametrize("pack", ["sface", "buffalo_s"])
def test_compare_same_and_different_people(model_dir: Path, pack: str) -> None:
    code, same = compare(model_dir, face("person_b_1"), face("person_b_2"), "--pack", pack)
    assert code == 0 and set(same) == {"similarity", "threshold", "match", "pack"}
    assert same["match"] is True and same["pack"] == pack
    code, other = compare(model_dir, face("person_b_1"), face("impostor_1"), "--pack", pack)
    assert code == 0 and other["match"] is False
    assert isinstance(other["similarity"], float) and other["similarity"] < other["threshold"]  # type: ignore[operator]


def test_compare_errors_exit_2_with_a_json_error(model_dir: Path, tmp_path: Path) -> None:
    blank = tmp_path / "wall.png"
    cv2.imwrite(str(blank), np.full((480, 640, 3), 200, np.uint8))
    text = tmp_path / "notes.jpg"
    text.write_text("not a picture")
    cases = {
        "no_face": (face("person_a_1"), str(blank)),
        "image_unreadable": (str(text), face("person_a_1")),
        "image_file_not_found": (face("person_a_1"), str(tmp_path / "missing.jpg")),
    }
    for expected, (a, b) in cases.items():
        code, body = compare(model_dir, a, b)
        error = body["error"]
        assert code == 2 and isinstance(error, dict)
        assert error["code"] == expected and error["message"] and error["message_en"]
    code, body = compare(model_dir, face("person_a_1"), face("person_a_2"), "--pack", "nope")
    assert (code, body["error"]["code"]) == (2, "face_pack_unknown")  # type: ignore[index]
    code, body = compare(tmp_path, face("person_a_1"), face("person_a_2"))
    assert (code, body["error"]["code"]) == (2, "face_models_missing")  # type: ignore[index]


def test_models_fetch_reports_packs(model_dir: Path, tmp_path: Path, no_pip: list[object]) -> None:
    result = runner.invoke(
        root, ["models", "fetch", "--dir", str(model_dir), "--pack", "sface", "--pack", "buffalo_s", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [(p["pack"], p["status"]) for p in report["packs"]] == [("sface", "present"), ("buffalo_s", "present")]
    assert "NON-COMMERCIAL" in result.stderr  # said loudly, every time

    missing = runner.invoke(root, ["models", "fetch", "--dir", str(tmp_path), "--pack", "buffalo_l"])
    assert missing.exit_code == 1 and "buffalo_l: missing" in missing.stdout


def test_bench_measures_each_pack_beside_opencv(model_dir: Path) -> None:
    result = runner.invoke(
        root, ["face", "bench", "--json", "--runs", "2", "--pack", "sface", "--model-dir", str(model_dir)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["image"]["width"], report["image"]["height"]) == (640, 480)
    for row in (report["packs"]["sface"], report["reference"]["opencv_yunet_sface"]):
        for stage in ("detect_ms", "embed_ms", "compare_ms", "total_ms"):
            assert 0 <= row[stage]["p50"] <= row[stage]["p95"]
        assert row["total_ms"]["p50"] > 0


def test_runs_standalone_as_a_module(model_dir: Path) -> None:
    env = {**os.environ, "DUALCAM_FACE_MODEL_DIR": str(model_dir)}
    done = subprocess.run(
        [sys.executable, "-m", "app.face.cli", "face", "compare", face("person_a_1"), face("person_a_2"), "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["match"] is True
