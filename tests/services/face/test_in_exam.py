"""face/in_exam, without the engine: what a frame checked while answering tells the proctors — no face, several
faces, or someone else (only on a usable capture: a dark or blurred frame is no evidence)."""

from __future__ import annotations

import pytest

from app.models import FaceCheck
from app.services.face.in_exam import proctor_events


def check(faces: int, similarity: float | None, match: bool, *findings: str) -> FaceCheck:
    return FaceCheck(faces=faces, similarity=similarity, match=match, findings=[{"code": code} for code in findings])


EVENTS = [
    ("the candidate", check(1, 0.8, True), []),
    ("someone else", check(1, 0.1, False), ["different_person"]),
    ("no face", check(0, None, False, "no_face"), ["face_absent"]),
    ("no face, no findings", check(0, None, False), ["face_absent"]),
    ("two faces, the candidate's the largest", check(2, 0.8, True, "several_faces"), ["several_faces"]),
    ("two faces, neither the candidate", check(2, 0.1, False, "several_faces"), ["several_faces", "different_person"]),
    ("a dark frame that does not match", check(1, 0.1, False, "too_dark"), []),
    ("a blurred frame with two faces", check(2, 0.1, False, "several_faces", "blurry"), ["several_faces"]),
]


@pytest.mark.parametrize(("label", "frame", "events"), EVENTS, ids=[e[0] for e in EVENTS])
def test_proctor_events(label: str, frame: FaceCheck, events: list[str]) -> None:
    assert proctor_events(frame) == events
