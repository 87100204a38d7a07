"""The face engine: detect (box, 5 landmarks, score), embed (unit vector), compare (cosine), per model pack.

Both packs share the recognition path: insightface's ``norm_crop`` aligns the face from its 5 landmarks to the
ArcFace 112×112 template and ``ArcFaceONNX`` runs the recogniser on onnxruntime. They differ in the detector: YuNet
through OpenCV for ``sface``, SCRFD through ``insightface.app.FaceAnalysis`` for the buffalo packs.

Over 300 lines on purpose: the packs, enroll/verify on top of them and the event loop's wrapper share one path from
picture to similarity, and tests and docs import them all from here.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import cv2
import numpy as np
import onnxruntime as ort
from insightface.app import FaceAnalysis
from insightface.model_zoo.arcface_onnx import ArcFaceONNX
from insightface.utils.face_align import norm_crop
from PIL import Image

from app.face import EmbeddingMismatch, FaceEngineBusy, FaceRequestPending
from app.face.detection import Face
from app.face.budgets import ID_PHOTO, LIVE_CAPTURE, Budget, open_image
from app.face.images import decode_image, pad_border
from app.face.packs import PackSpec, get_pack, require_pack
from app.face.recogniser import open_recogniser
from app.face.quality import Finding, assess, finding
from app import metrics
from app.logs import get_logger

log = get_logger(__name__)
T = TypeVar("T")

# norm_crop calls scikit-image's deprecated SimilarityTransform.estimate on every alignment: without this filter each
# verification prints a FutureWarning. It is insightface's to fix (scikit-image 2.2 removes the method; insightface is
# pinned to 2.1 and scikit-image 0.26 is what it resolves to). Tests filter it in their own configuration.
warnings.filterwarnings(
    "ignore", message="`estimate` is deprecated", category=FutureWarning, module="insightface.utils.face_align"
)

# YuNet's cost grows with the input area: 16 ms at 640×480 against 5 ms at 320×240 here, while a candidate's face
# (~150 px of a 640×480 capture) or an ID photo's stays far above its ~10 px floor at 320 (a face of 20 px in the
# capture still counts for several_faces). Boxes and landmarks are scaled back, so alignment uses every pixel; the
# similarities of tests/data/faces at 320 and 640 differ by < 0.05 (docs/face.md).
YUNET_SIDE = 320
YUNET_SCORE = 0.7
YUNET_NMS = 0.3
# A phone held sideways or upside down sends a turned picture. Both detectors look for upright faces, yet they still
# find a turned face now and then, with a lower score and landmarks in the wrong places (an upside-down face scored
# 0.74-0.88 by YuNet on every test photo, against 0.93-0.95 upright; SCRFD 0.51-0.77 against 0.84-0.89). So the
# picture is turned (degrees clockwise, in the order phones are most often held wrong) and searched again when no
# face was found, or none with the score of a face the right way up: at most these three extra detections, never for
# a capture whose face is sure. A turn is taken only when it finds exactly one face that beats the upright best by
# TURN_MARGIN (the right way up beat every wrong one by 0.06 or more).
ROTATIONS = ((90, cv2.ROTATE_90_CLOCKWISE), (270, cv2.ROTATE_90_COUNTERCLOCKWISE), (180, cv2.ROTATE_180))
YUNET_SURE = 0.9
SCRFD_SURE = 0.8
TURN_MARGIN = 0.05
# SCRFD letterboxes into a square; 640 is insightface's own size for it.
SCRFD_SIZE = (640, 640)
SCRFD_SCORE = 0.5


class FaceEngine(Protocol):
    spec: PackSpec
    # A detection at least this confident is taken as the right way up: no turned picture is tried (ROTATIONS).
    sure_score: float

    def analyze(self, image: np.ndarray) -> list[Face]:
        """Faces in a BGR image, largest first."""
        ...

    def embed(self, image: np.ndarray, face: Face) -> np.ndarray:
        """Unit-length embedding of one face found in ``image``."""
        ...

    def compare(self, a: np.ndarray, b: np.ndarray) -> float:
        """Cosine similarity of two embeddings of this pack."""
        ...


def session_options() -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    options.inter_op_num_threads = 1
    # Spinning idle workers keep burning the cores that the API and the detector need between runs; on these shared
    # 2-core machines that doubled the latency (DESIGN.md).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # SFace's graph lists its weights as inputs; ORT warns once per weight at load, which says nothing to us.
    options.log_severity_level = 3
    return options


PROVIDERS = ["CPUExecutionProvider"]


class _ArcFaceRecogniser:
    """Embedding and comparison shared by every pack: norm_crop alignment + an ArcFace-style ONNX recogniser."""

    def __init__(self, recogniser: ArcFaceONNX) -> None:
        self._recogniser = recogniser
        self._size = int(recogniser.input_size[0])
        self.dimension = int(recogniser.output_shape[-1])

    def embed(self, image: np.ndarray, face: Face) -> np.ndarray:
        aligned = norm_crop(image, face.landmarks, image_size=self._size)
        vector = np.asarray(self._recogniser.get_feat(aligned), dtype=np.float32).ravel()
        return vector / max(float(np.linalg.norm(vector)), 1e-12)

    def compare(self, a: np.ndarray, b: np.ndarray) -> float:
        if a.shape != (self.dimension,) or b.shape != (self.dimension,):
            raise EmbeddingMismatch(f"embeddings {a.shape} and {b.shape}, this pack makes ({self.dimension},)")
        return float(np.clip(np.dot(a, b), -1.0, 1.0))


class SFacePack(_ArcFaceRecogniser):
    """YuNet (OpenCV FaceDetectorYN) + SFace (ArcFaceONNX on onnxruntime). MIT + Apache-2.0."""

    sure_score = YUNET_SURE

    def __init__(self, model_dir: Path) -> None:
        self.spec = get_pack("sface")
        directory = require_pack(model_dir, self.spec)
        self._detector = cv2.FaceDetectorYN.create(
            str(directory / self.spec.detector.name), "", (YUNET_SIDE, YUNET_SIDE), YUNET_SCORE, YUNET_NMS, 50
        )
        # cv2's detector keeps its input size as state: one caller at a time.
        self._detector_lock = threading.Lock()
        self._detector_size = (YUNET_SIDE, YUNET_SIDE)
        recogniser = open_recogniser(
            directory / self.spec.recogniser.name, session_options(), session_options(), PROVIDERS
        )
        super().__init__(recogniser)

    def analyze(self, image: np.ndarray) -> list[Face]:
        height, width = image.shape[:2]
        scale = min(1.0, YUNET_SIDE / max(height, width))
        small = image if scale == 1.0 else cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        size = (small.shape[1], small.shape[0])
        with self._detector_lock:
            if size != self._detector_size:  # resizing rebuilds the network's buffers: only when the size changes
                self._detector.setInputSize(size)
                self._detector_size = size
            _, rows = self._detector.detect(small)
        if rows is None:
            return []
        faces = []
        # A row is x, y, w, h, then 5 landmarks (x, y) in the ArcFace order, then the score.
        for row in rows:
            x, y, w, h = (float(v) / scale for v in row[:4])
            landmarks = (row[4:14].reshape(5, 2) / scale).astype(np.float32)
            faces.append(Face((x, y, x + w, y + h), landmarks, float(row[14])))
        return sorted(faces, key=lambda f: f.width * f.height, reverse=True)


class InsightfacePack(_ArcFaceRecogniser):
    """SCRFD + ArcFace through insightface's FaceAnalysis (buffalo_s, buffalo_l). NON-COMMERCIAL weights."""

    sure_score = SCRFD_SURE

    def __init__(self, model_dir: Path, pack: str) -> None:
        self.spec = get_pack(pack)
        # FaceAnalysis downloads from the internet when its model dir is missing: check our files first, then hand it
        # the directory itself (an existing directory as `name` is used as is) with an explicit local root, so no
        # path of it can reach ensure_available()'s download.
        directory = require_pack(model_dir, self.spec).resolve()
        analysis = FaceAnalysis(
            name=str(directory),
            root=str(Path(model_dir).resolve()),
            allowed_modules=["detection", "recognition"],
            providers=PROVIDERS,
            sess_options=session_options(),
        )
        analysis.prepare(ctx_id=0, det_thresh=SCRFD_SCORE, det_size=SCRFD_SIZE)
        self._detector = analysis.det_model
        self._detector_lock = threading.Lock()
        super().__init__(analysis.models["recognition"])
        log.warning("face.pack.non_commercial", pack=pack, licence=self.spec.licence)

    def analyze(self, image: np.ndarray) -> list[Face]:
        with self._detector_lock:
            boxes, landmarks = self._detector.detect(image, max_num=0)
        faces = [
            Face((float(box[0]), float(box[1]), float(box[2]), float(box[3])), points.astype(np.float32), float(box[4]))
            for box, points in zip(boxes, landmarks, strict=True)
        ]
        return sorted(faces, key=lambda f: f.width * f.height, reverse=True)


