"""Do these students look like the training data? Counts per field, a distance, a verdict.

The metadata's `drift_reference` holds, per served feature, the training split's
shares: per category, or per score bin (training deciles as edges; a score falls in
bin i when edges[i-1] <= score < edges[i], as `np.searchsorted(..., side="right")`).

Distance: the population stability index (PSI, the symmetrised Kullback-Leibler
divergence). It is what model monitoring reads (below 0.1 stable, above 0.25 a
major shift) and, unlike Jensen-Shannon, it grows in proportion to the chi-square
statistic, so the figure and the verdict agree. It is descriptive only: on a few
students it is large by chance.

Verdict: a chi-square test of homogeneity between the training split's counts and
the cohort's (so the training sample's own noise is accounted for), on cells merged
until each expects at least five of the cohort's students; Holm's correction across
the fields keeps the false-alarm rate of a whole report at or below FALSE_ALARM_RATE.
A significant field is flagged only if its PSI reaches MIN_DISTANCE: with millions
of students the test finds differences too small to matter.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from model_store.schema import CATEGORICAL, features

FALSE_ALARM_RATE = 0.05  # of a whole report, all fields together
MIN_EXPECTED = 5.0  # students expected per cell, for the chi-square approximation to hold
MIN_DISTANCE = 0.02  # PSI; for normal scores, a shift of about 0.14 standard deviations
METHOD = (
    "chi-square test of homogeneity against the training split per field, "
    "Holm-corrected across fields; distance: population stability index"
)


@dataclass(frozen=True)
class FieldReference:
    name: str
    categories: tuple[str, ...] | None  # the schema's own str objects; None for a score
    edges: np.ndarray | None  # inner bin edges of a score
    shares: np.ndarray  # one per category or bin, as in the training split
    minimum: float = 0.0
    maximum: float = 100.0

    @property
    def cells(self) -> list[str]:
        """Label of each counted cell: the category, or the bin's index."""
        return list(self.categories) if self.categories else [str(i) for i in range(self.size)]

    @property
    def size(self) -> int:
        return len(self.shares)


@dataclass(frozen=True)
class DriftReference:
    rows: int  # training students the shares come from
    fields: tuple[FieldReference, ...]

    @classmethod
    def from_metadata(cls, metadata: dict) -> DriftReference | None:
        """The served features' references, or None if the version carries none."""
        recorded = metadata.get("drift_reference")
        if not recorded:
            return None
        fields = []
        for feature in features(metadata):
            field = recorded["fields"].get(feature["name"])
            if field is None:
                continue
            if feature["kind"] == CATEGORICAL:
                categories = tuple(feature["categories"])
                shares = [field["shares"].get(c, 0.0) for c in categories]
                fields.append(FieldReference(feature["name"], categories, None, np.array(shares)))
            else:
                fields.append(
                    FieldReference(
                        feature["name"], None, np.asarray(field["edges"], dtype=np.float64),
                        np.asarray(field["shares"], dtype=np.float64),
                        float(feature["minimum"]), float(feature["maximum"]),
                    )
                )  # fmt: skip
        return cls(int(recorded["rows"]), tuple(fields))

    @property
    def offsets(self) -> list[int]:
        """Where each field's cells start in a flat count vector."""
        return np.cumsum([0] + [f.size for f in self.fields]).tolist()


