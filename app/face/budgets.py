"""How large a picture may be for its use, judged on its header alone (Pillow's lazy open): the part of image intake
that decodes nothing, so the API can refuse an oversized picture (a roster's, a candidate's) without the face engine
and its heavy libraries."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from app.face import CorruptImage, EmptyImage, ImageTooLarge, NotAnImage

FORMATS = ("JPEG", "PNG", "WEBP")
# libjpeg's DCT scaling: a JPEG decodes straight to 1/2, 1/4 or 1/8 of its size, the full size never held in memory.
_JPEG_SCALES = (1, 2, 4, 8)


@dataclass(frozen=True, slots=True)
class Budget:
    """How large a picture of one use may be, judged on its header before any pixel is decoded.

    ``side`` bounds the decoded picture's longer side: a JPEG over it is decoded at 1/2, 1/4 or 1/8 scale; a PNG or
    WebP (decoded at full size only) over it is refused. ``max_pixels`` bounds what a JPEG's header may claim at all,
    because libjpeg still reads every coefficient when it scales (a progressive one holds them all in memory)."""

    side: int
    max_pixels: int


# An ID photo (the roster's, or the candidate's own upload): a phone photo of the card; a 40 MP JPEG decodes at 1/2.
ID_PHOTO = Budget(side=4000, max_pixels=40_000_000)
# A live capture (selfie, waiting gate, in-exam check): the apps send at most 1280 px; a camera's 12 MP still fits.
LIVE_CAPTURE = Budget(side=1920, max_pixels=16_000_000)


def open_image(data: bytes, budget: Budget = ID_PHOTO) -> Image.Image:
    """The picture with only its header read, set up to decode within ``budget``; what cannot be is refused here
    (microseconds, nothing decoded), so it never waits for, or holds, the face engine's worker."""
    if not data:
        raise EmptyImage("0 bytes")
    try:
        picture: Image.Image = Image.open(io.BytesIO(data), formats=FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own (larger) bomb limit fires inside open(); ours below is the one that normally refuses.
        raise ImageTooLarge(str(exc)) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise NotAnImage(str(exc)) from exc
    width, height = picture.size
    if width <= 0 or height <= 0:
        raise CorruptImage(f"{width}x{height}")
    if width * height > budget.max_pixels:
        raise ImageTooLarge(f"{width}x{height} exceeds {budget.max_pixels} pixels")
    longest = max(width, height)
    if picture.format == "JPEG" and longest > budget.side:
        scale = next((s for s in _JPEG_SCALES if -(-longest // s) <= budget.side), _JPEG_SCALES[-1])
        # Pillow picks the largest scale that keeps the size asked for: ask for exactly 1/scale.
        picture.draft("RGB", (max(1, width // scale), max(1, height // scale)))
    if max(picture.size) > budget.side:
        raise ImageTooLarge(f"{picture.format} {width}x{height} decodes to {picture.size}, over {budget.side} px a side")
    return picture
