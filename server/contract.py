"""What the server reads and answers, derived once from the model's contract.

The request record, the query options and the answers are msgspec Structs
built here when the model loads: the JSON decoder and encoder, the validation
rules and GET /openapi.json (server/openapi.py) all come from them, so a field
added to an answer is written in its Struct below and nowhere else.
"""

# No `from __future__ import annotations`: msgspec reads the annotations of the
# answer Structs made in _answer_types, whose types are local to that function.
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal, Union

import msgspec
import msgspec.structs

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
        for field in msgspec.structs.fields(self.options):
            if field.name in params:
                try:
                    msgspec.convert({field.name: params[field.name]}, self.options, strict=False)
                except msgspec.ValidationError:
                    raise InvalidOption(self._not_allowed(field.name, params[field.name])) from None
        options = msgspec.convert(params, self.options, strict=False)
        if options.explain and not self.explainable:
            raise InvalidOption(self._not_allowed("explain", params["explain"]))
        return options

    def _not_allowed(self, name: str, value: object) -> str:
        if name == "explain":
            if not self.explainable:
                return "explain is not available: this model carries no reference student"
            return f"explain={value!r} is not allowed; use explain=true or explain=false"
        if name == "echo":
            return f"echo={value!r} is not allowed; use echo=all (text/csv requests only)"
        if not self.interval_levels:
            return "interval is not available: this model carries no intervals"
        allowed = ", ".join(map(str, self.interval_levels))
        return f"interval={value!r} is not a level of this model; allowed: {allowed}"

    def answer(self, version: str, scored: "Scored", batch: Batch) -> msgspec.Struct:
        """The JSON answer: one student's, or the cohort's in request order."""
        scores = scored.scores
        extras = self._extras(scored)
        if batch.single:
            ident = batch.ids[0] if batch.ids is not None else msgspec.UNSET
            more = extras[0] if extras else {}
            return self.single(model_version=version, math_score=scores[0], id=ident, **more)
        if extras is None and batch.ids is None:
            predictions = [self.prediction(math_score=s) for s in scores]
        elif extras is None:
            predictions = [
                self.prediction(id=msgspec.UNSET if i is None else i, math_score=s)
                for i, s in zip(batch.ids, scores, strict=True)
            ]
        else:
            ids = batch.ids if batch.ids is not None else [None] * len(scores)
            predictions = [
                self.prediction(id=msgspec.UNSET if i is None else i, math_score=s, **more)
                for i, s, more in zip(ids, scores, extras, strict=True)
            ]
        return self.bulk(model_version=version, count=len(scores), predictions=predictions)

    def _extras(self, scored: "Scored") -> list[dict] | None:
        """The optional fields of each student's answer, or None when none was asked for."""
        if scored.interval_level is None and scored.contributions is None:
            return None
        extras = [{} for _ in scored.scores]
        if scored.interval_level is not None:
            for more, lower, upper in zip(extras, scored.lower, scored.upper, strict=True):
                more.update(
                    math_score_lower=lower, math_score_upper=upper,
                    interval_level=scored.interval_level,
                )  # fmt: skip
        if scored.contributions is not None:
            names = list(scored.contributions)
            rows = zip(*scored.contributions.values(), strict=True)
            for more, points in zip(extras, rows, strict=True):
                more["contributions"] = self.contributions(**dict(zip(names, points, strict=True)))
                more["baseline"] = scored.baseline
        return extras


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
    echo = Annotated[
        Literal["all"] | None,
        msgspec.Meta(
            description="all (text/csv only): every column sent, in order, before the answer's"
        ),
    ]
    return msgspec.defstruct(
        "PredictionOptions",
        [("interval", interval, None), ("explain", explain, False), ("echo", echo, None)],
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
        "Contributions", [(name, Points) for name in model.feature_names], kw_only=True
    )
    Baseline = Annotated[
        float, msgspec.Meta(description="the score of the reference student (?explain)")
    ]

    class StudentAnswer(msgspec.Struct, kw_only=True, omit_defaults=True):
        """One student's answer; the optional fields only when asked for."""

        math_score: Score
        math_score_lower: Bound | msgspec.UnsetType = msgspec.UNSET
        math_score_upper: Bound | msgspec.UnsetType = msgspec.UNSET
        interval_level: Level | msgspec.UnsetType = msgspec.UNSET
        contributions: Contributions | msgspec.UnsetType = msgspec.UNSET
        baseline: Baseline | msgspec.UnsetType = msgspec.UNSET

    class Prediction(StudentAnswer, kw_only=True, omit_defaults=True):
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