class CohortCounter:
    """Counts per field and cell of validated columns, as one flat vector.

    The parsers hand categories over as the schema's own str objects, so a large
    batch's categories are counted by address: one searchsorted over all its
    categorical columns at once, instead of a string comparison per student and
    category. Columns of other str objects (the parsers' slow paths) are counted by
    value, with the same result; so are batches of a few students, where numpy's
    per-call cost would outweigh the work.
    """

    SMALL_BATCH = 16  # students; at most this many are counted in plain Python

    def __init__(self, reference: DriftReference) -> None:
        self.reference = reference
        offsets = reference.offsets
        self._categorical = [
            (f, offsets[i]) for i, f in enumerate(reference.fields) if f.categories
        ]
        self._numeric = [
            (f, offsets[i]) for i, f in enumerate(reference.fields) if not f.categories
        ]
        self._slots = _AddressSlots([(f.categories, offset) for f, offset in self._categorical])
        self._cell_by_value = {
            f.name: {c: offset + i for i, c in enumerate(f.categories)}
            for f, offset in self._categorical
        }
        self._edges = {f.name: f.edges.tolist() for f, _ in self._numeric}
        self._size = offsets[-1]

    def as_arrays(self, columns: Mapping[str, Sequence]) -> dict[str, Sequence]:
        """The columns as the model's feeds take them (categories as objects, scores
        as float32), so counting and scoring convert each column once between them."""
        arrays = dict(columns)
        if len(next(iter(columns.values()), ())) <= self.SMALL_BATCH:
            return arrays  # counted in plain Python; the model converts these few itself
        for field, _ in self._categorical:
            arrays[field.name] = np.asarray(columns[field.name], dtype=object)
        for field, _ in self._numeric:
            arrays[field.name] = np.asarray(columns[field.name], dtype=np.float32)
        return arrays

    def count(self, columns: Mapping[str, Sequence], size: int) -> np.ndarray:
        """Students per cell of every field (int64, `reference.offsets` apart)."""
        if not size:
            return np.zeros(self._size, dtype=np.int64)
        if size <= self.SMALL_BATCH:
            return np.bincount(self.cells_by_value(columns), minlength=self._size)
        codes = [self._categorical_cells(columns)] if self._categorical else []
        for field, offset in self._numeric:
            # Float32 as the model sees them, compared exactly with the float64 edges.
            scores = np.asarray(columns[field.name])
            codes.append(np.searchsorted(field.edges, scores, side="right") + offset)
        return np.bincount(np.concatenate(codes, axis=None), minlength=self._size)

    def _categorical_cells(self, columns: Mapping[str, Sequence]) -> np.ndarray:
        table = np.stack([np.asarray(columns[f.name], dtype=object) for f, _ in self._categorical])
        cells = self._slots.cells(table) if self._slots.usable else None
        if cells is not None:
            return cells
        return np.array(
            [
                [cells[value] for value in columns[name]]
                for name, cells in self._cell_by_value.items()
            ],
            dtype=np.intp,
        )

    def cells_by_value(self, columns: Mapping[str, Sequence]) -> list[int]:
        """The cell of each student in each field, in plain Python (for a few students)."""
        codes = [cells[v] for name, cells in self._cell_by_value.items() for v in columns[name]]
        for field, offset in self._numeric:
            edges = self._edges[field.name]
            codes.extend(offset + bisect.bisect_right(edges, v) for v in columns[field.name])
        return codes


class _AddressSlots:
    """A perfect hash of the category objects' addresses, row by row of the table.

    Slot = (address >> shift) & mask, offset by the row; the first shift and mask
    under which each field's objects take distinct slots are kept. A slot is only
    trusted if it holds that very address, so any other object sends the batch to
    the count by value.
    """

    def __init__(self, fields: list[tuple[tuple[str, ...], int]]) -> None:
        """`fields`: per row of the table, its category objects and its first cell."""
        self.usable = False
        widest = max((len(c) for c, _ in fields), default=1)
        for bits in range(max(widest - 1, 1).bit_length(), 13):
            for shift in (4, 3, 5, 6, 0, 1, 2, 7, 8):
                mask = (1 << bits) - 1
                slots = [{(id(v) >> shift) & mask for v in c} for c, _ in fields]
                if all(len(s) == len(c) for s, (c, _) in zip(slots, fields, strict=True)):
                    self._build(fields, shift, mask)
                    return

    def _build(self, fields: list, shift: int, mask: int) -> None:
        self.usable = True
        self._shift, self._mask = shift, mask
        size = (mask + 1) * len(fields)
        self._address = np.zeros(size, dtype=np.intp)  # no object lives at address 0
        self._cell = np.zeros(size, dtype=np.intp)
        for row, (categories, offset) in enumerate(fields):
            for index, value in enumerate(categories):
                slot = row * (mask + 1) + ((id(value) >> shift) & mask)
                self._address[slot] = id(value)
                self._cell[slot] = offset + index
        self._row_base = (np.arange(len(fields)) * (mask + 1))[:, None]

    def cells(self, table: np.ndarray) -> np.ndarray | None:
        """Each object's cell, or None if any is not one of the category objects."""
        # The addresses of the table's objects, read in place (the table stays alive).
        addresses = np.asarray(_ArrayInterface(table))
        slots = addresses >> self._shift
        slots &= self._mask
        slots += self._row_base
        if not (self._address[slots] == addresses).all():
            return None
        return self._cell[slots]


class _ArrayInterface:
    """An object array's pointers as integers (numpy refuses to view references)."""

    def __init__(self, table: np.ndarray) -> None:
        self.__array_interface__ = {
            "data": (table.ctypes.data, True),
            "shape": table.shape,
            "typestr": np.dtype(np.intp).str,
            "version": 3,
        }