_engines: dict[tuple[str, str], FaceEngine] = {}
_engines_lock = threading.Lock()


def load_engine(model_dir: Path, pack: str = "sface") -> FaceEngine:
    """The engine of a pack, loaded once per process and model directory (sessions are thread-safe to share)."""
    key = (str(Path(model_dir).resolve()), pack)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            get_pack(pack)  # an unknown name fails here, before anything loads
            started = time.perf_counter()
            engine = SFacePack(Path(model_dir)) if pack == "sface" else InsightfacePack(Path(model_dir), pack)
            _engines[key] = engine
            log.info(
                "face.pack.loaded", pack=pack, dir=key[0], threads=os.cpu_count(),
                load_ms=round((time.perf_counter() - started) * 1000, 1),
            )  # fmt: skip
        return engine


@dataclass(frozen=True, eq=False)
class Located:
    """Faces of a picture, largest first, in its coordinates (a face cut off by the frame reaches outside it)."""

    image: np.ndarray
    faces: list[Face]
    # When the faces were only found with a border around the picture (tight crops): that bigger picture, and where
    # the original's top-left corner sits in it. Embeddings are taken there, so no part of the face is cut off.
    padded: np.ndarray | None = None
    offset: tuple[int, int] = (0, 0)
    # Degrees the original was turned clockwise to find the face (``image`` is the turned picture); 0: upright.
    rotation: int = 0

    def embed(self, engine: FaceEngine, index: int = 0) -> np.ndarray:
        face = self.faces[index]
        if self.padded is None:
            return engine.embed(self.image, face)
        return engine.embed(self.padded, face.moved(*self.offset))


