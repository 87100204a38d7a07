"""Image intake: untrusted bytes to a BGR array, refusing what could hurt us before any pixel is decoded."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image, ImageOps

from app.face import CorruptImage
from app.face.budgets import ID_PHOTO, LIVE_CAPTURE, Budget, open_image

__all__ = ["ID_PHOTO", "LIVE_CAPTURE", "WORK_SIDE", "Budget", "decode_image", "open_image", "pad_border"]

# Detection and a 112 px aligned crop need nothing near a full phone resolution: what is decoded is shrunk to this.
WORK_SIDE = 1600
# Tight ID-photo crops leave the detector no context around the face; a border of this share of each side helps.
PAD_RATIO = 0.25


def decode_image(data: bytes | Image.Image, budget: Budget = ID_PHOTO, *, work_side: int = WORK_SIDE) -> np.ndarray:
    """Decode JPEG/PNG/WebP bytes (or a picture from ``open_image``) into an upright BGR uint8 array whose longer side
    is at most ``work_side``; never more than ``budget`` allows is decoded."""
    picture = data if isinstance(data, Image.Image) else open_image(data, budget)
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
