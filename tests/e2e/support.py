"""Browser end-to-end support: a real `dualcam serve` on a free loopback port with a ticking file clock, an ops and a
candidate client over HTTP, a fake camera made of a test photo, and helpers the tests share.

Time: the server reads "now" from DUALCAM_CLOCK_FILE. MediaRecorder needs real time to pass, so the clock file
ticks in real time from wherever a test sets it (`clock.set`, `clock.jump`): windows open and close as the test
says, and a 20 s answer window lasts 20 real seconds.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
from PIL import Image, ImageDraw

from tests.support.api import id_number, phone
from tests.support.processes import ClockFile, child_env, dualcam_command, free_port

ROOT = Path(__file__).resolve().parents[2]
FACES = ROOT / "tests" / "data" / "faces"
CHROMIUM = Path(os.environ.get("DUALCAM_CHROMIUM", "/usr/bin/chromium"))
# DESIGN.md "Other facts checked here"; the fake camera file is added per run.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    # Two phones in one browser: neither page may be throttled as a background tab.
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
    "--autoplay-policy=no-user-gesture-required",
]
PHONE = {"viewport": {"width": 390, "height": 800}, "device_scale_factor": 1, "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}
# 2026-06-01 08:00 in Beijing: where every e2e run's server clock starts.
T0 = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)
T = TypeVar("T")


def question_picture(width: int = 800, height: int = 500) -> bytes:
    """A PNG a question could show: a bar chart on a white ground (axes, gridlines, five bars)."""
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    left, bottom, top = 70, height - 50, 30
    for k in range(6):
        y = bottom - k * (bottom - top) // 5
        draw.line([(left, y), (width - 30, y)], fill=(225, 228, 232), width=1)
    draw.line([(left, top), (left, bottom), (width - 30, bottom)], fill=(60, 60, 60), width=3)
    colours = [(31, 111, 235), (26, 127, 55), (191, 135, 0), (207, 34, 46), (130, 80, 223)]
    step = (width - left - 60) // len(colours)
    for i, (colour, share) in enumerate(zip(colours, (0.45, 0.8, 0.6, 0.95, 0.3), strict=True)):
        x = left + 30 + i * step
        draw.rectangle([(x, bottom - share * (bottom - top)), (x + step - 40, bottom - 2)], fill=colour)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def make_fake_camera(photo: Path, target: Path, width: int = 480, height: int = 640, frames: int = 30) -> Path:
    """A Y4M video of a photo (portrait, the face well inside the frame) for --use-file-for-fake-video-capture.

    A slight drift from frame to frame keeps the encoder honest (a still picture compresses to nothing)."""
    image = Image.open(photo).convert("RGB")
    scale = width / image.width
    image = image.resize((width, round(image.height * scale)))
    canvas = Image.new("RGB", (width, height), (205, 205, 200))
    canvas.paste(image, (0, max(0, (height - image.height) // 2)))
    with target.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F15:1 Ip A1:1 C420jpeg\n".encode())
        for i in range(frames):
            shift = round(3 * np.sin(2 * np.pi * i / frames))
            frame = Image.new("RGB", (width, height), (205, 205, 200))
            frame.paste(canvas, (shift, 0))
            ycc = np.asarray(frame.convert("YCbCr"))
            out.write(b"FRAME\n")
            out.write(ycc[:, :, 0].tobytes())
            out.write(ycc[::2, ::2, 1].tobytes())
            out.write(ycc[::2, ::2, 2].tobytes())
    return target


def empty_desk_camera(folder: Path) -> Path:
    """A fake camera of an empty desk in front of a wall: a picture with nobody in it (the candidate left)."""
    import cv2

    rng = np.random.default_rng(7)
    wall = np.full((640, 480, 3), (188, 196, 200), np.float64) + np.linspace(-25, 25, 640)[:, None, None]  # BGR
    scene = np.clip(wall, 0, 255).astype(np.uint8)
    cv2.rectangle(scene, (0, 430), (479, 639), (60, 90, 130), -1)  # the desk
    cv2.rectangle(scene, (300, 380), (420, 440), (40, 40, 40), -1)  # a closed laptop on it
    cv2.rectangle(scene, (60, 80), (200, 260), (120, 150, 90), 6)  # a picture frame on the wall
    scene = np.clip(scene + rng.normal(0, 6, scene.shape), 0, 255).astype(np.uint8)  # sensor noise, not a flat image
    photo = folder / "empty-desk.jpg"
    cv2.imwrite(str(photo), scene)
    return make_fake_camera(photo, folder / "empty-desk.y4m")


class TickingClock:
    """The server's clock file, advancing in real time from the last `set`/`jump` (a background thread writes it)."""

    def __init__(self, path: Path, start: datetime, period: float = 0.02) -> None:
        self._file = ClockFile(path, start)
        self._base = start
        self._mono = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._period = period
        self._thread = threading.Thread(target=self._run, name="e2e-clock", daemon=True)
        self._thread.start()

    @property
    def path(self) -> Path:
        return self._file.path

    def now(self) -> datetime:
        with self._lock:
            return self._base + timedelta(seconds=time.monotonic() - self._mono)

    def set(self, when: datetime) -> None:
        with self._lock:
            self._base, self._mono = when, time.monotonic()
            self._file.set(when)

    def jump(self, **delta: float) -> datetime:
        target = self.now() + timedelta(**delta)
        self.set(target)
        return target

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            with self._lock:
                self._file.set(self._base + timedelta(seconds=time.monotonic() - self._mono))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


