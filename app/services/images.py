"""Images sent to the server (ID photos, question images, face captures): the size limit and the format, read
from the bytes' magic numbers (never from the client's header) before anything is stored."""

from __future__ import annotations

from app import errors

MAX_IMAGE_BYTES = 10 * 1024 * 1024
# What a phone may declare for a face capture: what a browser's camera capture or canvas gives. The bytes are
# checked by the decoder anyway; a wrong declared type (a video, a HEIC file) is refused early with a precise answer.
CAPTURE_TYPES = frozenset({"image/jpeg", "image/jpg", "image/png", "image/webp"})
# Ops' images (roster photos, question images) are shown by every phone's browser as they are.
OPS_TYPES = frozenset({"image/jpeg", "image/png"})


def image_type(data: bytes) -> str | None:
    """The format the bytes start with: JPEG, PNG or WebP; None for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def stored_type(data: bytes) -> str:
    """The content type an image is stored and served with."""
    return image_type(data) or "application/octet-stream"


def sniff_image(data: bytes, *, allowed: frozenset[str] = OPS_TYPES) -> str:
    """The content type of an image ops upload; refuses what is too large or not an allowed format."""
    if len(data) > MAX_IMAGE_BYTES:
        raise errors.PayloadTooLarge()
    found = image_type(data)
    if found is None or found not in allowed:
        raise errors.BadImage()
    return found


def check_declared_type(content_type: str | None) -> None:
    """A face capture's declared type must be one a camera gives."""
    if (content_type or "").split(";")[0].strip().lower() not in CAPTURE_TYPES:
        raise errors.ImageTypeUnsupported(details={"content_type": content_type})