@dataclass(frozen=True)
class FieldDrift:
    name: str
    students: int
    distance: float | None  # PSI; None without students
    p_value: float | None  # None when too few students to test
    drifted: bool
    summary: str | None  # plain words, for a drifted field

    def as_dict(self) -> dict:
        if self.p_value is None:
            verdict = "too few students to tell"
        else:
            verdict = "drift" if self.drifted else "no drift detected"
        return {
            "students": self.students,
            "distance": None if self.distance is None else round(self.distance, 4),
            "p_value": None if self.p_value is None else float(f"{self.p_value:.4g}"),
            "verdict": verdict,
            "summary": self.summary,
        }


def drift_report(reference: DriftReference, counts: np.ndarray) -> dict:
    """Per field: students, PSI, p-value and verdict; the flagged fields' plain words."""
    offsets = reference.offsets
    cohorts = [counts[offsets[i] : offsets[i + 1]] for i in range(len(reference.fields))]
    fields = [_compare(reference, f, c) for f, c in zip(reference.fields, cohorts, strict=True)]
    significant = _holm([f.p_value for f in fields])
    for index, (field, cohort) in enumerate(zip(reference.fields, cohorts, strict=True)):
        result = fields[index]
        if significant[index] and result.distance >= MIN_DISTANCE:
            fields[index] = replace(result, drifted=True, summary=summarise(field, cohort))
    return {
        "students": max((f.students for f in fields), default=0),
        "flagged": [f.name for f in fields if f.drifted],
        "fields": {f.name: f.as_dict() for f in fields},
        "false_alarm_rate": FALSE_ALARM_RATE,
        "method": METHOD,
    }


def _compare(reference: DriftReference, field: FieldReference, cohort: np.ndarray) -> FieldDrift:
    students = int(cohort.sum())
    if not students:
        return FieldDrift(field.name, 0, None, None, False, None)
    distance = psi(field.shares, cohort / students)
    groups = merge_cells(field, students)
    if len(groups) < 2:
        return FieldDrift(field.name, students, distance, None, False, None)
    trained = np.array([field.shares[g].sum() for g in groups]) * reference.rows
    seen = np.array([cohort[g].sum() for g in groups], dtype=np.float64)
    statistic, cells = homogeneity_statistic(trained, seen)
    p_value = chi2_sf(statistic, cells - 1) if cells > 1 else 1.0
    return FieldDrift(field.name, students, distance, p_value, False, None)


def merge_cells(field: FieldReference, students: int) -> list[list[int]]:
    """Cells grouped so that each group expects MIN_EXPECTED of `students`.

    Bins merge with their neighbours, categories from the commonest down. The
    grouping depends on the reference and the cohort's size only, not on its counts.
    """
    order = range(field.size) if field.categories is None else np.argsort(-field.shares)
    groups: list[list[int]] = []
    current: list[int] = []
    expected = 0.0
    for cell in order:
        current.append(int(cell))
        expected += field.shares[cell] * students
        if expected >= MIN_EXPECTED:
            groups.append(current)
            current, expected = [], 0.0
    if current:
        if groups:
            groups[-1].extend(current)
        else:
            groups.append(current)
    return groups


def homogeneity_statistic(trained: np.ndarray, seen: np.ndarray) -> tuple[float, int]:
    """Pearson's chi-square of the 2 x k table (training counts, cohort counts).

    Returns the statistic and the number of cells with any students.
    """
    keep = (trained + seen) > 0
    trained, seen = trained[keep], seen[keep]
    column = trained + seen
    total = column.sum()
    statistic = 0.0
    for row in (trained, seen):
        expected = column * (row.sum() / total)
        statistic += float(((row - expected) ** 2 / expected).sum())
    return statistic, int(keep.sum())


def psi(reference: np.ndarray, cohort: np.ndarray) -> float:
    """Population stability index; empty cells count as half a student in ten thousand."""
    smoothing = 5e-5
    p = (reference + smoothing) / (1 + smoothing * len(reference))
    q = (cohort + smoothing) / (1 + smoothing * len(cohort))
    return float(((q - p) * np.log(q / p)).sum())


def chi2_sf(statistic: float, df: int) -> float:
    """P(X >= statistic) for X chi-square with `df` degrees of freedom."""
    if statistic <= 0:
        return 1.0
    return upper_gamma_regularised(df / 2.0, statistic / 2.0)