class E2EServer:
    """`dualcam serve` on 127.0.0.1 (a secure context for the camera) with the pairing URL pointing at itself."""

    def __init__(self, data_dir: Path, clock: TickingClock, model_dir: Path, extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.clock = clock
        self.log = data_dir / "server.log"
        self.env = {
            "DUALCAM_DATA_DIR": str(data_dir),
            "DUALCAM_CLOCK_FILE": str(clock.path),
            "DUALCAM_PUBLIC_BASE_URL": self.url,
            "DUALCAM_FACE_MODEL_DIR": str(model_dir),
            # Test jumps move the clock by minutes: a silent phone must not be swept offline by a jump.
            "DUALCAM_PRESENCE_TIMEOUT_SECONDS": "600",
            "DUALCAM_FACE_MIN_INTERVAL_SECONDS": "0",
            # Phones ping the clock with every heartbeat: after a test moves the clock they follow within 2 s.
            "DUALCAM_HEARTBEAT_SECONDS": "2",
            **(extra_env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str) -> str:
        done = subprocess.run([*dualcam_command(), *args], env=child_env(self.env), cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"dualcam {' '.join(args)}: {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def start(self, timeout: float = 60) -> None:
        self.cli("migrate")
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [*dualcam_command(), "serve", "--port", str(self.port)],
                env=child_env(self.env),
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(lambda: self._healthy(), timeout=timeout, what=f"dualcam serve on {self.url}", on_fail=self.log_tail)

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"server exited {self.proc.returncode}:\n{self.log_tail()}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def log_since(self, offset: int, lines: int = 80) -> str:
        """The last `lines` lines the server wrote after `offset` bytes of its log."""
        if not self.log.exists():
            return ""
        with self.log.open("rb") as log:
            log.seek(offset)
            return "\n".join(log.read().decode(errors="replace").splitlines()[-lines:])

    def log_tail(self, lines: int = 60) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def wait_for(check: Callable[[], T], *, timeout: float, what: str, interval: float = 0.1, on_fail: Callable[[], str] | None = None) -> T:
    """Poll until `check()` is truthy, at most `timeout` seconds (for server-side facts; pages use Playwright's waits)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            extra = f"\n{on_fail()}" if on_fail else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}{extra}")
        time.sleep(interval)


class Http:
    def __init__(self, base: str, token: str | None = None) -> None:
        self.client = httpx.Client(base_url=base, timeout=20)
        self.token = token

    def call(self, method: str, path: str, status: int | tuple[int, ...] = 200, **kwargs: Any) -> Any:
        headers = kwargs.pop("headers", {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        response = self.client.request(method, path, headers=headers, **kwargs)
        wanted = (status,) if isinstance(status, int) else status
        assert response.status_code in wanted, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content and "json" in response.headers.get("content-type", "") else response

    def close(self) -> None:
        self.client.close()


@dataclass
class Candidate:
    name: str
    id_number: str
    access_code: str
    http: Http
    exam_id: str
    sessions: dict[str, str] = field(default_factory=dict)  # kind -> session id

    def login(self) -> Candidate:
        body = self.http.call("POST", "/api/v1/auth/candidate/login", json={"identifier": self.id_number, "secret": self.access_code})
        self.http.token = body["token"]
        return self

    def confirm(self) -> None:
        self.http.call("POST", "/api/v1/candidate/confirmation", json={"identity_category": "其他", "province": "山东", "accept_rules": True})

    def verify_identity(self, photo: str = "person_a_2") -> dict[str, Any]:
        files = {"image": (f"{photo}.jpg", (FACES / f"{photo}.jpg").read_bytes(), "image/jpeg")}
        result = self.http.call("POST", "/api/v1/candidate/identity/selfie", files=files)
        assert result["passed"], result
        return result

    def sitting(self, session_id: str) -> dict[str, Any]:
        (match,) = [s for s in self.http.call("GET", "/api/v1/candidate/sessions") if s["id"] == session_id]
        return match["sitting"]


class Ops:
    """Exam set-up through the ops API (the first ops account comes from `dualcam staff create`)."""

    def __init__(self, server: E2EServer) -> None:
        self.server = server
        username = f"ops-{uuid.uuid4().hex[:8]}"
        password = f"Ops{uuid.uuid4().hex[:10]}1"
        server.cli("staff", "create", username, "--password", password)
        self.http = Http(server.url)
        self.http.token = self.http.call("POST", "/api/v1/auth/staff/login", json={"username": username, "password": password})["token"]
        self.seq = int(time.time() * 10) % 50000

    def exam(self, **fields: Any) -> dict[str, Any]:
        now = self.server.clock.now()
        body = {
            "title": "2026年某单位公开招聘面试（演练）",
            "organizer": "某市人才服务中心",
            "province": "山东",
            "identity_category": "其他",
            "confirm_opens_at": (now - timedelta(days=1)).isoformat(),
            "confirm_closes_at": (now + timedelta(days=30)).isoformat(),
            "rules_text": "诚信承诺：本人独立完成考试，不得退出视频录制过程，不得由他人代考。",
            "support_phone": "400-800-1234",
            "support_qq": "123456",
            "support_wechat": "dualcam-help",
            "support_hours": "每天 08:00–20:00",
            "interruption_limit": 3,
            **fields,
        }
        return self.http.call("POST", "/api/v1/ops/exams", 201, json=body)

    def notice(self, exam_id: str, title: str, body: str, pinned: bool = False) -> dict[str, Any]:
        return self.http.call("POST", f"/api/v1/ops/exams/{exam_id}/notices", 201, json={"title": title, "body": body, "pinned": pinned})

    def timed_session(self, exam_id: str, kind: str, opens: datetime, starts: datetime, ends: datetime, deadline: datetime, title: str | None = None) -> dict[str, Any]:
        body = {
            "kind": kind,
            "title": title or {"mock": "模拟考试", "formal": "正式考试"}[kind],
            "waiting_opens_at": opens.isoformat(),
            "answer_starts_at": starts.isoformat(),
            "answer_ends_at": ends.isoformat(),
            "upload_deadline": deadline.isoformat(),
        }
        return self.http.call("POST", f"/api/v1/ops/exams/{exam_id}/sessions", 201, json=body)

    def practice(self, exam_id: str, waiting: int, answer: int, upload: int = 1800, title: str = "练习") -> dict[str, Any]:
        body = {"kind": "practice", "title": title, "waiting_seconds": waiting, "answer_seconds": answer, "upload_seconds": upload}
        return self.http.call("POST", f"/api/v1/ops/exams/{exam_id}/sessions", 201, json=body)

    def question(self, session_id: str, text: str) -> dict[str, Any]:
        return self.http.call("POST", f"/api/v1/ops/sessions/{session_id}/questions", 201, json={"text": text})

    def question_image(self, session_id: str, question_id: str, png: bytes) -> dict[str, Any]:
        files = {"image": ("question.png", png, "image/png")}
        return self.http.call("PUT", f"/api/v1/ops/sessions/{session_id}/questions/{question_id}/image", files=files)

    def candidate(self, exam_id: str, name: str = "张考生", id_photo: str | None = "person_a_1") -> Candidate:
        self.seq += 1
        number, mobile = id_number(self.seq), phone(self.seq)
        files: dict[str, Any] = {}
        if id_photo:
            header, row = "姓名,身份证号,手机号,照片\n", f"{name},{number},{mobile},{id_photo}.jpg\n"
            archive = io.BytesIO()
            with zipfile.ZipFile(archive, "w") as zf:
                zf.writestr(f"{id_photo}.jpg", (FACES / f"{id_photo}.jpg").read_bytes())
            files["photos"] = ("photos.zip", archive.getvalue(), "application/zip")
        else:
            header, row = "姓名,身份证号,手机号\n", f"{name},{number},{mobile}\n"
        files["csv_file"] = ("roster.csv", (header + row).encode(), "text/csv")
        body = self.http.call("POST", f"/api/v1/ops/exams/{exam_id}/roster", 201, files=files)
        (imported,) = body["imported"]
        return Candidate(name=name, id_number=number, access_code=imported["access_code"], http=Http(self.server.url), exam_id=exam_id)

    def sittings(self, session_id: str) -> list[dict[str, Any]]:
        return self.http.call("GET", f"/api/v1/ops/sessions/{session_id}/sittings")

    def events(self, sitting_id: str) -> list[dict[str, Any]]:
        return self.http.call("GET", f"/api/v1/ops/sittings/{sitting_id}/events")

    def recordings(self, sitting_id: str) -> dict[str, dict[str, Any]]:
        """role → the sitting's recording as ops see it (status, attempts, evidence, a signed link once in)."""
        return {r["role"]: r for r in self.http.call("GET", f"/api/v1/ops/sittings/{sitting_id}/recordings")}


def parse_countdown(text: str) -> int:
    """Seconds in a countdown label such as "距候考开始 59:58", "1:02:03" or "1天 02:03:04"."""
    match = re.search(r"(?:(\d+)\s*(?:天|d)\s*)?(?:(\d+):)?(\d{2}):(\d{2})", text)
    assert match, f"no countdown in {text!r}"
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def decode_qr(png: bytes) -> str:
    """What a phone camera reads from the QR code on the main phone's screen (OpenCV's detector)."""
    import cv2

    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    image = cv2.copyMakeBorder(image, 40, 40, 40, 40, cv2.BORDER_CONSTANT, value=255)
    for detector in (cv2.QRCodeDetector(), cv2.QRCodeDetectorAruco()):  # two detectors, as phone scanners combine several
        text, _, _ = detector.detectAndDecode(image)
        if text:
            return text
    return ""  # this frame does not decode


def js_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
