"""What one sampled frame shows: the picture's measures, the faces (upright, whichever way the phone was held), the
head pose of the largest face and, when needed, how like the enrolled face it is."""

from __future__ import annotations

from dataclasses import dataclass, replace

import av
import cv2
import numpy as np

from app.face.detection import Face
from app.face.engine import FaceEngine
from app.flags.measures import Picture, Pose, head_pose, measure
from app.flags.thresholds import Thresholds
from app.flags.video import to_array

# Clockwise turns that make a frame upright, tried in the order phones are most often held wrong.
_TURNS = {0: None, 90: cv2.ROTATE_90_CLOCKWISE, 270: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180}
# A turn is taken only when its one face beats the current turn's best by this (as app.face.engine.locate does).
_TURN_MARGIN = 0.05
# Searching the other turns costs three detections; a recording rarely changes its orientation, so a frame without a
# sure face searches them at most once per this many seconds (a turned recording is found at its first face).
_SEARCH_EVERY_S = 5.0
# A match this close above the threshold is re-checked at the next sample instead of being carried forward.
_DOUBT = 0.1
# Boxes overlapping at least this much in consecutive samples are taken as the same face (its match carries over).
_SAME_FACE_IOU = 0.3


@dataclass(frozen=True, slots=True)
class Seen:
    faces: int
    similarity: float | None  # the one face's similarity to the enrolled one (None: not one face, or no reference)
    pose: Pose | None  # of the largest face
    picture: Picture


class Looker:
    """Looks at the samples of one recording in order; keeps only the previous sample's state."""

    def __init__(self, engine: FaceEngine, reference: np.ndarray | None, limits: Thresholds) -> None:
        self._engine = engine
        self._reference = reference
        self._limits = limits
        self._turn = 0
        self._searched_at = -_SEARCH_EVERY_S
        self._previous: Seen | None = None
        self._grey: np.ndarray | None = None
        self._box: tuple[float, float, float, float] | None = None
        self._embedded_at = -1e9
        self.embeddings = 0

    def look(self, frame: av.VideoFrame, time_s: float, *, repeated: bool) -> Seen:
        if repeated and self._previous is not None:
            # No new frame since the last sample: what a reviewer sees is a still picture.
            seen = replace(self._previous, picture=replace(self._previous.picture, change=0.0))
            self._previous = seen
            return seen
        small, shown = _upright_small(frame, self._limits.detect_side)
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        picture = measure(grey, self._grey, self._limits.frozen_level)
        self._grey = grey
        turn, faces = self._faces(small, time_s)
        pose = head_pose(faces[0].landmarks) if faces else None
        # A dark, blurred or turned-away face is no evidence of who it is: its similarity is not measured.
        judged = not picture.poor(self._limits) and pose is not None and not pose.away(self._limits)
        similarity = self._similarity(frame, shown, turn, small, faces, time_s) if judged else None
        self._box = faces[0].box if len(faces) == 1 else None
        self._previous = Seen(len(faces), similarity, pose, picture)
        return self._previous

    def _detect(self, small: np.ndarray, turn: int) -> list[Face]:
        code = _TURNS[turn]
        image = small if code is None else cv2.rotate(small, code)
        return [face for face in self._engine.analyze(image) if face.score >= self._limits.face_score]

    def _faces(self, small: np.ndarray, time_s: float) -> tuple[int, list[Face]]:
        turn, faces = self._turn, self._detect(small, self._turn)
        best = max((face.score for face in faces), default=0.0)
        if best >= self._engine.sure_score or time_s - self._searched_at < _SEARCH_EVERY_S:
            return turn, faces
        self._searched_at = time_s
        beat = best + _TURN_MARGIN
        for other in _TURNS:
            if other == self._turn:
                continue
            found = self._detect(small, other)
            # Exactly one face: in a wrongly turned picture more are as likely false detections as people.
            if len(found) == 1 and found[0].score >= beat:
                turn, faces, beat = other, found, found[0].score
                if beat >= self._engine.sure_score:
                    break
        if faces and faces[0].score >= self._engine.sure_score:
            self._turn = turn
        return turn, faces

    def _similarity(
        self, frame: av.VideoFrame, shown: int, turn: int, small: np.ndarray, faces: list[Face], time_s: float
    ) -> float | None:
        if self._reference is None or len(faces) != 1:
            return None
        face = faces[0]
        carried = self._previous.similarity if self._previous is not None else None
        threshold = self._engine.spec.threshold
        if (
            carried is not None
            and self._box is not None
            and _iou(face.box, self._box) >= _SAME_FACE_IOU
            and carried >= threshold + _DOUBT
            and time_s - self._embedded_at < self._limits.embed_interval_seconds
        ):
            return carried
        # Alignment uses the full-size frame: only here is it converted.
        full = _turned(_turned(frame.to_ndarray(format="bgr24"), shown), turn)
        scale = full.shape[1] / (small.shape[1] if turn in (0, 180) else small.shape[0])
        big = Face(tuple(v * scale for v in face.box), face.landmarks * np.float32(scale), face.score)  # type: ignore[arg-type]
        self._embedded_at = time_s
        self.embeddings += 1
        return self._engine.compare(self._engine.embed(full, big), self._reference)


def _upright_small(frame: av.VideoFrame, side: int) -> tuple[np.ndarray, int]:
    """The frame at detection size, turned as its display matrix says (phones record portrait video that way)."""
    scale = min(1.0, side / max(frame.width, frame.height))
    width, height = max(1, round(frame.width * scale)), max(1, round(frame.height * scale))
    shown = _display_turn(frame)
    return _turned(to_array(frame, width, height), shown), shown


def _display_turn(frame: av.VideoFrame) -> int:
    try:
        counterclockwise = int(frame.rotation)
    except (AttributeError, ValueError, TypeError):
        return 0
    return (-round(counterclockwise / 90) * 90) % 360  # as a clockwise turn


def _turned(image: np.ndarray, clockwise: int) -> np.ndarray:
    code = _TURNS[clockwise]
    return image if code is None else cv2.rotate(image, code)


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
