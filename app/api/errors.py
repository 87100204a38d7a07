"""The one error handler, and the declaration of common errors on every route of the OpenAPI schema."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, Request, params
from fastapi.dependencies.models import Dependant
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.utils import create_model_field
from pydantic.fields import FieldInfo
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from app import errors
from app.api.body_limits import BodyTooLarge
from app.api.deps import roles_of
from app.api.request_ids import HEADER
from app.logs import get_logger, request_id

log = get_logger(__name__)

InternalError = errors._error("InternalError", 500, "internal_error", "服务器内部错误，请稍后重试", "Internal server error; please retry")
# Every database connection of this process busy for the pool's whole wait: overload, not a fault; retry later.
ServerBusy = errors._error("ServerBusy", 503, "server_busy", "服务器繁忙，请稍后重试", "The server is busy; please retry in a moment")
BUSY_RETRY_AFTER_S = 5


def _render(error: errors.DualcamError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


async def _on_dualcam_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.DualcamError)
    return _render(exc)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [{k: v for k, v in e.items() if k in ("type", "loc", "msg")} for e in exc.errors()]
    if any(p["type"] == "json_invalid" for p in problems):
        return _render(errors.MalformedJson(details=jsonable_encoder(problems)))
    return _render(errors.ValidationFailed(details=jsonable_encoder(problems)))


def _on_http_error(routes: Sequence[APIRoute]) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return _render(errors.RouteNotFound())
        if exc.status_code == 405:
            return _render(errors.MethodNotAllowed(headers={**(exc.headers or {}), "Allow": _allowed_methods(routes, request.scope["path"])}))
        if exc.status_code == 400 and _raised_over(exc, MultiPartException):
            return _render(errors.MalformedMultipart(details={"reason": str(exc.detail)}))
        if exc.status_code == 413:
            return _render(errors.PayloadTooLarge(details={"max_bytes": exc.max_bytes} if isinstance(exc, BodyTooLarge) else None))
        generic = errors._error("HttpError", exc.status_code, "http_error", "请求无法处理", str(exc.detail))
        return _render(generic(headers=dict(exc.headers or {})))

    return handler


def _allowed_methods(routes: Sequence[APIRoute], path: str) -> str:
    """Every method served at `path`. FastAPI makes one route per method and Starlette's 405 names only the methods
    of the first route whose path matched, so GET and PATCH on one path would answer `Allow: GET`."""
    return ", ".join(sorted({m for route in routes if route.path_regex.match(path) for m in route.methods}))


def _raised_over(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether `exc` was raised from, or while handling, a `kind` (Starlette turns a form it cannot parse into a
    bare 400 inside its `except MultiPartException`)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _busy(conn: HTTPConnection, exc: Exception) -> JSONResponse:
    log.warning("request.busy", path=conn.url.path, method=conn.scope.get("method", "WEBSOCKET"), error=str(exc)[:200])
    return _render(ServerBusy(headers={"Retry-After": str(BUSY_RETRY_AFTER_S)}))


async def _on_busy(conn: HTTPConnection, exc: Exception) -> JSONResponse | None:
    response = _busy(conn, exc)
    if isinstance(conn, WebSocket):  # 1013 Try Again Later: the phone reconnects after its back-off
        with contextlib.suppress(Exception):
            await conn.close(code=1013, reason="server_busy")
        return None
    return response


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Answered by Starlette's outermost middleware, outside app.api.request_ids: the request's id comes back here.
    current: str | None = getattr(request.state, "request_id", None)
    token = request_id.set(current)
    try:
        if _raised_over(exc, PoolTimeout):  # in a middleware, outside the handler above (e.g. the body limits' token check)
            response = _busy(request, exc)
        else:
            log.exception("request.unhandled", path=request.url.path, method=request.method)
            response = _render(InternalError())
    finally:
        request_id.reset(token)
    if current is not None:
        response.headers[HEADER] = current
    return response


def install_error_handlers(app: FastAPI, routers: Sequence[APIRouter]) -> None:
    """`routers`: the API's, whose routes a 405 lists in `Allow`."""
    app.add_exception_handler(errors.DualcamError, _on_dualcam_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error([r for router in routers for r in router.routes if isinstance(r, APIRoute)]))
    app.add_exception_handler(PoolTimeout, _on_busy)
    app.add_exception_handler(Exception, _on_unexpected)


def _has_inputs(dependant: Dependant) -> bool:
    if dependant.path_params or dependant.query_params or dependant.body_params or dependant.header_params:
        return True
    return any(_has_inputs(d) for d in dependant.dependencies)


def _body_params(dependant: Dependant) -> list[FieldInfo]:
    """The body parameters of a route and of its dependencies, as declared (`Form` and `File` among them)."""
    return [*(f.field_info for f in dependant.body_params), *(p for d in dependant.dependencies for p in _body_params(d))]


def declare_common_responses(router: APIRouter) -> None:
    """Declare on each route the errors every route of its kind can give, and its roles as `x-roles`.
    Applied to a router before it is included (idempotent: routers are module-level and apps are many in tests)."""
    for route in router.routes:
        if not isinstance(route, APIRoute):
            continue
        # Any request may carry a body, and one past its route's limit is refused before the route runs.
        declared: list[type[errors.DualcamError]] = [InternalError, ServerBusy, errors.PayloadTooLarge]  # app.api.body_limits
        roles = roles_of(route.dependant)
        extra: dict[str, Any] = dict(route.openapi_extra or {})
        extra["x-roles"] = list(roles) if roles else ["anonymous"]
        if roles:
            declared += [errors.NotAuthenticated, errors.InvalidToken, errors.DeviceReplaced, errors.Forbidden]
            extra["security"] = [{"bearer": []}]
        if _has_inputs(route.dependant):
            declared.append(errors.ValidationFailed)
        body = _body_params(route.dependant)
        if body:
            # A body the framework cannot parse: JSON, or a multipart form (files, also those a dependency reads).
            declared.append(errors.MalformedMultipart if any(isinstance(p, params.Form) for p in body) else errors.MalformedJson)
        for status, spec in errors.responses(*declared).items():
            existing = route.responses.get(status)
            if existing is None:
                route.responses[status] = spec
                # FastAPI builds response fields in APIRoute.__init__; responses added later need theirs too.
                route.response_fields[status] = create_model_field(
                    name=f"Response_{status}_{route.unique_id}", type_=errors.ErrorResponse, mode="serialization"
                )
            elif "description" in existing and spec["description"] not in existing["description"]:
                existing["description"] = f"{existing['description']} | {spec['description']}"
        route.openapi_extra = extra
