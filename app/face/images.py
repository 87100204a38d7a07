"""Image intake: untrusted bytes to a BGR array, refusing what could hurt us before any pixel is decoded."""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from app.face import CorruptImage, EmptyImage, ImageTooLarge, NotAnImage

# Phones give at most ~50 MP; ID photos are tiny. Both limits are checked on the header alone.
MAX_PIXELS = 40_000_000
MAX_SIDE = 8000
# Detection and a 112 px aligned crop need nothing near a full phone resolution: decoding JPEGs at a reduced
# scale (libjpeg's DCT scaling) and shrinking the rest keeps a 12 MP photo cheap.
WORK_SIDE = 1600
FORMATS = ("JPEG", "PNG", "WEBP")
# Tight ID-photo crops leave the detector no context around the face; a border of this share of each side helps.
PAD_RATIO = 0.25


def decode_image(
    data: bytes, *, max_pixels: int = MAX_PIXELS, max_side: int = MAX_SIDE, work_side: int = WORK_SIDE
) -> np.ndarray:
    """Decode JPEG/PNG/WebP bytes into an upright BGR uint8 array whose longer side is at most ``work_side``."""
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
    if width * height > max_pixels or max(width, height) > max_side:
        raise ImageTooLarge(f"{width}x{height} exceeds {max_pixels} pixels or {max_side} px a side")
    if picture.format == "JPEG":
        picture.draft("RGB", (work_side, work_side))
    try:
        picture.load()
        picture = ImageOps.exif_transpose(picture)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # Pillow reports a truncated or damaged stream as OSError ("image file is truncated") or SyntaxError.
        raise CorruptImage(str(exc)) from exc
    image = _to_bgr(picture)
    longest = max(image.shape[:2])
    if longest > work_side:
        scale = work_side / longest
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return image


def _to_bgr(picture: Image.Image) -> np.ndarray:
    if picture.mode in ("RGBA", "LA", "PA") or (picture.mode == "P" and "transparency" in picture.info):
        # Transparent parts of a cut-out ID photo become white, as on a printed photo, not black.
        rgba = picture.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        picture = flat
    elif picture.mode.startswith("I;16"):
        # 16-bit greyscale PNG: keep the top byte; a plain RGB conversion would clip everything above 255 to white.
        picture = Image.fromarray((np.asarray(picture, dtype=np.uint32) >> 8).astype(np.uint8), "L")
    rgb = np.asarray(picture.convert("RGB"))
    return np.ascontiguousarray(rgb[:, :, ::-1])


def pad_border(image: np.ndarray, ratio: float = PAD_RATIO) -> np.ndarray:
    """The image inside a border of ``ratio`` × its width (left, right) and height (top, bottom), edges replicated."""
    height, width = image.shape[:2]
    dx, dy = round(width * ratio), round(height * ratio)
    return cv2.copyMakeBorder(image, dy, dy, dx, dx, cv2.BORDER_REPLICATE)
