"""server/drift*.py: counting columns and judging a cohort against its reference."""

from __future__ import annotations

import bisect
import json

import numpy as np
import pytest

from server.drift import DriftReport, drift_report
from server.drift_count import CohortCounter
from server.drift_reference import DriftReference
from server.drift_stats import merge_cells, psi
from server.drift_words import summarise
from server.json_input import JsonParser
from tests.support.drift import TRAINING_ROWS, build_reference, draw_students


@pytest.fixture(scope="module")
def metadata(model) -> dict:
    training = draw_students(model.metadata, TRAINING_ROWS, seed=0)
    return {**model.metadata, "drift_reference": build_reference(model.metadata, training)}


@pytest.fixture(scope="module")
def reference(metadata) -> DriftReference:
    return DriftReference.from_metadata(metadata)


@pytest.fixture(scope="module")
def counter(reference) -> CohortCounter:
    return CohortCounter(reference)


def report_of(counter: CohortCounter, columns: dict) -> DriftReport:
    size = len(next(iter(columns.values())))
    return drift_report(counter.reference, counter.count(columns, size))


def test_a_version_without_a_reference_has_no_drift_reference(model):
    metadata = {k: v for k, v in model.metadata.items() if k != "drift_reference"}
    assert DriftReference.from_metadata(metadata) is None


def test_the_committed_model_carries_a_reference_of_every_served_feature(model):
    reference = DriftReference.from_metadata(model.metadata, model.contract.model)
    assert [f.name for f in reference.fields] == list(model.contract.model.feature_names)
    assert all(abs(f.shares.sum() - 1) < 1e-6 for f in reference.fields)


def test_counts_per_field_add_up_to_the_students(counter, metadata):
    columns = draw_students(metadata, 300, seed=1)
    counts = counter.count(columns, 300)
    offsets = counter.reference.offsets
    per_field = [counts[a:b].sum() for a, b in zip(offsets, offsets[1:], strict=False)]
    assert per_field == [300] * len(counter.reference.fields)


def test_counts_match_a_plain_count_of_every_cell(counter, metadata):
    columns = draw_students(metadata, 500, seed=2)
    counts = counter.count(columns, 500)
    offsets = counter.reference.offsets
    for index, field in enumerate(counter.reference.fields):
        cells = counts[offsets[index] : offsets[index + 1]]
        if field.categories:
            expected = [columns[field.name].count(c) for c in field.categories]
        else:
            bins = np.searchsorted(field.edges, columns[field.name], side="right")
            expected = [int((bins == i).sum()) for i in range(field.size)]
        assert cells.tolist() == expected, field.name


def test_categories_as_codes_count_as_their_text(counter, model, metadata):
    """The parsers hand categories over as their codes; scripts may give the text."""
    columns = draw_students(metadata, 200, seed=3)
    contract = model.contract.model
    coded = {
        name: contract.codes(name, values) if isinstance(values[0], str) else values
        for name, values in columns.items()
    }
    np.testing.assert_array_equal(counter.count(coded, 200), counter.count(columns, 200))


@pytest.mark.parametrize("rows", [17, 200])
def test_the_models_arrays_count_the_same_as_lists(counter, metadata, rows):
    columns = draw_students(metadata, rows, seed=4)
    arrays = counter.as_arrays(columns)
    assert arrays["reading_score"].dtype == np.float32
    np.testing.assert_array_equal(counter.count(arrays, rows), counter.count(columns, rows))


def test_a_few_students_are_left_for_the_model_to_convert(counter, metadata):
    columns = draw_students(metadata, CohortCounter.SMALL_BATCH, seed=4)
    assert counter.as_arrays(columns) == columns


@pytest.mark.parametrize("rows", [1, 16, 17, 200])
def test_small_and_large_batches_count_alike(counter, metadata, rows):
    columns = draw_students(metadata, rows, seed=10)
    small = counter.count({k: v[:1] for k, v in columns.items()}, 1)
    assert small.sum() == len(counter.reference.fields)
    by_student = sum(
        counter.count({k: v[i : i + 1] for k, v in columns.items()}, 1) for i in range(rows)
    )
    np.testing.assert_array_equal(counter.count(columns, rows), by_student)


