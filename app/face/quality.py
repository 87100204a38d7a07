"""Quality coaching: what is wrong with a capture, in words a candidate can act on (zh-CN and English).

Findings come before a failure counts: a dark, blurred or crowded picture says nothing about identity. Thresholds
are calibrated on tests/data/faces (every good photo passes) and on synthesised bad captures
(tests/face/test_face_quality.py); the numbers are in docs/face.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from app.face.detection import Face

# Face width below which recognition degrades (the recogniser sees 112 px) and a candidate should come closer:
# in pixels, and as a share of the picture's shorter side (a phone capture at arm's length is ~0.3).
MIN_FACE_PX = 60
MIN_FACE_SHARE = 0.12
# A face box wider than this share of the picture, or reaching this far outside it, is cut off or too close.
MAX_FACE_SHARE = 0.8
MAX_OUTSIDE_SHARE = 0.1
# Mean luma (0..255) of the face region.
MIN_FACE_LUMA = 55.0
# Backlit: a bright surround and a face much darker than it.
BACKLIT_MIN_SURROUND = 150.0
BACKLIT_MAX_RATIO = 0.55
# Sharpness: variance of the Laplacian of the face region scaled to BLUR_SIDE px wide (independent of face size),
# divided by the region's own variance (independent of exposure: a dark face is not a blurred one).
# Good photos here measure 0.066-0.42; blurred by a fiftieth of the face width (~6 px on a 300 px face), <= 0.011.
BLUR_SIDE = 128
MIN_SHARPNESS = 0.02


@dataclass(frozen=True)
class Hint:
    message: str
    message_en: str


HINTS: dict[str, Hint] = {
    "no_face": Hint(
        "未检测到人脸，请正对摄像头，让整张脸出现在画面中",
        "No face found: face the camera with your whole face in the picture",
    ),
    # Found only in the picture turned (app.face.engine.ROTATIONS): the phone is sideways or upside down.
    "not_upright": Hint("画面方向不对：请将手机竖直摆放", "The picture is sideways or upside down: hold the phone upright"),
    "several_faces": Hint(
        "画面中有多张人脸，请确保镜头前只有您本人",
        "Several faces in the picture: make sure only you are in front of the camera",
    ),
    "face_too_small": Hint("人脸太小，请靠近摄像头", "Your face is too small: move closer to the camera"),
    "face_too_close": Hint(
        "距离太近或脸部超出画面，请稍微远离摄像头，让整张脸完整出现",
        "Too close or your face is cut off: move back until your whole face is in the picture",
    ),
    "too_dark": Hint("光线太暗，请到明亮处或打开灯光", "Too dark: move somewhere brighter or turn on a light"),
    "backlit": Hint(
        "逆光：脸部比背景暗很多，请面向光源，避免背对窗户或灯光",
        "Backlit: your face is much darker than the background; face the light, not a window or lamp behind you",
    ),
    "blurred": Hint("画面模糊，请保持手机稳定并擦拭镜头", "Blurred: hold the phone still and wipe the lens"),
}


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    message_en: str
    value: float | None = None  # the measurement that tripped the check, for logs and calibration
    limit: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code, "message": self.message, "message_en": self.message_en,
            "value": self.value, "limit": self.limit,
        }  # fmt: skip


def finding(code: str, value: float | None = None, limit: float | None = None) -> Finding:
    hint = HINTS[code]
    return Finding(code, hint.message, hint.message_en, None if value is None else round(value, 3), limit)


@dataclass(frozen=True)
class Measures:
    face_px: float
    face_share: float
    outside_share: float
    face_luma: float
    surround_luma: float
    sharpness: float


def measure(image: np.ndarray, face: Face) -> Measures:
    """The numbers the checks look at, for the largest face."""
    height, width = image.shape[:2]
    x1, y1, x2, y2 = face.box
    face_w, face_h = x2 - x1, y2 - y1
    outside = max(-x1, -y1, x2 - width, y2 - height, 0.0) / max(face_w, face_h, 1.0)
    left, top = max(int(x1), 0), max(int(y1), 0)
    right, bottom = min(int(np.ceil(x2)), width), min(int(np.ceil(y2)), height)
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    region = grey[top:bottom, left:right]
    if region.size == 0:
        # Only a face found in the border added around a tight crop can lie wholly outside the picture: too_close
        # says so; light and sharpness stay unmeasured rather than reported as dark and blurred.
        overall = float(grey.mean())
        return Measures(face_w, face_w / min(width, height), outside, overall, overall, float("inf"))
    mask = np.ones(grey.shape, dtype=bool)
    mask[top:bottom, left:right] = False
    surround = float(grey[mask].mean()) if mask.any() else float(region.mean())
    scale = BLUR_SIDE / region.shape[1]
    shrink = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    scaled = cv2.resize(region, None, fx=scale, fy=scale, interpolation=shrink).astype(np.float64)
    sharpness = float(cv2.Laplacian(scaled, cv2.CV_64F).var() / (scaled.var() + 1.0))
    return Measures(face_w, face_w / min(width, height), outside, float(region.mean()), surround, sharpness)


def assess(image: np.ndarray, faces: Sequence[Face], *, tight_crop: bool = False) -> list[Finding]:
    """Findings for a picture and its faces (largest first); empty when it is fine.

    ``tight_crop``: the picture is an ID photo, where a face filling the frame is expected, not a capture to coach.
    """
    if not faces:
        return [finding("no_face")]
    findings = []
    if len(faces) > 1:
        findings.append(finding("several_faces", len(faces), 1))
    m = measure(image, faces[0])
    if not tight_crop and m.outside_share > MAX_OUTSIDE_SHARE:
        findings.append(finding("face_too_close", m.outside_share, MAX_OUTSIDE_SHARE))
    elif not tight_crop and m.face_share > MAX_FACE_SHARE:
        findings.append(finding("face_too_close", m.face_share, MAX_FACE_SHARE))
    elif m.face_px < MIN_FACE_PX:
        findings.append(finding("face_too_small", m.face_px, MIN_FACE_PX))
    elif m.face_share < MIN_FACE_SHARE:
        findings.append(finding("face_too_small", m.face_share, MIN_FACE_SHARE))
    # Backlit first: a face dark against a bright window is fixed by turning around, not by more light.
    if m.surround_luma >= BACKLIT_MIN_SURROUND and m.face_luma < BACKLIT_MAX_RATIO * m.surround_luma:
        findings.append(finding("backlit", m.face_luma / m.surround_luma, BACKLIT_MAX_RATIO))
    elif m.face_luma < MIN_FACE_LUMA:
        findings.append(finding("too_dark", m.face_luma, MIN_FACE_LUMA))
    if m.sharpness < MIN_SHARPNESS:
        findings.append(finding("blurred", m.sharpness, MIN_SHARPNESS))
    return findings
