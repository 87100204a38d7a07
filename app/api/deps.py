"""Typed dependencies: who may call a route is visible in its signature (`Ops`, `Candidate`, `Device`, ...)."""

from __future__ import annotations

import enum
import math
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.adapters.hub import Hub
from app.adapters.storage import ObjectStore
from app.clock import Clock
from app.config import Settings
from app.db import transaction
from app.models import DeviceRole, Role
from app.security import bearer_token, client_bucket
from app.services.auth import LoginPolicy, Principal, authenticate
from app.services.quotas import Quota
from app.services.recordings.recordings import UploadFacts
from app.services.scope import ExamScope, of_staff
from app.services.sitting import devices


async def _db(request: Request) -> AsyncIterator[AsyncSession]:
    async with transaction(request.app.state.sessionmaker, request.app.state.hub) as session:
        yield session


# scope="function": commit before the response is sent, so a client's next request sees its own writes.
DB = Annotated[AsyncSession, Depends(_db, scope="function")]


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _clock(request: Request) -> Clock:
    return request.app.state.clock


def _now(request: Request) -> datetime:
    # One reading per request: every rule in a request judges the same instant.
    return request.app.state.clock.now()


def _store(request: Request) -> ObjectStore:
    return request.app.state.store


def _hub(request: Request) -> Hub:
    return request.app.state.hub


def _uploads(request: Request) -> UploadFacts:
    return request.app.state.tus


def _login_policy(request: Request) -> LoginPolicy:
    s: Settings = request.app.state.settings
    return LoginPolicy(
        max_failures=s.login_max_failures,
        client_max_failures=s.login_client_max_failures,
        window=timedelta(seconds=s.login_window_seconds),
        token_ttl=timedelta(hours=s.token_ttl_hours),
    )


def _client(request: Request) -> str:
    # The peer address; behind a reverse proxy uvicorn's proxy headers put the forwarded client here
    # (`dualcam serve` trusts DUALCAM_FORWARDED_ALLOW_IPS). Never a header read here: any client could forge one.
    return client_bucket(request.client.host if request.client else None)


SettingsDep = Annotated[Settings, Depends(_settings)]
ClockDep = Annotated[Clock, Depends(_clock)]
Now = Annotated[datetime, Depends(_now)]
Store = Annotated[ObjectStore, Depends(_store)]
HubDep = Annotated[Hub, Depends(_hub)]
Uploads = Annotated[UploadFacts, Depends(_uploads)]
Policy = Annotated[LoginPolicy, Depends(_login_policy)]
# The caller's address bucket (an IPv4 address or an IPv6 /64) that the per-client limits count.
Client = Annotated[str, Depends(_client)]


def client_quota(name: str) -> Callable[..., None]:
    """A dependency counting the request against the caller's quota `name` (app.services.quotas.ClientQuotas):
    429 client_rate_limited with Retry-After once it is spent."""

    def dependency(request: Request, client: Client, now: Now) -> None:
        quota: Quota = getattr(request.app.state.client_quotas, name)
        wait = quota.hit(client, now=now)
        if wait is not None:
            retry = max(1, math.ceil(wait.total_seconds()))
            raise errors.ClientRateLimited(details={"retry_after": retry}, headers={"Retry-After": str(retry)})

    return dependency


def require(*roles: Role, device_role: DeviceRole | None = None) -> Callable[..., Any]:
    """A dependency admitting only `roles` (and, for devices, only `device_role` when given). The roles are kept
    on the function so the OpenAPI role matrix (`x-roles`) is derived from the same object that enforces it."""

    async def dependency(request: Request, db: DB, now: Now) -> Principal:
        token = bearer_token(request.headers.get("authorization"))
        if token is None:
            raise errors.NotAuthenticated(headers={"WWW-Authenticate": "Bearer"})
        principal = await authenticate(db, token=token, now=now)
        if principal is None:
            raise (await devices.replaced(db, token=token, now=now)) or errors.InvalidToken(headers={"WWW-Authenticate": "Bearer"})
        if principal.role not in roles:
            raise errors.Forbidden()
        if device_role is not None and principal.device is not None and principal.device.role is not device_role:
            # A more specific 403 than `forbidden`: the aux phone's app explains that the main phone does this.
            raise errors.MainDeviceOnly()
        return principal

    dependency.dualcam_roles = tuple(_published(roles, device_role))  # type: ignore[attr-defined]
    return dependency


def roles_of(dependant: Dependant) -> tuple[str, ...] | None:
    """The roles a route admits (as published in `x-roles`), from its `require(...)` dependency; None: anyone."""
    for dep in dependant.dependencies:
        roles = getattr(dep.call, "dualcam_roles", None)
        if roles is not None:
            return tuple(roles)
        nested = roles_of(dep)
        if nested is not None:
            return nested
    return None


def _published(roles: tuple[Role, ...], device_role: DeviceRole | None) -> list[str]:
    """Role names as published in `x-roles`: a device is `device_main` or `device_aux`."""
    names: list[str] = []
    for role in roles:
        if role is Role.device:
            names += [f"device_{r.value}" for r in DeviceRole if device_role in (None, r)]
        else:
            names.append(role.value)
    return names


Ops = Annotated[Principal, Depends(require(Role.ops))]
Staff = Annotated[Principal, Depends(require(Role.ops, Role.reviewer))]
# Graders score blind: no route that admits `Staff` admits them, and theirs admit no one else.
GraderUser = Annotated[Principal, Depends(require(Role.grader))]
CandidateUser = Annotated[Principal, Depends(require(Role.candidate))]
DeviceUser = Annotated[Principal, Depends(require(Role.device))]
MainDevice = Annotated[Principal, Depends(require(Role.device, device_role=DeviceRole.main))]
AnyUser = Annotated[Principal, Depends(require(*Role))]


class BodyClass(str, enum.Enum):
    """A route's request body limit (app.api.body_limits): JSON by default, image for a multipart form."""

    json = "json"
    image = "image"
    roster = "roster"


# On a route, `openapi_extra=ROSTER_BODY` (shown in the OpenAPI schema as `x-body-limit`).
BODY_CLASS_KEY = "x-body-limit"
ROSTER_BODY = {BODY_CLASS_KEY: BodyClass.roster.value}


def _exam_scope(principal: Staff) -> ExamScope:
    assert principal.staff is not None
    return of_staff(principal.staff)


Scope = Annotated[ExamScope, Depends(_exam_scope)]
"""The exams the calling staff member may read (ops: all; a reviewer: those assigned), for every exam-scoped query of
a staff route. It authenticates as `Staff` does (the same dependency, resolved once per request)."""
