"""API schemas (separate from the ORM models): inputs forbid unknown fields, outputs carry exam-local times.

Strictness: FastAPI validates a JSON body in pydantic's python mode, where lax coercion reads `"yes"` as true, `"5"`
as 5 and `0.5` as a Unix time. A model-wide `strict=True` would also refuse the strings that UUIDs, enums and times
arrive as, so the JSON scalars that coerce are strict by their type instead: `StrictBool`, `StrictInt`, and the
date-time types below (text in ISO 8601 only)."""

import json
import math
import re
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticSerializationError, to_json

_DATE_TIME_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _date_time_text(value: object) -> object:
    # Pydantic would read a number, or text of one, as Unix time and a bare date as its midnight; the schema says
    # date-time. Datetimes themselves pass (the CLI parses its options before building these schemas).
    if isinstance(value, datetime) or (isinstance(value, str) and _DATE_TIME_TEXT.match(value)):
        return value
    raise ValueError("expected an ISO 8601 date-time, e.g. 2026-06-01T09:00:00+08:00")


DateTimeText = BeforeValidator(_date_time_text)


def _plausible(value: datetime) -> datetime:
    # Far-off years overflow when moved between timezones (year 1 in +08:00 is before year 1 in UTC), and a
    # stored one would break every later read of its exam: refuse them at the door.
    if not 2000 <= value.year <= 2100:
        raise ValueError("expected a time between the years 2000 and 2100")
    return value


Instant = Annotated[datetime, DateTimeText, AfterValidator(_plausible)]
"""A date-time input for exam windows: with an offset, or without one to be read in the exam's timezone."""

AwareInstant = Annotated[AwareDatetime, DateTimeText, AfterValidator(_plausible)]
"""A date-time input that must carry its offset (a filter on server times, which have no exam to be read in)."""


# Free-form JSON a client sends (event details) is stored as it came and read back by every listing of its sitting:
# bounded at the door, so one message cannot store what a reader chokes on (nesting past the serializer's depth
# limit answered 500 for every later read) or what outgrows its purpose (a log line, a battery level).
JSON_MAX_DEPTH = 8  # objects and arrays inside each other; the value itself is level 1
JSON_MAX_ENTRIES = 50  # keys of one object (items of one array)
JSON_MAX_STRING_BYTES = 1024  # one string or key, UTF-8
JSON_MAX_BYTES = 8 * 1024  # the whole value, serialized compactly as UTF-8


def json_bounds_problem(value: Any) -> str | None:
    """Why `value` is not bounded JSON (see the limits above), or None. Walks without recursion, so a value nested
    deeper than the interpreter's stack is refused like any other."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    at_least = 0  # serialized bytes seen so far (every value takes one or more): stops the walk of a huge value early
    while pending:
        item, depth = pending.pop()
        at_least += len(item) if isinstance(item, str) else 1
        if at_least > JSON_MAX_BYTES:
            return f"larger than {JSON_MAX_BYTES} bytes"
        if isinstance(item, dict | list):
            if depth > JSON_MAX_DEPTH:
                return f"nested deeper than {JSON_MAX_DEPTH} levels"
            if len(item) > JSON_MAX_ENTRIES:
                return f"more than {JSON_MAX_ENTRIES} entries in one object or array"
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
            if isinstance(item, dict):
                pending.extend((key, depth) for key in item)
        elif isinstance(item, str):
            if len(item) > JSON_MAX_STRING_BYTES // 4 and len(item.encode("utf-8", "surrogatepass")) > JSON_MAX_STRING_BYTES:
                return f"a string or key longer than {JSON_MAX_STRING_BYTES} bytes"
        elif isinstance(item, float):
            if not math.isfinite(item):  # NaN and Infinity parse, but are no JSON value: PostgreSQL refuses them
                return "a number that is not finite"
        elif item is not None and not isinstance(item, bool | int):
            return "not a JSON value"
    try:
        size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
    except UnicodeEncodeError:  # a lone surrogate ("\ud800"): valid JSON, but no text that can be stored
        return "not valid text (a lone surrogate)"
    if size > JSON_MAX_BYTES:
        return f"larger than {JSON_MAX_BYTES} bytes"
    return None


def _bounded(value: dict[str, Any]) -> dict[str, Any]:
    problem = json_bounds_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


BoundedJson = Annotated[
    dict[str, Any],
    AfterValidator(_bounded),
    Field(
        max_length=JSON_MAX_ENTRIES,
        description=(
            f"a JSON object: at most {JSON_MAX_DEPTH} levels deep, {JSON_MAX_ENTRIES} entries per object or array, "
            f"strings and keys of at most {JSON_MAX_STRING_BYTES} bytes, {JSON_MAX_BYTES} bytes in all"
        ),
    ),
]
"""Free-form JSON from a client (every such field in app.schemas uses this): refused with 422 beyond the bounds."""


# What a response may carry of stored free-form JSON: far less deep than the serializer's own limit (about 255
# levels, counted from the top of the response), far more than the bounds above (rows may predate them).
JSON_READ_MAX_DEPTH = 64


def json_readable(value: Any) -> bool:
    """Whether a stored JSON value can be part of a response."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth > JSON_READ_MAX_DEPTH:
                return False
            pending.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    try:
        to_json(value)
    except (PydanticSerializationError, ValueError):
        return False
    return True


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Patch(Input):
    """A partial update: fields left out stay as they are. An explicit null is refused (422) rather than written:
    none of these fields can be unset, and a null title or window would otherwise reach the database."""

    @model_validator(mode="after")
    def _no_nulls(self) -> Self:
        nulls = sorted(name for name in self.model_fields_set if getattr(self, name) is None)
        if nulls:
            raise ValueError(f"null is not a value here (leave the field out to keep it): {', '.join(nulls)}")
        return self


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)
