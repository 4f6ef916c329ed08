"""Do these students look like the training data? Per field a distance and a verdict.

Distance: the population stability index (PSI). It is what model monitoring
reads (below 0.1 stable, above 0.25 a major shift) and, unlike Jensen-Shannon,
it grows in proportion to the chi-square statistic, so the figure and the
verdict agree. It is descriptive only: on a few students it is large by chance.

Verdict: a chi-square test of homogeneity between the training split's counts and
the cohort's (so the training sample's own noise is accounted for), on cells merged
until each expects at least five of the cohort's students; Holm's correction across
the fields keeps the false-alarm rate of a whole report at or below FALSE_ALARM_RATE.
A significant field is flagged only if its PSI reaches MIN_DISTANCE: with millions
of students the test finds differences too small to matter. The statistics are in
server/drift_stats.py, the counting in server/drift_count.py, the words in
server/drift_words.py.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
import numpy as np

from server.drift_reference import DriftReference, FieldReference
from server.drift_stats import chi2_sf, holm, homogeneity_statistic, merge_cells, psi
from server.drift_words import summarise

FALSE_ALARM_RATE = 0.05  # of a whole report, all fields together
MIN_DISTANCE = 0.02  # PSI; for normal scores, a shift of about 0.14 standard deviations
METHOD = (
    "chi-square test of homogeneity against the training split per field, "
    "Holm-corrected across fields; distance: population stability index"
)
DRIFT, NO_DRIFT, TOO_FEW = "drift", "no drift detected", "too few students to tell"


class FieldDrift(msgspec.Struct):
    """One field of a drift report."""

    students: Annotated[int, msgspec.Meta(ge=0, description="students the figures rest on")]
    distance: Annotated[
        float | None,
        msgspec.Meta(description="population stability index against the training split"),
    ]
    p_value: Annotated[
        float | None,
        msgspec.Meta(description="chi-square homogeneity test; null: too few students"),
    ]
    verdict: Literal["drift", "no drift detected", "too few students to tell"]
    summary: Annotated[
        str | None, msgspec.Meta(description="how a drifted field differs, in plain words")
    ]


class DriftReport(msgspec.Struct):
    """Are these students like the training data? (GET /drift, ?report=drift)"""

    students: Annotated[int, msgspec.Meta(ge=0)]
    flagged: Annotated[list[str], msgspec.Meta(description="the fields that drifted")]
    fields: dict[str, FieldDrift]
    false_alarm_rate: Annotated[float, msgspec.Meta(description="of a whole report")]
    method: str


def drift_report(reference: DriftReference, counts: np.ndarray) -> DriftReport:
    """Per field: students, PSI, p-value and verdict; the flagged fields' plain words."""
    offsets = reference.offsets
    cohorts = [counts[offsets[i] : offsets[i + 1]] for i in range(len(reference.fields))]
    tested = [_test(reference.rows, f, c) for f, c in zip(reference.fields, cohorts, strict=True)]
    significant = holm([p for _, _, p in tested], FALSE_ALARM_RATE)
    fields = {}
    for field, cohort, (students, distance, p_value), hit in zip(
        reference.fields, cohorts, tested, significant, strict=True
    ):
        drifted = hit and distance >= MIN_DISTANCE
        verdict = TOO_FEW if p_value is None else DRIFT if drifted else NO_DRIFT
        fields[field.name] = FieldDrift(
            students,
            None if distance is None else round(distance, 4),
            None if p_value is None else float(f"{p_value:.4g}"),
            verdict,
            summarise(field, cohort) if drifted else None,
        )
    return DriftReport(
        students=max((f.students for f in fields.values()), default=0),
        flagged=[name for name, f in fields.items() if f.verdict == DRIFT],
        fields=fields,
        false_alarm_rate=FALSE_ALARM_RATE,
        method=METHOD,
    )


def _test(
    rows: int, field: FieldReference, cohort: np.ndarray
) -> tuple[int, float | None, float | None]:
    """Students, PSI and p-value of one field (None: no students, or too few to test)."""
    students = int(cohort.sum())
    if not students:
        return 0, None, None
    distance = psi(field.shares, cohort / students)
    groups = merge_cells(field.shares, students, ordered=field.categories is None)
    if len(groups) < 2:
        return students, distance, None
    trained = np.array([field.shares[g].sum() for g in groups]) * rows
    seen = np.array([cohort[g].sum() for g in groups], dtype=np.float64)
    statistic, cells = homogeneity_statistic(trained, seen)
    return students, distance, chi2_sf(statistic, cells - 1) if cells > 1 else 1.0