def upper_gamma_regularised(a: float, x: float) -> float:
    """Q(a, x) = Gamma(a, x) / Gamma(a): a series below a + 1, a continued fraction above.

    Numerical Recipes' gammq: either converges to double precision within a few
    hundred terms for the a (at most a few dozen) and x met here.
    """
    if x <= 0:
        return 1.0
    log_prefactor = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        denominator = a
        for _ in range(10_000):
            denominator += 1
            term *= x / denominator
            total += term
            if abs(term) < abs(total) * 1e-16:
                break
        return max(0.0, 1.0 - total * math.exp(log_prefactor))
    # Modified Lentz's method for the continued fraction of Gamma(a, x).
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-16:
            break
    return min(1.0, math.exp(log_prefactor) * h)


def _holm(p_values: Sequence[float | None]) -> list[bool]:
    """Which p-values Holm's step-down procedure rejects at FALSE_ALARM_RATE."""
    tested = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    rejected = [False] * len(p_values)
    for rank, (p, index) in enumerate(tested):
        if p > FALSE_ALARM_RATE / (len(tested) - rank):
            break
        rejected[index] = True
    return rejected


# How a category reads in a sentence; other fields read "students with <field> <value>".
_PHRASES = {
    "gender": "{value} students",
    "race_ethnicity": "students in {value}",
    "parental_level_of_education": "students whose parents' education is {value}",
    "lunch": "students on {value} lunch",
    "test_preparation_course": "students whose test preparation course is {value}",
}
_TIMES = {2: "twice", 3: "three times", 4: "four times", 5: "five times", 6: "six times"}
_FRACTIONS = {2: "half", 3: "a third", 4: "a quarter", 5: "a fifth"}


def summarise(field: FieldReference, cohort: np.ndarray) -> str:
    """One sentence on how this cohort differs from the training data in `field`."""
    students = cohort.sum()
    if field.categories is not None:
        return _summarise_categories(field, cohort / students)
    return _summarise_scores(field, cohort / students)


def _summarise_categories(field: FieldReference, shares: np.ndarray) -> str:
    p = field.shares + 5e-5
    q = shares + 5e-5
    cell = int(np.argmax((q - p) * np.log(q / p)))
    value, trained, seen = field.categories[cell], field.shares[cell], shares[cell]
    template = _PHRASES.get(
        field.name, "students with " + field.name.replace("_", " ") + " {value}"
    )
    who = template.format(value=f"\u201c{value}\u201d" if field.name not in _PHRASES else value)
    figures = f"({seen:.0%} against {trained:.0%})"
    if trained == 0:
        return f"this cohort has {who}, whom the training data did not have {figures}"
    ratio = seen / trained
    if ratio == 0:
        comparison = f"no {who}"
        return f"this cohort has {comparison}, unlike the training data {figures}"
    if ratio >= 1.75:
        times = round(ratio)
        words = _TIMES.get(times, f"{times} times")
        return f"this cohort has {words} as many {who} as the training data {figures}"
    if ratio >= 1:
        return f"this cohort has {ratio - 1:.0%} more {who} than the training data {figures}"
    if ratio <= 0.55 and round(1 / ratio) in _FRACTIONS:
        words = _FRACTIONS[round(1 / ratio)]
        return f"this cohort has about {words} as many {who} as the training data {figures}"
    return f"this cohort has {1 - ratio:.0%} fewer {who} than the training data {figures}"


def _summarise_scores(field: FieldReference, shares: np.ndarray) -> str:
    what = field.name.replace("_score", " scores").replace("_", " ")
    trained = _quantiles(field, field.shares)
    seen = _quantiles(field, shares)
    shift = seen[1] - trained[1]
    if abs(shift) >= 1:
        direction = "lower" if shift < 0 else "higher"
        return (
            f"{what} are about {abs(shift):.0f} points {direction} than in the training data "
            f"(median about {seen[1]:.0f} against {trained[1]:.0f})"
        )
    spread, trained_spread = seen[2] - seen[0], trained[2] - trained[0]
    if trained_spread > 0 and abs(spread / trained_spread - 1) >= 0.2:
        how = "more" if spread > trained_spread else "less"
        return (
            f"{what} are {how} spread out than in the training data (the middle half spans "
            f"about {spread:.0f} points against {trained_spread:.0f})"
        )
    return f"{what} are distributed differently from the training data"


def _quantiles(field: FieldReference, shares: np.ndarray) -> np.ndarray:
    """Quartiles interpolated within the bins, the outer bins ending at the schema's bounds."""
    bounds = np.concatenate(([field.minimum], field.edges, [field.maximum]))
    cumulative = np.concatenate(([0.0], np.cumsum(shares)))
    cumulative /= cumulative[-1]
    return np.interp([0.25, 0.5, 0.75], cumulative, bounds)
