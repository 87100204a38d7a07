"""The face engine as the exam flows use it: a narrow port, its limits, the per-process throttle, and loading the
configured pack once per process."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

import numpy as np

from app import errors
from app.adapters.storage import ObjectStore
from app.config import Settings
from app.face import ModelsMissing
from app.face.packs import PackSpec, get_pack, pack_dir
from app.logs import get_logger

if TYPE_CHECKING:
    from app.face.engine import AsyncFaceEngine, Enrollment, VerifyResult

log = get_logger(__name__)


class FacePort(Protocol):
    """What the exam flows need of the engine (app.face.engine.AsyncFaceEngine): a narrow port, so the services
    import none of the heavy libraries and the API starts without them."""

    @property
    def spec(self) -> PackSpec: ...

    # `key` is the caller (a candidate): the engine holds one call per key at a time. The engine judges each picture
    # on its header against its use: enroll takes an ID photo, verify a live capture (app.face.budgets).
    async def enroll(self, image: bytes, *, key: str | None = None) -> Enrollment: ...

    async def verify(self, probe: bytes, reference: np.ndarray, *, key: str | None = None) -> VerifyResult: ...


@dataclass(frozen=True, slots=True)
class FacePolicy:
    identity_max_failures: int
    gate_max_failures: int
    cooldown: timedelta
    min_interval: timedelta
    presence_timeout: timedelta

    @classmethod
    def of(cls, settings: Settings) -> FacePolicy:
        return cls(
            identity_max_failures=settings.face_identity_max_failures,
            gate_max_failures=settings.face_gate_max_failures,
            cooldown=timedelta(seconds=settings.face_cooldown_seconds),
            min_interval=timedelta(seconds=settings.face_min_interval_seconds),
            presence_timeout=timedelta(seconds=settings.presence_timeout_seconds),
        )


class Throttle:
    """At most one face request per key (a phone, a candidate's selfies) per interval, in this process.

    The first line against a flood: it holds before the previous attempt's row exists (inference takes tens of ms),
    and for bad input, which leaves no row. The database check (`checks.recent_attempt`) covers several processes.
    """

    def __init__(self, max_keys: int = 100_000) -> None:
        self._last: dict[str, datetime] = {}
        self._max_keys = max_keys

    def hit(self, key: str, *, now: datetime, interval: timedelta) -> None:
        last = self._last.get(key)
        if last is not None and last <= now < last + interval:
            raise rate_limited(last + interval - now)
        if len(self._last) >= self._max_keys:
            self._last = {k: t for k, t in self._last.items() if t + interval > now}
        self._last[key] = now


@dataclass(frozen=True, slots=True)
class Faces:
    """Everything a face flow needs besides the session: engine, object store, limits, and the throttle."""

    engine: FacePort
    store: ObjectStore
    policy: FacePolicy
    throttle: Throttle


def rate_limited(wait: timedelta) -> errors.DualcamError:
    return errors.FaceRateLimited(details={"retry_after": seconds(wait)}, headers={"Retry-After": str(seconds(wait))})


def seconds(wait: timedelta) -> int:
    """Whole seconds to wait, at least one (what Retry-After carries)."""
    return max(1, math.ceil(wait.total_seconds()))


async def open_engine(settings: Settings) -> AsyncFaceEngine | None:
    """Load the configured pack once per process; None (and a clear error in the log) when it cannot be: the API
    still starts, and face endpoints answer 503 face_models_missing until ops fetch the models and restart."""
    directory = settings.resolved_face_model_dir
    try:
        spec = get_pack(settings.face_pack)
        absent = [f.name for f in spec.files if not (pack_dir(directory, spec.name) / f.name).is_file()]
        if absent:
            # Checked before importing the engine: cv2, onnxruntime and insightface cost ~2 s of start-up.
            raise ModelsMissing(f"{pack_dir(directory, spec.name)}: missing {', '.join(absent)}")
        from app.face.engine import AsyncFaceEngine

        return await AsyncFaceEngine.load(directory, settings.face_pack, max_pending=settings.face_max_pending)
    except Exception as exc:  # a missing or broken pack must not keep the rest of the API down
        log.error(
            "face.engine.unavailable",
            pack=settings.face_pack,
            model_dir=str(directory),
            code=getattr(exc, "code", type(exc).__name__),
            detail=str(exc),
            fix=f"dualcam models fetch --pack {settings.face_pack} (or set DUALCAM_FACE_MODEL_DIR), then restart",
        )
        return None


def close_engine(engine: AsyncFaceEngine | None) -> None:
    if engine is not None:
        engine.close()
