"""What the server reads and answers, derived once from the model's contract.

The request record and the answers are msgspec Structs
built here when the model loads: the JSON decoder and encoder, the validation
rules and GET /openapi.json (server/openapi.py) all come from them, so a field
added to an answer is written in its Struct below and nowhere else.
"""

# No `from __future__ import annotations`: msgspec reads the annotations of the
# answer Structs made in _answer_types, whose types are local to that function.
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import TYPE_CHECKING, Annotated, Literal, Union

import msgspec

from model_store.contract import CategoricalFeature, ModelContract
from model_store.store import IntegrityError
from server.batch import Batch
from server.drift import DriftReport
from server.json_output import CohortText
from server.options import QueryOptions
from server.rules import ID_FIELD, INT64_BOUND, FeatureRule, rules_for

if TYPE_CHECKING:
    from server.model import Scored

# The answers name their score field; a model predicting anything else is not ours to serve.
SCORE_FIELD = "math_score"
Int64 = Annotated[int, msgspec.Meta(ge=-INT64_BOUND, le=INT64_BOUND - 1)]
RecordId = Annotated[
    str | Int64, msgspec.Meta(description="any string or 64-bit integer, echoed back")
]


class Status(msgspec.Struct, omit_defaults=True):
    status: str
    model_version: str | None = None


@dataclass(frozen=True)
class ServingContract:
    """The served model's request, options and answer types, with what derives from them."""

    model: ModelContract
    rules: tuple[FeatureRule, ...]
    student: type[msgspec.Struct]
    options: QueryOptions
    contributions: type[msgspec.Struct]
    prediction: type[msgspec.Struct]
    single: type[msgspec.Struct]
    bulk: type[msgspec.Struct]
    decoder: msgspec.json.Decoder
    cohort_text: CohortText

    @classmethod
    def build(cls, model: ModelContract, reportable: bool = False) -> "ServingContract":
        """`reportable`: the version carries a drift reference (?report=drift)."""
        if model.target.name != SCORE_FIELD:
            raise IntegrityError(
                f"the model predicts {model.target.name!r}; this server answers {SCORE_FIELD!r}"
            )
        student = _student_record(model)
        contributions, prediction, single, bulk = _answer_types(model)
        options = QueryOptions(model, reportable)
        low, high = model.target.minimum, model.target.maximum
        return cls(
            model=model,
            rules=rules_for(model),
            student=student,
            options=options,
            contributions=contributions,
            prediction=prediction,
            single=single,
            bulk=bulk,
            decoder=msgspec.json.Decoder(Union[student, list[student]]),  # noqa: UP007
            cohort_text=CohortText(prediction, low, high, options.half_widths),
        )

    @classmethod
    def from_metadata(cls, metadata: dict) -> "ServingContract":
        return cls.build(
            ModelContract.from_metadata(metadata), bool(metadata.get("drift_reference"))
        )

    def answer(
        self, version: str, scored: "Scored", batch: Batch, drift: DriftReport | None = None
    ) -> msgspec.Struct:
        """The JSON answer: one student's, or the cohort's in request order.

        A cohort's predictions are looked up as text (server/json_output.py) unless
        explained; otherwise answers are made positionally, in Prediction's field
        order: the score, the id, then the optional fields only when asked for."""
        report = msgspec.UNSET if drift is None else drift
        if scored.cents is not None and scored.contributions is None and not batch.single:
            text = self.cohort_text.predictions(scored.cents, batch.ids, scored.interval_level)
            if text is not None:  # written verbatim where the predictions go
                return self.bulk(
                    model_version=version, count=batch.size, predictions=text, drift=report
                )
        optional = self._optional_columns(scored)
        if batch.single:
            ident = batch.ids[0] if batch.ids is not None else msgspec.UNSET
            if not optional:
                return self.single(scored.scores[0], ident, model_version=version, drift=report)
            first = [next(iter(column)) for column in optional]
            return self.single(scored.scores[0], ident, *first, model_version=version, drift=report)
        if batch.ids is None and not optional:
            predictions = list(map(self.prediction, scores := scored.scores))
        else:
            if batch.ids is None:
                ids = repeat(msgspec.UNSET)
            else:
                ids = [msgspec.UNSET if i is None else i for i in batch.ids]
            predictions = list(map(self.prediction, scores := scored.scores, ids, *optional))
        return self.bulk(
            model_version=version, count=len(scores), predictions=predictions, drift=report
        )

    def _optional_columns(self, scored: "Scored") -> list[Iterable]:
        """Prediction's fields after the id, each a column over the students; none
        when no option was asked for."""
        if scored.interval_level is None and scored.contributions is None:
            return []
        unset = repeat(msgspec.UNSET)
        if scored.interval_level is None:
            interval = [unset, unset, unset]
        else:
            ends = [_as_list(scored.lower), _as_list(scored.upper)]
            interval = [*ends, repeat(scored.interval_level)]
        if scored.contributions is None:
            explained = [unset, unset]
        else:
            points = map(self.contributions, *(p.tolist() for p in scored.contributions.values()))
            explained = [points, repeat(scored.baseline)]
        return [*interval, *explained]


