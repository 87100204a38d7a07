"""Photos and pairs the face tests share (tests/data/faces, credits in CREDITS.md beside them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.face.images import decode_image

ROOT = Path(__file__).resolve().parents[2]
FACES = ROOT / "tests" / "data" / "faces"
SAME_PERSON = [("person_a_1", "person_a_2"), ("person_b_1", "person_b_2")]
PEOPLE = ["person_a_1", "person_a_2", "person_b_1", "person_b_2", "impostor_1", "impostor_2"]
DIFFERENT_PEOPLE = [(a, b) for i, a in enumerate(PEOPLE) for b in PEOPLE[i + 1 :] if (a, b) not in SAME_PERSON]


def photo_bytes(name: str) -> bytes:
    return (FACES / f"{name}.jpg").read_bytes()


def photo(name: str) -> np.ndarray:
    return decode_image(photo_bytes(name))


def group_photo_path() -> Path:
    """insightface's own group photo (six faces), shipped in its wheel."""
    import insightface

    return Path(insightface.__file__).parent / "data" / "images" / "t1.jpg"


def group_photo() -> np.ndarray:
    return decode_image(group_photo_path().read_bytes())