def with_edges(metadata: dict, edges: list[float], *names: str) -> DriftReference:
    """The reference with these score fields' bins at `edges`, all of equal share."""
    recorded = metadata["drift_reference"]
    shares = [1 / (len(edges) + 1)] * (len(edges) + 1)
    fields = {**recorded["fields"], **{name: {"edges": edges, "shares": shares} for name in names}}
    return DriftReference.from_metadata(
        {**metadata, "drift_reference": {**recorded, "fields": fields}}
    )


def test_scores_on_and_beside_each_edge_fall_in_the_bin_a_plain_count_gives(metadata):
    """The sorted-scores count against each student's own bin, where they could differ:
    on an edge and the float32 neighbours either side, for whole edges and for edges
    that float32 cannot hold (a float32 comparison would misplace some)."""
    edges = metadata["drift_reference"]["fields"]["reading_score"]["edges"]
    reference = with_edges(metadata, [e + 0.3 for e in edges], "reading_score")
    fields = [f for f in reference.fields if not f.categories]
    near = [np.float32(e) for f in fields for e in f.edges] + [np.float32(0), np.float32(100)]
    scores = np.array(
        [np.nextafter(v, to) for v in near for to in (-np.inf, v, np.inf)], dtype=np.float32
    )
    columns = draw_students(metadata, len(scores), seed=22)
    columns |= {f.name: scores[::-1] if i else scores for i, f in enumerate(fields)}
    counts = CohortCounter(reference).count(columns, len(scores))
    for field, offset in zip(reference.fields, reference.offsets, strict=False):
        if field.categories:
            continue
        edges = field.edges.tolist()
        bins = [bisect.bisect_right(edges, float(v)) for v in columns[field.name]]
        plain = np.bincount(bins, minlength=field.size)
        np.testing.assert_array_equal(counts[offset : offset + field.size], plain, field.name)


def plain_counts(reference: DriftReference, columns: dict) -> np.ndarray:
    """Every student placed in their cell one by one: what the counter must agree with."""
    cells = []
    for field in reference.fields:
        values = columns[field.name]
        if field.categories:
            cells.append([list(values).count(c) for c in field.categories])
        else:
            edges = field.edges.tolist()
            bins = [bisect.bisect_right(edges, float(v)) for v in values]
            cells.append(np.bincount(bins, minlength=field.size).tolist())
    return np.concatenate(cells)


@pytest.mark.parametrize(
    "edges",
    [
        [0.0, 40.0, 57.0, 63.0, 99.0, 100.0],  # whole: tallied per whole part, at the ends too
        [40.5, 57.25, 63.75, 99.5],  # not whole: each student placed by the sorted scores
    ],
)
def test_decimal_scores_count_as_a_plain_count_whatever_the_edges(metadata, edges):
    """Scores with decimals either side of each edge and on it, as float32 (the model's)
    and as float64 (a few students, or scripts)."""
    reference = with_edges(metadata, edges, "reading_score", "writing_score")
    near = [e + d for e in edges for d in (-0.75, -0.5, -1e-4, 0.0, 1e-4, 0.5)]
    scores = np.clip(near + [0.0, 0.25, 99.99, 100.0], 0, 100)
    columns = draw_students(metadata, len(scores), seed=24)
    columns |= {"reading_score": scores.tolist(), "writing_score": scores[::-1].tolist()}
    counter = CohortCounter(reference)
    np.testing.assert_array_equal(
        counter.count(columns, len(scores)), plain_counts(reference, columns)
    )
    arrays = counter.as_arrays(columns)  # the scores as the model's float32
    np.testing.assert_array_equal(
        counter.count(arrays, len(scores)), plain_counts(reference, arrays)
    )


def test_a_score_above_its_range_counts_in_the_top_bin(metadata):
    """Validation keeps scores in range; were one to slip through, it is still counted
    where a plain count puts it, not lost or raised on."""
    reference = with_edges(metadata, [50.0, 90.0], "reading_score", "writing_score")
    columns = draw_students(metadata, 40, seed=25)
    columns["reading_score"] = [*columns["reading_score"][:-2], 100.5, 250.0]
    counts = CohortCounter(reference).count(columns, 40)
    np.testing.assert_array_equal(counts, plain_counts(reference, columns))


