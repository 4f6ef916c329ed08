"""Per-value checks built from the model's schema: the precise, slower path.

The request parsers first try a fast path that only succeeds on valid input;
these rules run when it fails, to name every bad row and field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from model_store.contract import CategoricalFeature, Feature, ModelContract

ID_FIELD = "id"
INT64_BOUND = 2**63  # ids are 64-bit signed integers: -INT64_BOUND <= id < INT64_BOUND


def json_type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


@dataclass(frozen=True)
class FeatureRule:
    name: str
    categories: frozenset[str] | None  # None for a score
    minimum: float = 0.0
    maximum: float = 100.0
    allowed_text: str = ""

    @classmethod
    def from_feature(cls, feature: Feature) -> FeatureRule:
        if isinstance(feature, CategoricalFeature):
            values = feature.categories
            return cls(feature.name, frozenset(values), allowed_text=", ".join(map(repr, values)))
        return cls(feature.name, None, feature.minimum, feature.maximum)

    @property
    def expected(self) -> str:
        if self.categories is not None:
            return f"one of {self.allowed_text}"
        return f"a number from {self.minimum:g} to {self.maximum:g}"

    def check_json(self, value: object) -> str | None:
        """None if `value` (decoded JSON) is valid, else what is wrong with it."""
        if self.categories is not None:
            if isinstance(value, str):
                return None if value in self.categories else self._not_allowed(value)
            return f"expected a string, {self.expected}; got {json_type_name(value)}"
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"expected {self.expected}; got {json_type_name(value)}"
        if isinstance(value, int) and not self.minimum <= value <= self.maximum:
            # Compared as an integer: float() of one beyond 1.8e308 raises.
            return f"{str(value)[:20]} is out of range; expected {self.expected}"
        return self._check_range(float(value))

    def parse_text(self, text: str) -> tuple[object, str | None]:
        """A CSV cell as (value, None), or (None, what is wrong with it)."""
        text = text.strip()
        if not text:
            return None, f"missing value; expected {self.expected}"
        if self.categories is not None:
            return (text, None) if text in self.categories else (None, self._not_allowed(text))
        try:
            number = float(text)
        except ValueError:
            return None, f"{text[:50]!r} is not a number; expected {self.expected}"
        problem = self._check_range(number)
        return (None, problem) if problem else (number, None)

    def _check_range(self, number: float) -> str | None:
        if not math.isfinite(number):
            return f"must be a finite number, {self.expected}"
        if not self.minimum <= number <= self.maximum:
            return f"{number:g} is out of range; expected {self.expected}"
        return None

    def _not_allowed(self, value: str) -> str:
        return f"{value[:50]!r} is not an allowed value; allowed: {self.allowed_text}"


def check_id(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value.isascii() or not _has_lone_surrogate(value):
            return None
        return "id must be Unicode text; it holds a lone surrogate escape (\\ud800-\\udfff)"
    if isinstance(value, int) and not isinstance(value, bool):
        if -INT64_BOUND <= value < INT64_BOUND:
            return None
        return "id is out of range; an integer id must fit in 64 bits (or send it as a string)"
    return f"id must be a string or an integer; got {json_type_name(value)}"


def _has_lone_surrogate(text: str) -> bool:
    # JSON may escape one (\ud800); it cannot be encoded as UTF-8 in the answer.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def rules_for(contract: ModelContract) -> tuple[FeatureRule, ...]:
    return tuple(FeatureRule.from_feature(f) for f in contract.features)
