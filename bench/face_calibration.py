"""Genuine and impostor similarity distributions per pack on tests/data/faces and insightface's group photo.

Prints JSON. Genuine pairs: the same person years apart (person_a_1/2, person_b_1/2). Impostor pairs: every other pair
of the test photos, every pair of the six faces of t1.jpg, and each t1 face against each test photo. A pack's
threshold is supported when every genuine pair is at or above it and every impostor pair below it.

    python bench/face_calibration.py [--model-dir DIR] [--pack NAME ...]
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import insightface
import numpy as np

from app.face import FaceError
from app.face.engine import FaceEngine, enroll, load_engine
from app.face.images import decode_image
from app.face.packs import PACKS, default_model_dir

FACES = Path(__file__).resolve().parents[1] / "tests" / "data" / "faces"
GROUP = Path(insightface.__file__).parent / "data" / "images" / "t1.jpg"
SAME_PERSON = {("person_a_1", "person_a_2"), ("person_b_1", "person_b_2")}


def templates(engine: FaceEngine) -> dict[str, np.ndarray]:
    result: dict[str, np.ndarray] = {}
    for path in sorted(FACES.glob("*.jpg")):
        embedding = enroll(engine, decode_image(path.read_bytes())).embedding
        if embedding is None:
            raise SystemExit(f"{engine.spec.name}: no face in {path.name}")
        result[path.stem] = embedding
    group = decode_image(GROUP.read_bytes())
    for index, face in enumerate(engine.analyze(group)):
        result[f"t1_face{index}"] = engine.embed(group, face)
    return result


def summary(values: list[float]) -> dict[str, float | int]:
    array = np.array(values)
    return {
        "n": len(values),
        "min": round(float(array.min()), 4),
        "mean": round(float(array.mean()), 4),
        "max": round(float(array.max()), 4),
    }


def calibrate(engine: FaceEngine) -> dict[str, object]:
    embeddings = templates(engine)
    threshold = engine.spec.threshold
    genuine: dict[str, float] = {}
    impostor: dict[str, float] = {}
    for a, b in itertools.combinations(sorted(embeddings), 2):
        similarity = engine.compare(embeddings[a], embeddings[b])
        (genuine if (a, b) in SAME_PERSON else impostor)[f"{a}~{b}"] = similarity
    hardest = sorted(impostor.items(), key=lambda item: item[1], reverse=True)[:3]
    return {
        "threshold": threshold,
        "basis": engine.spec.threshold_basis,
        "faces": len(embeddings),
        "genuine": {**summary(list(genuine.values())), "pairs": {k: round(v, 4) for k, v in genuine.items()}},
        "impostor": {**summary(list(impostor.values())), "highest": {k: round(v, 4) for k, v in hardest}},
        "false_rejects": sorted(k for k, v in genuine.items() if v < threshold),
        "false_accepts": sorted(k for k, v in impostor.items() if v >= threshold),
        "margin_above": round(min(genuine.values()) - threshold, 4),
        "margin_below": round(threshold - max(impostor.values()), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--pack", action="append", choices=list(PACKS))
    args = parser.parse_args()
    model_dir = args.model_dir or default_model_dir()
    report: dict[str, object] = {}
    for name in args.pack or list(PACKS):
        try:
            report[name] = calibrate(load_engine(model_dir, name))
        except FaceError as exc:
            report[name] = exc.body()
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
