"""Reason codes of a violation (and of a manual incident), from the seed's conduct rules, with what each breach does
to the result by default: `zero` (面试成绩按零分处理) or `disqualify` (取消应聘资格)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from app import errors


@dataclass(frozen=True, slots=True)
class ReasonCode:
    code: str
    label: str
    label_en: str
    consequence: str  # zero | disqualify


REASON_CODES: tuple[ReasonCode, ...] = (
    ReasonCode("other_person", "有他人在场", "Another person present", "disqualify"),
    ReasonCode("other_device", "桌面有其他设备或资料", "Another device or material on the desk", "disqualify"),
    ReasonCode("camera_placement", "机位摆放不符合要求", "Camera placement not as required", "disqualify"),
    ReasonCode("left_seat", "上半身不在画面中或离开座位", "Upper body not visible, or left the seat", "zero"),
    ReasonCode("identity_revealed", "透露个人身份信息", "Revealed their identity", "zero"),
    ReasonCode("face_covered", "遮挡面部或耳部、佩戴耳机或口罩", "Face or ears covered, headphones or a mask", "zero"),
    ReasonCode("beauty_filter", "使用美颜或滤镜", "Beauty filter", "zero"),
    ReasonCode("left_recording", "中途退出录制", "Left the recording", "disqualify"),
    ReasonCode("other", "其他（见备注）", "Other (see the note)", "zero"),
)

BY_CODE = {reason.code: reason for reason in REASON_CODES}


def check(codes: Iterable[str]) -> list[str]:
    """The codes, deduplicated in their order; an unknown one is a declared 422."""
    known: list[str] = []
    for code in codes:
        if code not in BY_CODE:
            raise errors.ReasonCodeUnknown(details={"reason_code": code, "known": list(BY_CODE)})
        if code not in known:
            known.append(code)
    return known
