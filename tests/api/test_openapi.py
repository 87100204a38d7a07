"""The OpenAPI schema declares every response the endpoints can give: the common errors on every operation, in the
one error shape, with a one-line description and the roles allowed (`x-roles`). The property-based pass that checks
the answers against it is tests/api/test_schema_fuzz.py."""

from __future__ import annotations

from typing import Any

import pytest

from app.config import Settings
from app.main import create_app

SCHEMA = create_app(Settings(env="test")).openapi()
OPERATIONS = [(f"{method.upper()} {path}", op) for path, ops in SCHEMA["paths"].items() for method, op in ops.items()]
ERROR_REF = "#/components/schemas/ErrorResponse"
# Answers that are not errors in the error shape, by contract (DESIGN.md): readiness reports its checks.
NOT_ERROR_SHAPED = {("GET /readyz", "503")}


def by_operation(check: Any) -> Any:
    return pytest.mark.parametrize(("key", "op"), [pytest.param(k, o, id=k) for k, o in OPERATIONS])(check)


@by_operation
def test_every_operation_declares_500_and_422_when_it_takes_input(key: str, op: dict[str, Any]) -> None:
    assert "500" in op["responses"]
    if op.get("parameters") or op.get("requestBody"):
        assert "422" in op["responses"]
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" in content or "multipart/form-data" in content:
        assert "400" in op["responses"]  # malformed JSON, malformed multipart


@by_operation
def test_protected_operations_declare_401_and_403(key: str, op: dict[str, Any]) -> None:
    assert op["x-roles"], "x-roles must name who may call (or 'anonymous')"
    if op["x-roles"] != ["anonymous"]:
        assert {"401", "403"} <= set(op["responses"])
        assert op["security"] == [{"bearer": []}]
    else:
        assert "401" not in op["responses"] or key.endswith("/login"), "an anonymous route answers 401 only for a failed log-in"


@by_operation
def test_every_error_response_uses_the_error_shape(key: str, op: dict[str, Any]) -> None:
    for status, response in op["responses"].items():
        if int(status) < 400 or (key, status) in NOT_ERROR_SHAPED:
            continue
        assert response["content"]["application/json"]["schema"] == {"$ref": ERROR_REF}, status
        assert response["description"], status  # the codes that can come with this status


@by_operation
def test_every_operation_has_a_summary_and_a_description(key: str, op: dict[str, Any]) -> None:
    assert op.get("summary") and op.get("description"), "give the route a one-line docstring"


def test_the_error_shape_is_code_message_and_message_en() -> None:
    body = SCHEMA["components"]["schemas"]["ErrorBody"]
    assert set(body["required"]) == {"code", "message", "message_en"}
