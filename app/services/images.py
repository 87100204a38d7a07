"""Cheap checks of uploaded images before anything is stored."""

from __future__ import annotations

from app import errors

MAX_IMAGE_BYTES = 10 * 1024 * 1024


def sniff_image(data: bytes) -> str:
    """Content type from the magic bytes (never from the client's header); JPEG and PNG only."""
    if len(data) > MAX_IMAGE_BYTES:
        raise errors.PayloadTooLarge()
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    raise errors.BadImage()