def locate(engine: FaceEngine, image: np.ndarray) -> Located:
    """Faces upright, then inside a border (tight crops); when none was found there, or none surely, in the picture
    turned by 90, 270 or 180 degrees (ROTATIONS)."""
    located = _upright(engine, image)
    best = max((face.score for face in located.faces), default=0.0)
    if best >= engine.sure_score:
        return located
    return _turned(engine, image, beat=best + TURN_MARGIN) or located


def _upright(engine: FaceEngine, image: np.ndarray) -> Located:
    faces = engine.analyze(image)
    if faces:
        return Located(image, faces)
    padded = pad_border(image)
    dx, dy = (padded.shape[1] - image.shape[1]) // 2, (padded.shape[0] - image.shape[0]) // 2
    faces = [face.moved(-dx, -dy) for face in engine.analyze(padded)]
    return Located(image, faces, padded, (dx, dy)) if faces else Located(image, [])


def _turned(engine: FaceEngine, image: np.ndarray, *, beat: float) -> Located | None:
    """The turn whose one face scores best, if it scores at least ``beat``; a sure one ends the search."""
    found: Located | None = None
    for degrees, code in ROTATIONS:
        turned = cv2.rotate(image, code)
        faces = engine.analyze(turned)
        # Exactly one face: in a turned picture more are as likely false detections as other people.
        if len(faces) != 1 or faces[0].score < beat:
            continue
        found, beat = Located(turned, faces, rotation=degrees), faces[0].score
        if beat >= engine.sure_score:
            break
    return found


def _findings(located: Located, *, tight_crop: bool = False) -> list[Finding]:
    """Quality findings; a turned picture first asks for the phone upright (the recording would be turned too)."""
    found = assess(located.image, located.faces, tight_crop=tight_crop)
    return [finding("not_upright", located.rotation), *found] if located.rotation else found


@dataclass(frozen=True, eq=False)
class Enrollment:
    """A reference template (ID photo or enrolment capture); ``embedding`` is None when no face was found."""

    embedding: np.ndarray | None
    pack: str
    faces: int
    findings: list[Finding] = field(default_factory=list)


@dataclass(frozen=True)
class VerifyResult:
    """One probe against a reference. ``match`` is biometric only; ``findings`` coach the candidate: an attempt with
    findings is a capture problem to retry, not a failed identity check."""

    similarity: float | None
    threshold: float
    match: bool
    pack: str
    faces: int
    findings: list[Finding] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "similarity": None if self.similarity is None else round(self.similarity, 4),
            "threshold": self.threshold,
            "match": self.match,
            "pack": self.pack,
            "faces": self.faces,
            "findings": [finding.to_dict() for finding in self.findings],
        }


def enroll(engine: FaceEngine, image: np.ndarray) -> Enrollment:
    """Template of the largest face of a reference picture, usually an ID photo (a tight crop is fine there)."""
    located = locate(engine, image)
    findings = _findings(located, tight_crop=True)
    embedding = located.embed(engine) if located.faces else None
    return Enrollment(embedding, engine.spec.name, len(located.faces), findings)


