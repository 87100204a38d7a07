"""A session's rubric: items with their maximum points, the step scores move in, and what each band of points means.

Points are decimals (a step of 0.5 is common): every check and sum here is done on `Decimal` made from the number's
shortest text, so 0.1 + 0.2 is 0.3 and a stored float comes back as the points the grader gave.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app import errors

MAX_ITEMS = 20
MAX_POINTS = Decimal(1000)


def points(value: float | int | str | Decimal) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


@dataclass(frozen=True, slots=True)
class Band:
    low: Decimal
    high: Decimal
    text: str
    text_en: str


@dataclass(frozen=True, slots=True)
class Item:
    key: str
    label: str
    label_en: str
    max_points: Decimal
    step: Decimal
    bands: tuple[Band, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key, "label": self.label, "label_en": self.label_en, "max_points": float(self.max_points),
            "step": float(self.step),
            "descriptors": [{"from": float(b.low), "to": float(b.high), "text": b.text, "text_en": b.text_en} for b in self.bands],
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class Rubric:
    items: tuple[Item, ...]

    @property
    def maximum(self) -> Decimal:
        return sum((item.max_points for item in self.items), Decimal(0))

    def to_json(self) -> list[dict[str, Any]]:
        return [item.to_json() for item in self.items]

    def check_scores(self, scores: Mapping[str, float], *, complete: bool) -> dict[str, float]:
        """The scores as stored, each on the rubric: an item it lacks, points past its maximum or off its steps are a
        declared 422 naming the item; `complete` (a submission) needs every item scored."""
        by_key = {item.key: item for item in self.items}
        checked: dict[str, float] = {}
        for key, value in scores.items():
            item = by_key.get(key)
            if item is None:
                raise errors.ScoresInvalid(details={"item": key, "reason": "unknown_item"})
            given = points(value)
            if not given.is_finite() or given < 0 or given > item.max_points:
                raise errors.ScoresInvalid(details={"item": key, "reason": "out_of_range", "max_points": float(item.max_points)})
            if given % item.step != 0:
                raise errors.ScoresInvalid(details={"item": key, "reason": "not_a_step", "step": float(item.step)})
            checked[key] = float(given)
        if complete and (missing := [item.key for item in self.items if item.key not in checked]):
            raise errors.ScoresIncomplete(details={"missing": missing})
        return checked

    def total(self, scores: Mapping[str, float]) -> Decimal:
        return sum((points(scores[item.key]) for item in self.items if item.key in scores), Decimal(0))


def _invalid(reason: str, **details: object) -> errors.DualcamError:
    return errors.RubricInvalid(details={"reason": reason, **details})


def parse(items: Sequence[Mapping[str, Any]]) -> Rubric:
    """A rubric from its JSON items (as the API, the CLI file and the database hold them), or a declared 422 saying
    which item is wrong and why."""
    if not items:
        raise _invalid("no_items")
    if len(items) > MAX_ITEMS:
        raise _invalid("too_many_items", max_items=MAX_ITEMS)
    parsed: list[Item] = []
    for raw in items:
        key = str(raw["key"])
        if any(item.key == key for item in parsed):
            raise _invalid("duplicate_key", item=key)
        maximum, step = points(raw["max_points"]), points(raw.get("step", 1))
        if not (maximum.is_finite() and 0 < maximum <= MAX_POINTS):
            raise _invalid("max_points_out_of_range", item=key, limit=float(MAX_POINTS))
        if not (step.is_finite() and step > 0 and maximum % step == 0):
            raise _invalid("step_must_divide_max_points", item=key)
        bands = []
        for band in raw.get("descriptors", ()):
            low, high = points(band["from"]), points(band["to"])
            if not (0 <= low <= high <= maximum):
                raise _invalid("descriptor_out_of_range", item=key)
            bands.append(Band(low, high, str(band["text"]), str(band.get("text_en") or "")))
        parsed.append(Item(key, str(raw["label"]), str(raw.get("label_en") or ""), maximum, step, tuple(bands)))
    return Rubric(tuple(parsed))
