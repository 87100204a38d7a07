"""One structured log event per HTTP request (`http.request`: method, path, status, duration) and per WebSocket
(`ws.session`: path, close code, duration), and the request metrics (app.metrics) from the same measurements."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import metrics
from app.logs import get_logger

log = get_logger("dualcam.access")


def route_of(scope: Scope) -> str:
    """The template the request matched ("/api/v1/ops/sittings/{sitting_id}"), "<mount>/*" under a mount (the tus
    uploads, the apps' files), or "unmatched": never the raw path, whose ids would make a series each."""
    if (route := scope.get("route")) is not None:
        return str(route.path)
    # FastAPI's router names no route for a mount; the mount shows in the root path it added to the scope.
    mount = scope.get("root_path", "").removeprefix(scope.get("app_root_path", ""))
    return f"{mount}/*" if mount else "unmatched"


class AccessLog:
    def __init__(self, app: ASGIApp, *, upload_prefix: str) -> None:
        self.app = app
        self.upload_prefix = upload_prefix  # the tus mount: its PATCH bodies are the recordings' bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._socket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client sees if the app dies before answering
        received = 0
        upload = scope["method"] == "PATCH" and scope["path"].startswith(self.upload_prefix)

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
            return message

        try:
            await self.app(scope, counting_receive if upload else receive, send_wrapper)
        finally:
            seconds = time.perf_counter() - started
            route = route_of(scope)
            metrics.http_requests.labels(scope["method"], route, str(status)).inc()
            metrics.http_latency.labels(scope["method"], route).observe(seconds)
            if upload:
                metrics.upload_bytes.inc(received)
                metrics.upload_patch_latency.observe(seconds)
            # Never the query string: it may carry tokens or personal data.
            log.info(
                "http.request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round(seconds * 1000, 2),
                client=(scope.get("client") or ("?",))[0],
            )

    async def _socket(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        code: int | None = None  # the first close, from either side
        accepted = False

        async def watching_send(message: Message) -> None:
            nonlocal code, accepted
            if message["type"] == "websocket.accept":
                accepted = True
            elif message["type"] == "websocket.close" and code is None:
                code = message.get("code", 1000)
            await send(message)

        async def watching_receive() -> Message:
            nonlocal code
            message = await receive()
            if message["type"] == "websocket.disconnect" and code is None:
                code = message.get("code", 1005)
            return message

        try:
            await self.app(scope, watching_receive, watching_send)
        finally:
            log.info(
                "ws.session",
                path=scope["path"],
                accepted=accepted,
                close_code=code,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
                client=(scope.get("client") or ("?",))[0],
            )