def verify(engine: FaceEngine, probe: np.ndarray, reference: np.ndarray) -> VerifyResult:
    """Compare the largest face of ``probe`` with a reference embedding of the same pack."""
    threshold = engine.spec.threshold
    located = locate(engine, probe)
    findings = _findings(located)
    if not located.faces:
        return VerifyResult(None, threshold, False, engine.spec.name, 0, findings)
    similarity = engine.compare(located.embed(engine), reference)
    return VerifyResult(similarity, threshold, similarity >= threshold, engine.spec.name, len(located.faces), findings)


class AsyncFaceEngine:
    """The engine for the event loop: decoding and inference run on a small thread pool; excess calls are refused.

    One worker by default: each inference already spreads over every core (intra_op threads), so parallel requests
    would only contend. Before a call may queue, the picture's header is judged against its use's budget on the
    loop (an oversized picture is refused in microseconds and never takes a place). ``max_pending`` bounds calls
    queued or running, past it ``FaceEngineBusy``; ``max_pending_per_key`` bounds those of one caller (a candidate),
    past it ``FaceRequestPending``: one caller's burst cannot fill the queue, so everyone else waits for at most the
    calls of other callers. A call counts until its work has finished in the worker, even when the request waiting
    for it went away.
    """

    def __init__(self, engine: FaceEngine, *, workers: int = 1, max_pending: int = 8, max_pending_per_key: int = 1) -> None:
        self.engine = engine
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="face")
        self._max_pending = max_pending
        self._max_pending_per_key = max_pending_per_key
        self._pending = 0
        self._by_key: dict[str, int] = {}

    @classmethod
    async def load(cls, model_dir: Path, pack: str = "sface", **options: int) -> AsyncFaceEngine:
        engine = await asyncio.to_thread(load_engine, model_dir, pack)
        return cls(engine, **options)

    @property
    def spec(self) -> PackSpec:
        return self.engine.spec

    async def _run(self, work: Callable[[], T], key: str | None) -> T:
        if self._pending >= self._max_pending:
            metrics.face_busy.inc()
            log.warning("face.engine.busy", pending=self._pending)
            raise FaceEngineBusy(f"{self._pending} face calls pending")
        if key is not None and self._by_key.get(key, 0) >= self._max_pending_per_key:
            raise FaceRequestPending(f"{self._by_key[key]} face calls pending for this caller")
        loop = asyncio.get_running_loop()
        self._hold(key, +1)
        try:
            future = self._executor.submit(work)
        except BaseException:
            self._hold(key, -1)
            raise
        # Released when the work is done (or cancelled before it started), not when the awaiting request stops
        # waiting: a client that disconnects must not free a place while its picture still occupies the worker.
        future.add_done_callback(lambda _: self._release_soon(loop, key))
        with metrics.face_latency.time():
            return await asyncio.wrap_future(future)

    def _release_soon(self, loop: asyncio.AbstractEventLoop, key: str | None) -> None:
        """From the worker thread: the counters belong to the event loop's thread."""
        try:
            loop.call_soon_threadsafe(self._hold, key, -1)
        except RuntimeError:
            pass  # the loop has closed (shutdown): nobody is left to count for

    def _hold(self, key: str | None, delta: int) -> None:
        self._pending += delta
        metrics.face_pending.set(self._pending)
        if key is not None:
            count = self._by_key.get(key, 0) + delta
            if count > 0:
                self._by_key[key] = count
            else:
                self._by_key.pop(key, None)

    async def analyze(self, image: bytes | np.ndarray, *, key: str | None = None, budget: Budget = ID_PHOTO) -> Located:
        picture = _opened(image, budget)
        return await self._run(lambda: locate(self.engine, _as_image(picture)), key)

    async def enroll(self, image: bytes | np.ndarray, *, key: str | None = None, budget: Budget = ID_PHOTO) -> Enrollment:
        """A reference picture: an ID photo by default."""
        picture = _opened(image, budget)
        return await self._run(lambda: enroll(self.engine, _as_image(picture)), key)

    async def verify(
        self, probe: bytes | np.ndarray, reference: np.ndarray, *, key: str | None = None, budget: Budget = LIVE_CAPTURE
    ) -> VerifyResult:
        """A probe: a live capture by default."""
        picture = _opened(probe, budget)
        return await self._run(lambda: verify(self.engine, _as_image(picture), reference), key)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


def _opened(image: bytes | np.ndarray, budget: Budget) -> Image.Image | np.ndarray:
    """Bytes as a picture whose header passed ``budget`` (raises otherwise); an array as it is."""
    return open_image(image, budget) if isinstance(image, bytes) else image


def _as_image(image: Image.Image | np.ndarray) -> np.ndarray:
    return decode_image(image) if isinstance(image, Image.Image) else image
