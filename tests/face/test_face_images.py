from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.face import CorruptImage, EmptyImage, FaceInputError, ImageTooLarge, NotAnImage
from app.face.engine import FaceEngine, enroll, verify
from app.face.images import ID_PHOTO, LIVE_CAPTURE, WORK_SIDE, Budget, decode_image, open_image, pad_border
from tests.face.support import ROOT, photo, photo_bytes
from tests.support.face import large_png


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def forged_png(width: int, height: int) -> bytes:
    """A few dozen bytes whose header claims width × height RGB pixels (a decompression bomb's calling card)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


def encode(picture: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, fmt, **options)
    return buffer.getvalue()


def upright() -> Image.Image:
    return Image.open(io.BytesIO(photo_bytes("person_b_1"))).convert("RGB")


@pytest.mark.parametrize(
    ("data", "error", "code"),
    [
        (b"", EmptyImage, "image_empty"),
        (b"hello, not a picture", NotAnImage, "image_unreadable"),
        (b"GIF89a" + b"\x00" * 64, NotAnImage, "image_unreadable"),
        (photo_bytes("person_a_2")[:20_000], CorruptImage, "image_corrupt"),
    ],
    ids=["zero-bytes", "text", "gif-not-accepted", "truncated-jpeg"],
)
def test_unusable_bytes_raise_typed_errors(data: bytes, error: type[FaceInputError], code: str) -> None:
    with pytest.raises(error) as caught:
        decode_image(data)
    assert caught.value.code == code
    body = caught.value.body()["error"]
    assert body["code"] == code and body["message"] and body["message_en"]
    assert body["message"] != body["message_en"]  # zh-CN and English


@pytest.mark.parametrize(("width", "height"), [(20_000, 20_000), (7_000, 7_000), (9_000, 100)])
def test_oversized_headers_are_refused_before_any_pixel_is_allocated(width: int, height: int) -> None:
    bomb = forged_png(width, height)
    assert len(bomb) < 200
    tracemalloc.start()
    try:
        with pytest.raises(ImageTooLarge) as caught:
            decode_image(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.code == "image_too_large"
    assert peak < 5_000_000  # 20000×20000 RGB would be 1.2 GB


def test_exif_orientation_is_honoured(engine: FaceEngine) -> None:
    picture = upright()
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display": the sensor stored the picture lying on its side
    rotated = encode(picture.transpose(Image.Transpose.ROTATE_90), "JPEG", quality=92, exif=exif)

    image = decode_image(rotated)
    assert image.shape[:2] == (picture.height, picture.width)
    reference = enroll(engine, photo("person_b_2")).embedding
    assert reference is not None
    assert verify(engine, image, reference).match


def test_greyscale_photo_becomes_bgr_and_still_matches(engine: FaceEngine) -> None:
    image = decode_image(encode(upright().convert("L"), "JPEG", quality=92))
    assert image.shape == (upright().height, upright().width, 3) and image.dtype == np.uint8
    assert (image[..., 0] == image[..., 1]).all()
    reference = enroll(engine, photo("person_b_2")).embedding
    assert reference is not None
    assert verify(engine, image, reference).match


def test_transparent_png_is_flattened_on_white() -> None:
    picture = upright().convert("RGBA")
    alpha = Image.new("L", picture.size, 0)
    alpha.paste(255, (100, 100, picture.width - 100, picture.height - 100))
    picture.putalpha(alpha)
    image = decode_image(encode(picture, "PNG"))
    assert image.shape == (picture.height, picture.width, 3)
    assert (image[:50, :50] == 255).all()  # transparent corner: white, not black
    assert image[picture.height // 2, picture.width // 2].tolist() != [255, 255, 255]


def test_sixteen_bit_greyscale_png_keeps_its_tones() -> None:
    ramp = np.tile(np.linspace(0, 65535, 256, dtype=np.uint16), (64, 1))
    image = decode_image(encode(Image.fromarray(ramp), "PNG"))
    assert image.shape == (64, 256, 3)
    assert image[0, 0, 0] == 0 and image[0, -1, 0] == 255 and 120 < image[0, 128, 0] < 135


def test_large_photos_are_decoded_small_enough_to_work_on() -> None:
    big = Image.new("RGB", (4000, 3000), (90, 120, 150))
    image = decode_image(encode(big, "JPEG", quality=80))
    assert max(image.shape[:2]) == WORK_SIDE and image.shape[1] / image.shape[0] == pytest.approx(4 / 3, rel=0.01)
    assert image[0, 0].tolist() == pytest.approx([150, 120, 90], abs=3)  # BGR


def test_webp_is_accepted() -> None:
    image = decode_image(encode(upright(), "WEBP", quality=90))
    assert image.shape == (upright().height, upright().width, 3)


def test_pad_border_adds_a_quarter_of_each_side() -> None:
    padded = pad_border(np.zeros((200, 100, 3), np.uint8))
    assert padded.shape == (300, 150, 3)


# --- budgets: what each use may decode, judged on the header --------------------------------------------------------


def solid(width: int, height: int, fmt: str, **options: object) -> bytes:
    return encode(Image.new("RGB", (width, height), (200, 180, 160)), fmt, **options)


@pytest.mark.parametrize(
    ("data", "budget", "decoded"),
    [
        # A 40 MP JPEG: libjpeg decodes it at 1/2 for an ID photo, at 1/8 for a live capture.
        pytest.param(solid(8000, 5000, "JPEG"), ID_PHOTO, (4000, 2500), id="jpeg-40MP-id-photo-half"),
        pytest.param(solid(8000, 5000, "JPEG"), LIVE_CAPTURE, None, id="jpeg-40MP-live-refused-pixels"),
        pytest.param(solid(4032, 3024, "JPEG"), LIVE_CAPTURE, (1008, 756), id="jpeg-12MP-live-quarter"),
        pytest.param(solid(4032, 3024, "JPEG", progressive=True), ID_PHOTO, (4032 // 2, 3024 // 2), id="progressive-12MP-id-photo"),
        pytest.param(solid(1280, 960, "JPEG"), LIVE_CAPTURE, (1280, 960), id="jpeg-app-capture-as-is"),
        # PNG and WebP decode at full size only: over the side, refused.
        pytest.param(large_png(8000, 5000), ID_PHOTO, None, id="png-8000x5000-id-photo"),
        pytest.param(large_png(8000, 5000), LIVE_CAPTURE, None, id="png-8000x5000-live"),
        pytest.param(solid(3000, 2000, "PNG"), ID_PHOTO, (3000, 2000), id="png-3000-id-photo"),
        pytest.param(solid(3000, 2000, "PNG"), LIVE_CAPTURE, None, id="png-3000-live"),
        pytest.param(solid(2500, 1500, "WEBP"), LIVE_CAPTURE, None, id="webp-2500-live"),
        pytest.param(solid(1920, 1080, "WEBP"), LIVE_CAPTURE, (1920, 1080), id="webp-1920-live"),
    ],
)
def test_each_use_decodes_within_its_budget(data: bytes, budget: Budget, decoded: tuple[int, int] | None) -> None:
    if decoded is None:
        with pytest.raises(ImageTooLarge):
            open_image(data, budget)
        return
    assert open_image(data, budget).size == decoded
    image = decode_image(data, budget)
    assert max(image.shape[:2]) == min(max(decoded), WORK_SIDE)
    assert image[0, 0].tolist() == pytest.approx([160, 180, 200], abs=3)  # BGR


# Decodes `sys.argv[1]` for each use in a fresh interpreter; prints what it cost. A fresh process, so the peak
# resident size (ru_maxrss) says what this decode took, not what the test session once held.
_MEASURE = """
import json, resource, sys, time
from app.face.images import ID_PHOTO, LIVE_CAPTURE, decode_image, open_image
from app.face import FaceError
data = open(sys.argv[1], "rb").read()
open_image(open(sys.argv[2], "rb").read())  # load Pillow's plugins before measuring
report = []
for budget in (ID_PHOTO, LIVE_CAPTURE):
    before, started = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter()
    try:
        decode_image(data, budget)
        code = None
    except FaceError as exc:
        code = exc.code
    took = time.perf_counter() - started
    report.append({"code": code, "seconds": took, "grown_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before})
print(json.dumps(report))
"""


def test_a_large_png_is_refused_from_its_header_without_decoding(tmp_path: Path) -> None:
    """8000×5000 PNG, 125 KB: decoded it would take ~0.8-2 s and hundreds of MiB; refused, it costs neither."""
    (tmp_path / "large.png").write_bytes(large_png(8000, 5000))
    (tmp_path / "small.png").write_bytes(solid(8, 8, "PNG"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(tmp_path / "large.png"), str(tmp_path / "small.png")],
        capture_output=True, text=True, timeout=120, env=env, check=True,
    )  # fmt: skip
    for use in json.loads(done.stdout):
        assert use["code"] == "image_too_large", use
        assert use["grown_kib"] < 20 * 1024, use  # the RGB picture alone would be 117 MiB
        assert use["seconds"] < 0.2, use