def test_tallies_added_up_read_as_one_count_of_all_their_students(counter, metadata):
    """Live counting tallies request by request and reads the sum once per flush."""
    batches = [draw_students(metadata, rows, seed=30 + rows) for rows in (17, 250, 1000)]
    tally = np.zeros(counter.tally_size, dtype=np.int64)
    for columns in batches:
        counter.tally(counter.as_arrays(columns), len(columns["gender"]), tally)
    joined = {name: sum((b[name] for b in batches), []) for name in batches[0]}
    np.testing.assert_array_equal(counter.cells(tally), counter.count(joined, 1267))
    np.testing.assert_array_equal(counter.cells(tally), plain_counts(counter.reference, joined))


def test_a_score_without_edges_counts_everyone_in_its_one_bin(metadata):
    reference = with_edges(metadata, [], "reading_score")
    columns = draw_students(metadata, 40, seed=23)
    counts = CohortCounter(reference).count(columns, 40)
    offset = reference.offsets[[f.name for f in reference.fields].index("reading_score")]
    assert counts[offset] == 40
    assert counts.sum() == 40 * len(reference.fields)


def test_no_students_count_zero(counter):
    assert counter.count({}, 0).sum() == 0


def test_a_cohort_from_the_population_is_not_flagged(counter, metadata):
    report = report_of(counter, draw_students(metadata, 400, seed=5))
    assert report.flagged == []
    assert report.students == 400
    assert all(f.verdict == "no drift detected" for f in report.fields.values())


def test_a_tripled_category_is_flagged_on_its_field(counter, metadata):
    field = "parental_level_of_education"
    columns = draw_students(metadata, 400, seed=6, tripled=(field, "high school"))
    report = report_of(counter, columns)
    assert field in report.flagged
    summary = report.fields[field].summary
    assert "three times as many students whose parents' education is high school" in summary


def test_a_ten_point_shift_is_flagged_with_its_size_in_words(counter, metadata):
    columns = draw_students(metadata, 400, seed=7, shift=("reading_score", -10))
    report = report_of(counter, columns)
    assert report.flagged == ["reading_score"]
    summary = report.fields["reading_score"].summary
    assert summary.startswith("reading scores are about")
    assert "points lower than in the training data" in summary
    points = int(summary.split("about ")[1].split(" ")[0])
    assert 8 <= points <= 12


def test_a_handful_of_students_is_too_few_to_tell(counter, metadata):
    report = report_of(counter, draw_students(metadata, 3, seed=8))
    assert report.flagged == []
    assert {f.verdict for f in report.fields.values()} == {"too few students to tell"}


def test_cells_merge_until_each_expects_five_students(reference):
    field = next(f for f in reference.fields if f.name == "reading_score")
    groups = merge_cells(field.shares, 30, ordered=True)
    assert sorted(c for g in groups for c in g) == list(range(field.size))
    assert all(field.shares[g].sum() * 30 >= 5 for g in groups)


def test_psi_is_zero_for_equal_shares_and_grows_with_the_difference():
    reference = np.array([0.5, 0.3, 0.2])
    assert psi(reference, reference) == pytest.approx(0, abs=1e-12)
    near, far = np.array([0.4, 0.35, 0.25]), np.array([0.2, 0.4, 0.4])
    assert 0 < psi(reference, near) < psi(reference, far)


@pytest.mark.parametrize(
    ("cohort", "words"),
    [
        ([0.1, 0.9], "three times as many"),
        ([0.06, 0.94], "twice as many"),
        ([0.036, 0.964], "20% more"),
        ([0.015, 0.985], "about half as many"),
        ([0.0, 1.0], "no "),
    ],
)
def test_category_summaries_say_how_many_times_as_many(reference, cohort, words):
    field = next(f for f in reference.fields if f.name == "lunch")
    field = type(field)(field.name, field.categories, None, np.array([0.03, 0.97]))
    assert words in summarise(field, np.array(cohort) * 1000)


def test_the_parsers_columns_count_as_their_records(counter, model):
    """What serves real requests: the JSON parser's own columns, codes and all."""
    records = [{**r} for r in model.metadata["parity_sample"]["records"]]
    batch = JsonParser(model.contract, 1000).parse(json.dumps(records).encode())
    plain = {name: [r[name] for r in records] for name in model.contract.model.feature_names}
    np.testing.assert_array_equal(
        counter.count(batch.columns, len(records)), counter.count(plain, len(records))
    )
