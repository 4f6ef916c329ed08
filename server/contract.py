"""What the server reads and answers, derived once from the model's contract.

The request record, the query options and the answers are msgspec Structs
built here when the model loads: the JSON decoder and encoder, the validation
rules and GET /openapi.json (server/openapi.py) all come from them, so a field
added to an answer is written in its Struct below and nowhere else.
"""

# No `from __future__ import annotations`: msgspec reads the annotations of the
# answer Structs made in _answer_types, whose types are local to that function.
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import repeat
from typing import TYPE_CHECKING, Annotated, Literal, Union

import msgspec
import numpy as np

from model_store.contract import CategoricalFeature, ModelContract
from model_store.store import IntegrityError
from server.batch import Batch
from server.errors import InvalidOption
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
    options: type[msgspec.Struct]
    contributions: type[msgspec.Struct]
    prediction: type[msgspec.Struct]
    single: type[msgspec.Struct]
    bulk: type[msgspec.Struct]
    decoder: msgspec.json.Decoder
    # level -> (offsets, lower bounds, upper bounds), each (3, 1): the score's row
    # unchanged and unbounded, then the range's ends clipped to the target's bounds
    interval_rows: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]

    @classmethod
    def build(cls, model: ModelContract) -> "ServingContract":
        if model.target.name != SCORE_FIELD:
            raise IntegrityError(
                f"the model predicts {model.target.name!r}; this server answers {SCORE_FIELD!r}"
            )
        student = _student_record(model)
        contributions, prediction, single, bulk = _answer_types(model)
        return cls(
            model=model,
            rules=rules_for(model),
            student=student,
            options=_options_type(model),
            contributions=contributions,
            prediction=prediction,
            single=single,
            bulk=bulk,
            decoder=msgspec.json.Decoder(Union[student, list[student]]),  # noqa: UP007
            interval_rows=_interval_rows(model),
        )

    @classmethod
    def from_metadata(cls, metadata: dict) -> "ServingContract":
        return cls.build(ModelContract.from_metadata(metadata))

    @property
    def interval_levels(self) -> tuple[int, ...]:
        return tuple(self.model.intervals.levels) if self.model.intervals else ()

    @property
    def explainable(self) -> bool:
        return self.model.reference is not None

    def parse_options(self, params: Mapping[str, object]) -> msgspec.Struct:
        """The query's options (`self.options`); InvalidOption naming the allowed values."""
        try:
            options = msgspec.convert(params, self.options, strict=False)
        except msgspec.ValidationError:
            for name in self.options.__struct_fields__:  # which one: each alone
                if name in params and not self._valid(name, params[name]):
                    raise InvalidOption(self._not_allowed(name, params[name])) from None
            raise
        if options.explain and not self.explainable:
            raise InvalidOption(self._not_allowed("explain", params["explain"]))
        return options

    def _valid(self, name: str, value: object) -> bool:
        try:
            msgspec.convert({name: value}, self.options, strict=False)
        except msgspec.ValidationError:
            return False
        return True

    def _not_allowed(self, name: str, value: object) -> str:
        if name == "explain":
            if not self.explainable:
                return "explain is not available: this model carries no reference student"
            return f"explain={value!r} is not allowed; use explain=true or explain=false"
        if not self.interval_levels:
            return "interval is not available: this model carries no intervals"
        allowed = ", ".join(map(str, self.interval_levels))
        return f"interval={value!r} is not a level of this model; allowed: {allowed}"

    def answer(self, version: str, scored: "Scored", batch: Batch) -> msgspec.Struct:
        """The JSON answer: one student's, or the cohort's in request order."""
        columns = self._answer_columns(scored)
        if batch.single:
            names = self.prediction.__struct_fields__[: len(columns)]  # all but id
            first = dict(zip(names, [next(iter(c)) for c in columns], strict=True))
            ident = batch.ids[0] if batch.ids is not None else msgspec.UNSET
            return self.single(**first, model_version=version, id=ident)
        if batch.ids is None:
            ids = repeat(msgspec.UNSET)
        else:
            ids = [msgspec.UNSET if i is None else i for i in batch.ids]
        predictions = list(map(self.prediction, *columns, ids))
        return self.bulk(model_version=version, count=len(predictions), predictions=predictions)

    def _answer_columns(self, scored: "Scored") -> list[Iterable]:
        """Each field of StudentAnswer, in its order, as a column over the students."""
        unset = repeat(msgspec.UNSET)
        if scored.interval_level is None:
            interval = [unset, unset, unset]
        else:
            ends = [scored.lower.tolist(), scored.upper.tolist()]
            interval = [*ends, repeat(scored.interval_level)]
        if scored.contributions is None:
            explained = [unset, unset]
        else:
            points = map(self.contributions, *(p.tolist() for p in scored.contributions.values()))
            explained = [points, repeat(scored.baseline)]
        return [scored.scores, *interval, *explained]


def _interval_rows(model: ModelContract) -> dict:
    levels = model.intervals.levels if model.intervals else {}
    low, high = model.target.minimum, model.target.maximum
    return {
        level: (
            np.array([[0.0], [-width], [width]]),
            np.array([[-np.inf], [low], [low]]),
            np.array([[np.inf], [high], [high]]),
        )
        for level, width in levels.items()
    }


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


def _options_type(model: ModelContract) -> type[msgspec.Struct]:
    """POST /predictdata's query options, as far as this model can honour them."""
    levels = tuple(model.intervals.levels) if model.intervals else ()
    interval = Annotated[
        Literal[levels] | None if levels else None,
        msgspec.Meta(description="add a range that holds the true score this often, in %"),
    ]
    explain = Annotated[
        bool, msgspec.Meta(description="add each field's points and the baseline they start from")
    ]
    return msgspec.defstruct(
        "PredictionOptions", [("interval", interval, None), ("explain", explain, False)]
    )


def _answer_types(model: ModelContract) -> tuple[type[msgspec.Struct], ...]:
    target = model.target
    scale = f"on the target's scale ({target.minimum:g} to {target.maximum:g})"
    Score = Annotated[
        float,
        msgspec.Meta(description=f"predicted {target.name} {scale}, rounded to hundredths"),
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

    class StudentAnswer(msgspec.Struct, omit_defaults=True):
        """One student's answer; the optional fields only when asked for. Made
        positionally, in this order, by ServingContract._answer_columns."""

        math_score: Score
        math_score_lower: Bound | msgspec.UnsetType = msgspec.UNSET
        math_score_upper: Bound | msgspec.UnsetType = msgspec.UNSET
        interval_level: Level | msgspec.UnsetType = msgspec.UNSET
        contributions: Contributions | msgspec.UnsetType = msgspec.UNSET
        baseline: Baseline | msgspec.UnsetType = msgspec.UNSET

    class Prediction(StudentAnswer, omit_defaults=True):
        """One student of a cohort."""

        id: AnswerId | msgspec.UnsetType = msgspec.UNSET

    class SinglePrediction(StudentAnswer, kw_only=True, omit_defaults=True):
        """The answer to one student object."""

        model_version: str
        id: AnswerId | msgspec.UnsetType = msgspec.UNSET

    class BulkPrediction(msgspec.Struct, kw_only=True):
        """The answer to an array of students, in request order."""

        model_version: str
        count: Annotated[int, msgspec.Meta(ge=0)]
        predictions: list[Prediction]

    return Contributions, Prediction, SinglePrediction, BulkPrediction
