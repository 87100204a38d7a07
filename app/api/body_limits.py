"""Request body limits per route class, applied before a byte of the body is read.

Classes: JSON (every route by default), multipart image routes (any route whose body is a form) and the roster import
(marked with `app.api.deps.ROSTER_BODY`). The tus uploads pass through untouched: the protocol authenticates first,
refuses a `Content-Length` past the upload's remaining room before reading a byte and stops a chunked body there,
answering in its own terms (status, headers) that a client's retry logic understands.
A `Content-Length` over the class's limit is answered 413 at once; a body without one (chunked) is counted as it is
read and refused with 413 as soon as it passes the limit. Multipart routes need a large body, so their token is
checked first: an anonymous 10 MB picture is answered 401 before it is read. Either early answer closes the
connection (`Connection: close`), so the rest of the body is never read either.

Pure ASGI (not BaseHTTPMiddleware): a streamed body stays streamed.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from fastapi import params
from fastapi.routing import APIRoute
from starlette.datastructures import Headers, State
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import errors
from app.api.deps import BODY_CLASS_KEY, BodyClass, roles_of
from app.db import transaction
from app.security import bearer_token
from app.services.auth import authenticate
from app.services.sitting import devices


class BodyTooLarge(HTTPException):
    """Raised from `receive` once a body passes its limit; the app's handler for 413 renders it (FastAPI passes an
    HTTPException raised while it reads the body through as it is)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(status_code=413, detail="payload_too_large")
        self.max_bytes = max_bytes


@dataclass(frozen=True, slots=True)
class _Rule:
    path: re.Pattern[str]
    methods: Collection[str]
    body: BodyClass
    authenticated: bool  # the route needs a token: check it before reading the body


def _rules(routes: Iterable[BaseRoute]) -> list[_Rule]:
    """The routes that take more than JSON."""
    rules = []
    for route in routes:
        if not isinstance(route, APIRoute):
            continue
        extra = route.openapi_extra or {}
        marked = extra.get(BODY_CLASS_KEY)
        is_form = route.body_field is not None and isinstance(route.body_field.field_info, params.Form)
        body = BodyClass(marked) if marked else BodyClass.image if is_form else BodyClass.json
        if body is not BodyClass.json:
            rules.append(_Rule(route.path_regex, route.methods or (), body, authenticated=roles_of(route.dependant) is not None))
    return rules


class BodyLimits:
    """`routes`: the app's routes (as their routers hold them, with their full paths)."""

    def __init__(self, app: ASGIApp, *, routes: Iterable[BaseRoute], limits: dict[BodyClass, int], upload_prefix: str) -> None:
        self.app = app
        self.limits = limits
        self.upload_prefix = upload_prefix.rstrip("/")
        self._rules = _rules(routes)

    def _rule_for(self, scope: Scope) -> tuple[BodyClass, bool]:
        for rule in self._rules:
            if scope["method"] in rule.methods and rule.path.match(scope["path"]):
                return rule.body, rule.authenticated
        return BodyClass.json, False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length = _content_length(headers)
        has_body = (length is not None and length > 0) or "transfer-encoding" in headers
        path: str = scope["path"]
        if not has_body or path == self.upload_prefix or path.startswith(self.upload_prefix + "/"):
            await self.app(scope, receive, send)
            return
        body, authenticated = self._rule_for(scope)
        limit = self.limits[body]
        if length is not None and length > limit:
            await _refuse(scope, receive, send, errors.PayloadTooLarge(details={"max_bytes": limit}))
            return
        if authenticated:
            refusal = await self._token_refusal(scope["app"].state, headers)
            if refusal is not None:
                await _refuse(scope, receive, send, refusal)
                return
        await self._counted(scope, receive, send, limit)

    async def _token_refusal(self, state: State, headers: Headers) -> errors.DualcamError | None:
        """The route's own 401, given before its body is read (the route checks the token again, and the role)."""
        token = bearer_token(headers.get("authorization"))
        if token is None:
            return errors.NotAuthenticated(headers={"WWW-Authenticate": "Bearer"})
        async with transaction(state.sessionmaker) as db:
            now = state.clock.now()
            if await authenticate(db, token=token, now=now) is not None:
                return None
            return (await devices.replaced(db, token=token, now=now)) or errors.InvalidToken(headers={"WWW-Authenticate": "Bearer"})

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        refused = started = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            if refused:
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    raise BodyTooLarge(limit)
            return message

        async def closing_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if refused:  # the rest of the body stays unread: the connection cannot carry another request
                    message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        try:
            await self.app(scope, counting_receive, closing_send)
        except BodyTooLarge:
            if started:
                raise
            await _refuse(scope, receive, send, errors.PayloadTooLarge(details={"max_bytes": limit}))


def _content_length(headers: Headers) -> int | None:
    value = headers.get("content-length")
    if value is None or not value.isdigit():
        return None  # a malformed one is the HTTP server's to refuse
    return int(value)


async def _refuse(scope: Scope, receive: Receive, send: Send, error: errors.DualcamError) -> None:
    response = JSONResponse(error.body(), status_code=error.status, headers={**error.headers, "Connection": "close"})
    await response(scope, receive, send)
