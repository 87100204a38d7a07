"""Settings, read once from the environment (prefix DUALCAM_)."""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, PrivateAttr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app import secret_key as keys

# The zone of an exam created without one: 北京时间. The one place the server names it (the phones' default is in
# clients/common/ui.js); everything else reads Settings.timezone or the exam's own zone.
DEFAULT_TIMEZONE = "Asia/Shanghai"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DUALCAM_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("./var")
    database_url: str | None = None
    # Connections per process (PostgreSQL: size + overflow of them, times the replicas, under max_connections), and
    # how long a request waits for one before it is answered 503 server_busy with Retry-After.
    db_pool_size: int = Field(default=10, ge=1, le=500)
    db_pool_overflow: int = Field(default=20, ge=0, le=500)
    db_pool_timeout_seconds: float = Field(default=30.0, gt=0, le=120)
    storage_url: str | None = None
    redis_url: str | None = None
    face_model_dir: Path | None = None
    face_pack: str = "sface"
    timezone: str = DEFAULT_TIMEZONE
    public_base_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    # Keys the ID-number hash, the access codes and the recording links (HMAC); tokens are random and stored hashed.
    # Every process on one database needs the same key. Empty: see ensure_secret_key.
    secret_key: str = Field(default="", repr=False)
    # Clock: empty = system clock. A file path makes the server read "now" from that file
    # (RFC 3339 text): how process-level tests move time without sleeping.
    clock_file: Path | None = None
    scheduler_enabled: bool = True
    scheduler_tick_seconds: float = 1.0
    token_ttl_hours: int = 24 * 14
    # Phones send a heartbeat every heartbeat_seconds; silence longer than presence_timeout_seconds = offline.
    heartbeat_seconds: int = Field(default=10, ge=1)
    presence_timeout_seconds: int = Field(default=30, ge=2)
    ws_max_message_bytes: int = Field(default=16 * 1024, ge=1024)
    # Request bodies (app.api.body_limits), refused with 413 before they are read: JSON routes; multipart image
    # routes (an image is at most 10 MiB, app.services.images, plus the form's overhead); the roster import (a CSV
    # of at most 20 MiB and a zip of photos of at most 500 MiB, plus overhead). tus uploads have their own limit.
    max_json_body_bytes: int = Field(default=1024 * 1024, ge=64 * 1024)
    max_image_body_bytes: int = Field(default=10 * 1024 * 1024 + 64 * 1024, ge=1024 * 1024)
    max_roster_body_bytes: int = Field(default=521 * 1024 * 1024, ge=1024 * 1024)
    # A request's head (request line and headers) in `dualcam serve`: 431 and a closed connection beyond it.
    max_header_bytes: int = Field(default=32 * 1024, ge=8 * 1024)
    # Failed log-ins within the window: per account from one client (the owner elsewhere is not locked out), and per
    # client over every account (a guesser cannot spread over many identifiers). The client is the peer address as
    # uvicorn reports it: behind a reverse proxy, list the proxy in forwarded_allow_ips or every client is the proxy.
    login_max_failures: int = Field(default=5, ge=1)
    login_client_max_failures: int = Field(default=20, ge=1)
    login_window_seconds: int = Field(default=900, ge=1)
    forwarded_allow_ips: str = "127.0.0.1"
    # Per client address in this process, over the window: self-registrations and the candidate's face pictures
    # (ID photo, selfies), so many accounts from one client cannot flood the face engine or the roster.
    client_registrations: int = Field(default=20, ge=1)
    client_face_uploads: int = Field(default=60, ge=1)
    client_window_seconds: int = Field(default=900, ge=1)
    # Face checks: counted failed selfies before manual review; failed gate checks in a row before a cool-down;
    # the least time between two checks of one device (or one candidate's selfies); calls queued for the engine
    # (16 at ~40 ms each is well under a second of waiting; beyond that, 503 face_engine_busy with Retry-After).
    face_identity_max_failures: int = Field(default=5, ge=1)
    face_gate_max_failures: int = Field(default=3, ge=1)
    face_cooldown_seconds: int = Field(default=60, ge=0)
    face_min_interval_seconds: float = Field(default=1.0, ge=0)
    face_max_pending: int = Field(default=16, ge=1)
    # While answering, the main phone sends a still to the in-exam check every this many seconds (live flags);
    # at least twice face_min_interval_seconds' default so a still is never refused as too soon.
    live_still_seconds: int = Field(default=20, ge=2, le=600)
    # How long a signed link to a recording (for ops and reviewers) stays valid.
    recording_link_seconds: int = Field(default=600, ge=10, le=86400)
    # Recording analysis (app.flags, docs/flags.md): how often a recording is sampled, and each flag's thresholds.
    flags_sample_fps: float = Field(default=1.0, gt=0, le=10)
    flags_detect_side: int = Field(default=320, ge=160, le=1280)
    flags_face_score: float = Field(default=0.75, gt=0, lt=1)
    flags_no_face_seconds: float = Field(default=3.0, gt=0)
    flags_several_faces_k: int = Field(default=2, ge=1)
    flags_several_faces_n: int = Field(default=3, ge=1)
    flags_different_person_seconds: float = Field(default=3.0, gt=0)
    flags_embed_interval_seconds: float = Field(default=3.0, gt=0)
    flags_looking_away_seconds: float = Field(default=5.0, gt=0)
    flags_looking_away_yaw: float = Field(default=0.30, gt=0)
    flags_looking_away_pitch_up: float = Field(default=0.25, gt=0, lt=1)
    flags_looking_away_pitch_down: float = Field(default=0.85, gt=0)
    flags_poor_video_seconds: float = Field(default=10.0, gt=0)
    flags_dark_luma: float = Field(default=35.0, ge=0, le=255)
    flags_covered_contrast: float = Field(default=6.0, ge=0)
    flags_blur_sharpness: float = Field(default=6.0, ge=0)
    flags_frozen_level: int = Field(default=3, ge=0, le=255)
    flags_frozen_share: float = Field(default=0.005, ge=0, le=1)
    flags_audio_silent_seconds: float = Field(default=60.0, gt=0)
    flags_audio_floor_dbfs: float = Field(default=-60.0, le=0)
    # Analysis jobs of verified recordings (app.services.flags): worker processes (each loads the face engine once,
    # ~250 MB), how many jobs a worker runs before it is replaced (bounds leaks), the runner loop of this process
    # (off: only `dualcam flags run` analyses), how long a claim holds without news from its worker, how often a
    # running job's progress is written, how many times a failed job is retried and how long after.
    flags_workers: int = Field(default=1, ge=1, le=64)
    flags_tasks_per_child: int = Field(default=20, ge=1)
    flags_runner_enabled: bool = True
    flags_poll_seconds: float = Field(default=5.0, gt=0)
    flags_lease_seconds: int = Field(default=120, ge=10)
    flags_progress_seconds: float = Field(default=5.0, gt=0)
    flags_retries: int = Field(default=3, ge=0, le=20)
    flags_retry_seconds: int = Field(default=60, ge=0)
    # Event flags: a recording shorter than the answer window by more than this, without a manual stop.
    flags_short_recording_seconds: float = Field(default=10.0, ge=0)
    # The review queue: sittings at or above this risk are queued; of the others, this share is drawn for an audit.
    flags_review_min_risk: int = Field(default=20, ge=0, le=100)
    flags_audit_rate: float = Field(default=0.05, ge=0, le=1)
    # A reviewer's claim on a sitting runs out after this long (renewed by claiming again), so nobody blocks it for long.
    review_claim_minutes: int = Field(default=30, ge=1, le=24 * 60)
    log_json: bool = True
    # Prometheus metrics: at /metrics for an ops bearer token, unless this names another listen address
    # ("10.0.0.5:9464", a private network for the scraper) where they are served without a token, and /metrics is gone.
    metrics_listen: str | None = Field(default=None, pattern=r"^[^\s:]+:\d{1,5}$")
    # With metrics_listen, how often the database's numbers (analysis jobs, sittings per state) are read.
    metrics_refresh_seconds: float = Field(default=15.0, gt=0)
    # argon2id cost; defaults are argon2-cffi's (RFC 9106 low-memory profile). Lowered only by the test suite.
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=8)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value

    _secret_key_file: keys.KeyFile | None = PrivateAttr(default=None)

    def ensure_secret_key(self) -> keys.KeyFile | None:
        """Check or fill `secret_key` at start (serve, the app's lifespan, CLI commands on the database), not when
        the settings are built: so `dualcam models fetch` in a build step needs no key. Production: the key must
        come from the environment and be strong (SecretKeyError otherwise). Elsewhere an unset key is read from, or
        generated into, <data_dir>/secret_key; the file is returned, so the server can warn about it."""
        if self.env == "production":
            keys.check_production_key(self.secret_key)
        elif not self.secret_key:
            self._secret_key_file = keys.load_or_create(self.data_dir / keys.FILE_NAME)
            self.secret_key = self._secret_key_file.key
        return self._secret_key_file

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'dualcam.sqlite3').resolve()}"

    @cached_property
    def resolved_storage_url(self) -> str:
        if self.storage_url:
            return self.storage_url
        return (self.data_dir / "objects").resolve().as_uri()

    @cached_property
    def resolved_face_model_dir(self) -> Path:
        return (self.face_model_dir or self.data_dir / "models").resolve()

    @property
    def review_claim_timedelta(self) -> timedelta:
        return timedelta(minutes=self.review_claim_minutes)

    @property
    def recording_link_timedelta(self) -> timedelta:
        return timedelta(seconds=self.recording_link_seconds)

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")
