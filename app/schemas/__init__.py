"""API schemas (separate from the ORM models): inputs forbid unknown fields, outputs carry exam-local times.

Strictness: FastAPI validates a JSON body in pydantic's python mode, where lax coercion reads `"yes"` as true, `"5"`
as 5 and `0.5` as a Unix time. A model-wide `strict=True` would also refuse the strings that UUIDs, enums and times
arrive as, so the JSON scalars that coerce are strict by their type instead: `StrictBool`, `StrictInt`, and the
date-time types below (text in ISO 8601 only)."""

import re
from datetime import datetime
from typing import Annotated, Self

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, model_validator

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
