"""scikit-learn pipeline → ONNX graph that takes raw student records."""

from __future__ import annotations

from collections.abc import Sequence

from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.pipeline import Pipeline

from train.columns import CATEGORICAL_FEATURES, FEATURES, TARGET

# Fixed, so the same pipeline always converts to the same graph. 18 is the
# newest default-domain opset every converter we use emits for the
# onnxruntime we pin; ai.onnx.ml 3 has the tree-ensemble operators.
TARGET_OPSET = {"": 18, "ai.onnx.ml": 3}


def input_types(features: Sequence[str] = FEATURES) -> list[tuple[str, object]]:
    """One (n, 1) input per feature, named as the feature: strings or float32 scores."""
    return [
        (
            name,
            StringTensorType([None, 1])
            if name in CATEGORICAL_FEATURES
            else FloatTensorType([None, 1]),
        )
        for name in features
    ]


def to_onnx_bytes(pipeline: Pipeline) -> bytes:
    model = to_onnx(
        pipeline,
        # The features it was fitted on: every one but those excluded from training.
        initial_types=input_types([str(name) for name in pipeline.feature_names_in_]),
        final_types=[(TARGET, FloatTensorType([None, 1]))],
        target_opset=TARGET_OPSET,
    )
    # skl2onnx gathers opsets in a set, whose order follows PYTHONHASHSEED: sorted, the
    # same pipeline serialises to the same bytes (SHA-256, version id) in every process.
    opsets = sorted(model.opset_import, key=lambda opset: opset.domain)
    del model.opset_import[:]
    model.opset_import.extend(opsets)
    return model.SerializeToString()
