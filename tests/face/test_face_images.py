from __future__ import annotations

import io
import struct
import tracemalloc
import zlib

import numpy as np
import pytest
from PIL import Image

from app.face import CorruptImage, EmptyImage, FaceInputError, ImageTooLarge, NotAnImage
from app.face.engine import FaceEngine, enroll, verify
from app.face.images import WORK_SIDE, decode_image, pad_border
from tests.face.support import photo, photo_bytes


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
