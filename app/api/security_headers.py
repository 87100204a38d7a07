"""Security headers on every HTTP answer (pure ASGI, like access_log): a Content-Security-Policy, no framing, no
MIME sniffing, no referrer, HSTS over https, and `Cache-Control: no-store` on API answers.

The phone apps are same-origin ES modules with no inline script or style attribute (elements are styled through
CSSOM, which CSP allows); the camera preview is a MediaStream, the server's QR code inline SVG markup. The
interactive docs (/docs, /redoc) are FastAPI's pages: scripts and styles from jsDelivr and one inline script,
allowed by its hash (computed from the page as served, so FastAPI's markup may change)."""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CDN = "https://cdn.jsdelivr.net"
HSTS = "max-age=31536000"  # one year; https only (a browser ignores it over http, and an http install must stay reachable)
_APP_POLICY = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob: mediastream:",
    "worker-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)
_DOCS_POLICY = (
    "default-src 'none'",
    # Redoc: styled-components inject <style> elements, and its search runs in a worker from a blob.
    f"style-src {CDN} https://fonts.googleapis.com 'unsafe-inline'",
    "font-src https://fonts.gstatic.com",
    f"img-src 'self' data: {CDN} https://fastapi.tiangolo.com",
    "worker-src blob:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
)
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)
# A Host header as a browser sends it (name or IP literal, optional port): anything else is left out of the policy.
_HOST = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?")
_FIXED = {"x-frame-options": "DENY", "x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}


def app_policy(scope: Scope) -> str:
    """The phone apps' policy. connect-src names the WebSocket origin as well: 'self' covers ws(s): only in CSP 3
    browsers (older Safari on iOS reads it as http(s) only)."""
    connect = "connect-src 'self'"
    host = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"host"), "")
    if _HOST.fullmatch(host):
        connect += f" {'wss' if scope.get('scheme') == 'https' else 'ws'}://{host}"
    return "; ".join((*_APP_POLICY, connect))


def docs_policy(body: bytes) -> str:
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(m).digest()).decode()}'" for m in _INLINE_SCRIPT.findall(body))
    return "; ".join((f"script-src {CDN} {hashes}".rstrip(), *_DOCS_POLICY))


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, docs_paths: tuple[str, ...]) -> None:
        self.app = app
        self.docs_paths = frozenset(docs_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        root, path = scope.get("root_path", ""), scope["path"]
        path = path[len(root) :] if root and path.startswith(root) else path
        if path in self.docs_paths:
            await self.app(scope, receive, self._buffered(scope, send))
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                _add(scope, message, policy=app_policy(scope), no_store=path.startswith("/api/"))
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _buffered(self, scope: Scope, send: Send) -> Send:
        """The docs pages are small HTML: held until complete, so the policy can name their inline script's hash."""
        start: Message | None = None
        chunks: list[bytes] = []

        async def buffer(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            _add(scope, start, policy=docs_policy(body), no_store=False)
            await send(start)
            await send({"type": "http.response.body", "body": body})

        return buffer


def _add(scope: Scope, message: Message, *, policy: str, no_store: bool) -> None:
    """Headers the app did not set itself (an answer's own Cache-Control, e.g. a recording's, stays)."""
    message["headers"] = list(message.get("headers", []))
    headers = MutableHeaders(raw=message["headers"])
    wanted = {**_FIXED, "content-security-policy": policy}
    if scope.get("scheme") == "https":
        wanted["strict-transport-security"] = HSTS
    if no_store:
        # API answers carry personal data and tokens: no browser or proxy keeps a copy.
        wanted["cache-control"] = "no-store"
    for name, value in wanted.items():
        headers.setdefault(name, value)
