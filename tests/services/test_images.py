"""images: the format is read from the bytes' magic numbers (never the client's header), within the size limit;
ops may upload JPEG or PNG, a phone's capture may also be WebP, and its declared type must be one a camera gives."""

from __future__ import annotations

import pytest

from app import errors
from app.services.images import CAPTURE_TYPES, MAX_IMAGE_BYTES, check_declared_type, image_type, sniff_image, stored_type

JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 16
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
WEBP = b"RIFF\x10\0\0\0WEBPVP8 " + b"\0" * 8

TYPES = [
    ("jpeg", JPEG, "image/jpeg"),
    ("png", PNG, "image/png"),
    ("webp", WEBP, "image/webp"),
    ("gif", b"GIF89a" + b"\0" * 16, None),
    ("a RIFF that is not WebP (wav)", b"RIFF\x10\0\0\0WAVEfmt ", None),
    ("png without its full signature", b"\x89PNG\r\n", None),
    ("empty", b"", None),
    ("text", b"<svg xmlns='http://www.w3.org/2000/svg'/>", None),
]


@pytest.mark.parametrize(("label", "data", "expected"), TYPES, ids=[t[0] for t in TYPES])
def test_image_type(label: str, data: bytes, expected: str | None) -> None:
    assert image_type(data) == expected
    assert stored_type(data) == (expected or "application/octet-stream")


@pytest.mark.parametrize(("data", "expected"), [(JPEG, "image/jpeg"), (PNG, "image/png")])
def test_sniff_image_takes_jpeg_and_png_from_ops(data: bytes, expected: str) -> None:
    assert sniff_image(data) == expected


@pytest.mark.parametrize("data", [WEBP, b"GIF89a", b""], ids=["webp", "gif", "empty"])
def test_sniff_image_refuses_other_formats_from_ops(data: bytes) -> None:
    with pytest.raises(errors.BadImage):
        sniff_image(data)


def test_sniff_image_with_the_capture_types_takes_webp() -> None:
    assert sniff_image(WEBP, allowed=CAPTURE_TYPES) == "image/webp"


def test_sniff_image_refuses_what_is_too_large() -> None:
    assert sniff_image(PNG + b"\0" * (MAX_IMAGE_BYTES - len(PNG))) == "image/png"  # exactly the limit
    with pytest.raises(errors.PayloadTooLarge):
        sniff_image(PNG + b"\0" * (MAX_IMAGE_BYTES - len(PNG) + 1))


@pytest.mark.parametrize("declared", ["image/jpeg", "image/jpg", "image/png", "image/webp", "IMAGE/JPEG", "image/jpeg; charset=binary", " image/png "])
def test_a_camera_type_may_be_declared(declared: str) -> None:
    check_declared_type(declared)


@pytest.mark.parametrize("declared", [None, "", "image/heic", "image/gif", "video/mp4", "application/octet-stream", "image/jpegx"])
def test_other_declared_types_are_refused(declared: str | None) -> None:
    with pytest.raises(errors.ImageTypeUnsupported) as refused:
        check_declared_type(declared)
    assert refused.value.details == {"content_type": declared}
