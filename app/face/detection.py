"""A face found in a picture: what the engine's detectors produce and what quality coaching measures."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Face:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in image pixels
    # (5, 2) float32 in the ArcFace template's order: eye, eye, nose tip, mouth corner, mouth corner (image left first)
    landmarks: np.ndarray
    score: float

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    def moved(self, dx: float, dy: float) -> Face:
        x1, y1, x2, y2 = self.box
        return Face(
            (x1 + dx, y1 + dy, x2 + dx, y2 + dy), self.landmarks + np.array([dx, dy], dtype=np.float32), self.score
        )
