"""A cohort's JSON predictions as text, looked up by each score's count of hundredths.

A cohort's scores are whole hundredths within the target's bounds, so the text of a
student's answer (the score, and its range at a level) is made once per possible
score, by encoding the Prediction Struct itself, and a cohort's answer is a lookup
and a join: cheaper than building and encoding a Struct per student, and a range's
three fields cost no more than the score alone.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec
import numpy as np

from server.intervals import interval_ends

_encode = msgspec.json.Encoder().encode
_ID_KEY = b',"id":'
MAX_SCORES = 100_001  # hundredths tabulated at most: about 10 MB of texts per level


class CohortText:
    """The `predictions` array of a bulk JSON answer, as msgspec.Raw text."""

    def __init__(
        self,
        prediction: type[msgspec.Struct],
        low: float,
        high: float,
        half_widths: Mapping[int, float],
    ) -> None:
        self._prediction = prediction
        self._low, self._high = low, high
        self._half_widths = dict(half_widths)
        self._first = round(low * 100)
        count = round(high * 100) + 1 - self._first
        if count > MAX_SCORES:
            count = 0  # a target too wide to tabulate: every cohort takes the Struct path
        self._scores = np.arange(self._first, self._first + count) / 100
        heads = [_encode(prediction(s))[:-1] for s in self._scores.tolist()]
        self._heads = np.array(heads, dtype=object)  # '{"math_score":64.12' per score
        # Per level (None: no range) the texts after the score, and the whole
        # students', each ending "},"; a level's are made when first asked for.
        self._levels: dict[int | None, tuple[np.ndarray, np.ndarray]] = {}

    def predictions(
        self, cents: np.ndarray, ids: list | None, level: int | None
    ) -> msgspec.Raw | None:
        """The array's text for scores given as counts of hundredths; None when a
        score is off the table or some students have no id (the Struct path then)."""
        index = cents - self._first
        if not len(index) or index.min() < 0 or index.max() >= len(self._heads):
            return None
        if ids is not None and None in ids:
            return None
        index = index.astype(np.intp)
        tails, wholes = self._level(level)
        if ids is None:
            return _array(wholes[index].tolist())
        parts = [_ID_KEY] * (4 * len(index))
        parts[0::4] = self._heads[index].tolist()
        parts[2::4] = map(_encode, ids)
        parts[3::4] = tails[index].tolist()
        return _array(parts)

    def _level(self, level: int | None) -> tuple[np.ndarray, np.ndarray]:
        texts = self._levels.get(level)
        if texts is None:
            scores = self._scores.tolist()
            if level is None:
                answers = map(self._prediction, scores)
            else:
                width = self._half_widths[level]
                lower, upper = interval_ends(self._scores, width, self._low, self._high)
                ends = lower.tolist(), upper.tolist()
                unset, levels = [msgspec.UNSET] * len(scores), [level] * len(scores)
                answers = map(self._prediction, scores, unset, *ends, levels)
            wholes = [_encode(answer) + b"," for answer in answers]
            heads = self._heads.tolist()
            tails = [whole[len(head) :] for whole, head in zip(wholes, heads, strict=True)]
            texts = (np.array(tails, dtype=object), np.array(wholes, dtype=object))
            self._levels[level] = texts
        return texts


def _array(parts: list[bytes]) -> msgspec.Raw:
    """A JSON array of parts that each end a student with a comma: the brackets go
    onto the end parts, the last comma dropped, so the text is copied once."""
    parts[0] = b"[" + parts[0]
    parts[-1] = parts[-1][:-1] + b"]"
    return msgspec.Raw(b"".join(parts))