def _as_list(values: Sequence[float]) -> list[float]:
    return values if isinstance(values, list) else values.tolist()


def _student_record(model: ModelContract) -> type[msgspec.Struct]:
    """One student as the JSON decoder reads it, validating while it parses:
    categories as Literal, scores with their bounds, an optional id."""
    fields: list[tuple] = []
    for feature in model.features:
        if isinstance(feature, CategoricalFeature):
            kind = Literal[tuple(sorted(feature.categories))]
        else:
            kind = Annotated[float, msgspec.Meta(ge=feature.minimum, le=feature.maximum)]
        fields.append((feature.name, kind))
    fields.append((ID_FIELD, RecordId | None, None))
    return msgspec.defstruct("Student", fields, kw_only=True)


def _answer_types(model: ModelContract) -> tuple[type[msgspec.Struct], ...]:
    target = model.target
    scale = f"on the target's scale ({target.minimum:g} to {target.maximum:g})"
    # The served graph clips to the target's bounds (export appends the clip).
    Score = Annotated[
        float,
        msgspec.Meta(
            ge=target.minimum,
            le=target.maximum,
            description=f"predicted {target.name} {scale}, rounded to hundredths",
        ),
    ]
    Bound = Annotated[
        float,
        msgspec.Meta(
            ge=target.minimum,
            le=target.maximum,
            description=f"an end of the range (?interval) {scale}",
        ),
    ]
    Level = Annotated[int, msgspec.Meta(description="the interval's level, in percent")]
    AnswerId = Annotated[str | int, msgspec.Meta(description="the student's id, as sent")]
    Points = Annotated[float, msgspec.Meta(description="points this field adds to the baseline")]
    Contributions = msgspec.defstruct(
        "Contributions", [(name, Points) for name in model.feature_names]
    )
    Baseline = Annotated[
        float, msgspec.Meta(description="the score of the reference student (?explain)")
    ]

    Drift = Annotated[
        DriftReport, msgspec.Meta(description="these students against the training data (?report)")
    ]

    class Prediction(msgspec.Struct, omit_defaults=True):
        """One student of a cohort; the optional fields only when asked for."""

        math_score: Score
        id: AnswerId | msgspec.UnsetType = msgspec.UNSET
        math_score_lower: Bound | msgspec.UnsetType = msgspec.UNSET
        math_score_upper: Bound | msgspec.UnsetType = msgspec.UNSET
        interval_level: Level | msgspec.UnsetType = msgspec.UNSET
        contributions: Contributions | msgspec.UnsetType = msgspec.UNSET
        baseline: Baseline | msgspec.UnsetType = msgspec.UNSET

    class SinglePrediction(Prediction, kw_only=True, omit_defaults=True):
        """The answer to one student object."""

        model_version: str
        drift: Drift | msgspec.UnsetType = msgspec.UNSET

    class BulkPrediction(msgspec.Struct, kw_only=True, omit_defaults=True):
        """The answer to an array of students, in request order."""

        model_version: str
        count: Annotated[int, msgspec.Meta(ge=0)]
        predictions: list[Prediction]
        drift: Drift | msgspec.UnsetType = msgspec.UNSET

    return Contributions, Prediction, SinglePrediction, BulkPrediction
