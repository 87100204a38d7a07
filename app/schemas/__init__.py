"""API schemas (separate from the ORM models): inputs forbid unknown fields, outputs carry exam-local times."""

from datetime import datetime
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, model_validator


def _plausible(value: datetime) -> datetime:
    # Far-off years overflow when moved between timezones (year 1 in +08:00 is before year 1 in UTC), and a
    # stored one would break every later read of its exam: refuse them at the door.
    if not 2000 <= value.year <= 2100:
        raise ValueError("expected a time between the years 2000 and 2100")
    return value


Instant = Annotated[datetime, AfterValidator(_plausible)]
"""A date-time input for exam windows: with an offset, or without one to be read in the exam's timezone."""


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
