"""Each HTTP request and WebSocket gets an id: the one a trusted proxy sent in `X-Request-ID` (the proxy's own log
then matches ours), else a new one. It is set in app.logs.request_id for the log lines and error bodies of that
request, and returned in the `X-Request-ID` header of the response (or of the WebSocket's handshake), so the id a
candidate reads out on a support call finds every line the server wrote for it."""

from __future__ import annotations

import re
import secrets
from collections.abc import Container

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app.logs import request_id

HEADER = "x-request-id"
# What a proxy's id may look like (nginx's $request_id is 32 hex digits, haproxy's unique-id is configurable): short
# printable tokens only, so a forged header cannot put a line break or a megabyte into our logs.
_ACCEPTED = re.compile(r"[A-Za-z0-9._:-]{8,64}")


def new_request_id() -> str:
    """16 hex digits: short enough to read out on the phone, unique enough for a day's logs."""
    return secrets.token_hex(8)


class RequestIds:
    """The id, then the trusted proxy's X-Forwarded-For and -Proto (uvicorn's middleware: the client address the
    log-in limits count): one layer, since both trust the same peers and the id must be judged on the peer itself,
    before the forwarded client replaces it."""

    def __init__(self, app: ASGIApp, *, trusted_hosts: str) -> None:
        proxied = ProxyHeadersMiddleware(app, trusted_hosts=trusted_hosts)  # type: ignore[arg-type]
        self.app: ASGIApp = proxied  # type: ignore[assignment]
        self.trusted: Container[str | None] = proxied.trusted_hosts

    def _id_for(self, scope: Scope) -> str:
        peer = (scope.get("client") or (None,))[0]
        if peer in self.trusted:
            for name, value in scope["headers"]:
                if name == HEADER.encode() and _ACCEPTED.fullmatch(sent := value.decode("latin-1")):
                    return sent
        return new_request_id()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        current = self._id_for(scope)
        # Also in the request's state: an unexpected error is answered outside this middleware (Starlette's
        # outermost ServerErrorMiddleware), where the context variable is already reset.
        scope.setdefault("state", {})["request_id"] = current

        async def send_with_id(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                message.setdefault("headers", [])
                MutableHeaders(scope=message)[HEADER] = current
            await send(message)

        token = request_id.set(current)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)
