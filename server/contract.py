"""What the server reads and answers, derived once from the model's contract.

The request record and the answers are msgspec Structs built here when the
model loads: the JSON decoder and encoder, the validation rules and GET
/openapi.json (server/openapi.py) all come from them, so a field added to an
answer is written in its Struct below and nowhere else.
"""

# No `from __future__ import annotations`: msgspec reads the annotations of the
# answer Structs made in _answer_types, whose types are local to that function.
from dataclasses import dataclass
from typing import Annotated, Literal, Union

import msgspec

from model_store.contract import CategoricalFeature, ModelContract
from model_store.store import IntegrityError
from server.batch import Batch
from server.rules import ID_FIELD, INT64_BOUND, FeatureRule, rules_for

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
    """The served model's request and answer types, with everything derived from them."""

    model: ModelContract
    rules: tuple[FeatureRule, ...]
    student: type[msgspec.Struct]
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
        prediction, single, bulk = _answer_types(model)
        return cls(
            model=model,
            rules=rules_for(model),
            student=student,
            prediction=prediction,
            single=single,
            bulk=bulk,
            decoder=msgspec.json.Decoder(Union[student, list[student]]),  # noqa: UP007
        )

    @classmethod
    def from_metadata(cls, metadata: dict) -> "ServingContract":
        return cls.build(ModelContract.from_metadata(metadata))

    def answer(self, version: str, scores: list[float], batch: Batch) -> msgspec.Struct:
        """The JSON answer: one student's, or the cohort's in request order."""
        if batch.single:
            ident = batch.ids[0] if batch.ids is not None else msgspec.UNSET
            return self.single(model_version=version, math_score=scores[0], id=ident)
        if batch.ids is None:
            predictions = [self.prediction(math_score=s) for s in scores]
        else:
            predictions = [
                self.prediction(id=msgspec.UNSET if i is None else i, math_score=s)
                for i, s in zip(batch.ids, scores, strict=True)
            ]
        return self.bulk(model_version=version, count=len(scores), predictions=predictions)


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
    Score = Annotated[
        float,
        msgspec.Meta(
            description=f"predicted {target.name} on the target's scale "
            f"({target.minimum:g} to {target.maximum:g}), rounded to hundredths"
        ),
    ]
    AnswerId = Annotated[str | int, msgspec.Meta(description="the student's id, as sent")]

    class Prediction(msgspec.Struct, kw_only=True, omit_defaults=True):
        """One student of a cohort."""

        id: AnswerId | msgspec.UnsetType = msgspec.UNSET
        math_score: Score

    class SinglePrediction(msgspec.Struct, kw_only=True, omit_defaults=True):
        """The answer to one student object."""

        model_version: str
        math_score: Score
        id: AnswerId | msgspec.UnsetType = msgspec.UNSET

    class BulkPrediction(msgspec.Struct, kw_only=True):
        """The answer to an array of students, in request order."""

        model_version: str
        count: Annotated[int, msgspec.Meta(ge=0)]
        predictions: list[Prediction]

    return Prediction, SinglePrediction, BulkPrediction
