"""`dualcam flags analyze VIDEO --json` on recordings encoded here (tests/support/videos.py: the photos of
tests/data/faces on a desk scene, VP8 + Opus WebM as the phones record), in a real process with the real face models:
each kind's range within ±2 s, nothing on a clean recording, and the contract's exit 2 for what is not a readable
video.

The videos are 320×240 (the analysis shrinks every frame to 320 on its longer side before detection, so a phone's
640×480 gives it the same picture) at a few frames a second (it samples one a second), which keeps encoding cheap.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from tests.support.face import FACES, face_models_fixture  # noqa: F401  (face_models)
from tests.support.videos import AUDIO_RATE, Stretch, write

ROOT = Path(__file__).resolve().parents[2]
SIZE = (320, 240)
FPS = 5
TOLERANCE_S = 2.0


@dataclass(frozen=True)
class Expected:
    kind: str
    start_s: float
    end_s: float


def flags_analyze(face_models: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUALCAM_")}
    env.update({"DUALCAM_FACE_MODEL_DIR": str(face_models), "DUALCAM_FACE_PACK": "sface"})
    command = [str(ROOT / ".venv/bin/dualcam"), "flags", "analyze", *map(str, args)]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=240)


def analysed(face_models: Path, video: Path, *args: str | Path) -> dict[str, Any]:
    done = flags_analyze(face_models, video, "--json", *args)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr
    return json.loads(done.stdout)


def timeline(stretches: list[Stretch]) -> tuple[list[Stretch], dict[int, tuple[float, float]]]:
    """The stretches and where each one lies, by its index."""
    at, spans = 0.0, {}
    for index, stretch in enumerate(stretches):
        spans[index] = (at, at + stretch.seconds)
        at += stretch.seconds
    return stretches, spans


def assert_flags(found: list[dict[str, Any]], expected: list[Expected]) -> None:
    """Each expected flag once, both ends within the tolerance, and no other flag."""
    unmatched = list(found)
    for want in expected:
        near = [
            f for f in unmatched
            if f["kind"] == want.kind and abs(f["start_s"] - want.start_s) <= TOLERANCE_S and abs(f["end_s"] - want.end_s) <= TOLERANCE_S
        ]  # fmt: skip
        assert len(near) == 1, (want, found)
        unmatched.remove(near[0])
    assert unmatched == [], (unmatched, found)


# The candidate at the desk, with one stretch of each kind the main camera flags, a clean stretch between them.
MAIN, MAIN_AT = timeline([
    Stretch(10), Stretch(8, "nobody"),
    Stretch(10), Stretch(8, "two"),
    Stretch(10), Stretch(8, "impostor"),
    Stretch(10), Stretch(10, "away"),
    Stretch(10), Stretch(14, "dark"),
    Stretch(10), Stretch(14, "frozen"),
    Stretch(10), Stretch(70, sound=False),
    Stretch(10),
])  # fmt: skip
# The aux camera sees the room from the side (nobody's whole face), then two people, a covered lens, a frozen picture.
AUX, AUX_AT = timeline([
    Stretch(10, "nobody"), Stretch(8, "two"),
    Stretch(10, "nobody"), Stretch(14, "covered"),
    Stretch(10, "nobody"), Stretch(14, "frozen"),
    Stretch(10, "nobody"),
])  # fmt: skip


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("videos")


@pytest.fixture(scope="module")
def main_video(videos: Path) -> Path:
    return write(videos / "main.webm", MAIN, fps=FPS, size=SIZE)


@pytest.fixture(scope="module")
def main_analysis(face_models: Path, main_video: Path) -> dict[str, Any]:
    return analysed(face_models, main_video, "--id-photo", FACES / "person_a_2.jpg", "--role", "main")


def test_the_main_recording_gives_each_kind_at_its_stretch_and_nothing_else(main_analysis: dict[str, Any]) -> None:
    result = main_analysis
    assert result["duration_s"] == pytest.approx(sum(s.seconds for s in MAIN), abs=0.5)
    assert result["samples"] == pytest.approx(result["duration_s"], abs=1)  # one a second
    span = MAIN_AT.__getitem__
    assert_flags(result["flags"], [
        Expected("no_face", *span(1)),
        Expected("several_faces", *span(3)),
        Expected("different_person", *span(5)),
        Expected("looking_away", *span(7)),
        Expected("poor_video", *span(9)),
        Expected("poor_video", *span(11)),
        Expected("audio_silent", *span(13)),
    ])  # fmt: skip
    assert all(f["source"] == "recording" for f in result["flags"])
    poor = sorted((f for f in result["flags"] if f["kind"] == "poor_video"), key=lambda f: f["start_s"])
    assert [max(f["detail"]["samples"], key=f["detail"]["samples"].get) for f in poor] == ["dark", "frozen"]


def test_the_risk_of_a_recording_is_scored_from_its_flags_with_reasons(main_analysis: dict[str, Any]) -> None:
    risk = main_analysis["risk"]
    kinds = [reason["kind"] for reason in risk["reasons"]]
    assert sorted(kinds) == sorted({f["kind"] for f in main_analysis["flags"]})
    assert kinds[0] == "different_person"  # the heaviest weight first
    assert risk["score"] == min(100, sum(reason["points"] for reason in risk["reasons"])) == 100


def test_a_blurred_picture_is_poor_video(face_models: Path, videos: Path) -> None:
    # At a phone's size: the blur is measured on the picture shrunk for detection, which also averages the sensor
    # noise away (at 320×240 the noise alone looks sharp).
    stretches, at = timeline([Stretch(10), Stretch(14, "blurred"), Stretch(10)])
    video = write(videos / "blurred.webm", stretches, fps=FPS, size=(640, 480))
    result = analysed(face_models, video, "--id-photo", FACES / "person_a_2.jpg")
    assert_flags(result["flags"], [Expected("poor_video", *at[1])])
    assert set(result["flags"][0]["detail"]["samples"]) == {"blurred"}


def test_without_an_id_photo_nobody_is_a_different_person(face_models: Path, main_video: Path) -> None:
    result = analysed(face_models, main_video, "--role", "main")
    assert "different_person" not in {f["kind"] for f in result["flags"]}
    assert {"no_face", "several_faces", "looking_away"} <= {f["kind"] for f in result["flags"]}


def test_the_aux_recording_flags_another_person_and_a_blind_camera(face_models: Path, videos: Path) -> None:
    video = write(videos / "aux.webm", AUX, fps=FPS, size=SIZE)
    result = analysed(face_models, video, "--role", "aux")
    span = AUX_AT.__getitem__
    assert_flags(result["flags"], [Expected("several_faces", *span(1)), Expected("poor_video", *span(3)), Expected("poor_video", *span(5))])


def test_a_clean_ten_minutes_of_one_person_at_a_desk_gives_no_flag(face_models: Path, videos: Path) -> None:
    video = write(videos / "clean.webm", [Stretch(600)], fps=2, size=SIZE)
    result = analysed(face_models, video, "--id-photo", FACES / "person_a_2.jpg")
    assert result["duration_s"] == pytest.approx(600, abs=1)
    assert (result["flags"], result["risk"]) == ([], {"score": 0, "reasons": []})


def test_a_phone_held_sideways_is_analysed_upright(face_models: Path, videos: Path) -> None:
    stretches, at = timeline([Stretch(12), Stretch(8, "nobody"), Stretch(12)])
    video = write(videos / "sideways.webm", stretches, fps=FPS, size=SIZE, turn=90)
    result = analysed(face_models, video, "--id-photo", FACES / "person_a_2.jpg")
    assert_flags(result["flags"], [Expected("no_face", *at[1])])


def test_without_json_a_table_for_people(face_models: Path, main_video: Path) -> None:
    done = flags_analyze(face_models, main_video, "--fps", "0.5")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("时长 duration 0:03:") and "风险 risk" in lines[0], lines
    assert any(line.split()[0] == "several_faces" for line in lines[2:]), lines
    assert lines[-1] == "时间为距录像开始的时长 times are offsets from the recording's start"


# --- what is not a readable video: exit 2, one JSON line, no traceback ------------------------------------------------


def refused(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == "" and "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    error = json.loads(lines[0])["error"]
    assert error["message"] and error["message_en"]
    return error


def sound_only(path: Path) -> Path:
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libopus", rate=AUDIO_RATE, layout="mono")
        for index in range(50):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 960), np.float32), format="flt", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = AUDIO_RATE, index * 960, Fraction(1, AUDIO_RATE)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def test_a_file_that_is_not_a_video_exits_2_with_a_json_error(face_models: Path, tmp_path: Path) -> None:
    text = tmp_path / "answer.webm"
    text.write_text("这不是视频 not a video\n" * 100)
    error = refused(flags_analyze(face_models, text, "--json"))
    assert error["code"] == "video_unreadable" and error["details"]["reason"].startswith("not a media file")
    assert str(tmp_path) not in json.dumps(error)  # a server path is nobody's business


def test_a_file_without_a_video_track_exits_2(face_models: Path, tmp_path: Path) -> None:
    error = refused(flags_analyze(face_models, sound_only(tmp_path / "voice.webm"), "--json"))
    assert (error["code"], error["details"]["reason"]) == ("video_unreadable", "no video track")


def test_a_truncated_recording_exits_2_rather_than_flags_for_its_first_part(face_models: Path, main_video: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.webm"
    data = main_video.read_bytes()
    cut.write_bytes(data[: len(data) * 6 // 10])
    error = refused(flags_analyze(face_models, cut, "--json"))
    assert error["code"] == "video_unreadable" and error["details"]["reason"].startswith("truncated"), error


@pytest.mark.parametrize(
    ("args", "code"),
    [(["--role", "side"], "flags_role_invalid"), (["--fps", "0"], "flags_fps_invalid"), (["--fps", "11"], "flags_fps_invalid")],
)
def test_bad_options_exit_2_before_any_work(face_models: Path, main_video: Path, args: list[str], code: str) -> None:
    assert refused(flags_analyze(face_models, main_video, "--json", *args))["code"] == code


def test_a_missing_file_or_id_photo_exits_2(face_models: Path, main_video: Path, tmp_path: Path) -> None:
    assert refused(flags_analyze(face_models, tmp_path / "gone.webm", "--json"))["code"] == "video_not_found"
    assert refused(flags_analyze(face_models, main_video, "--json", "--id-photo", tmp_path / "gone.jpg"))["code"] == "image_file_not_found"
