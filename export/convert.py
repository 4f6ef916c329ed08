"""scikit-learn pipeline → ONNX graph that takes raw student records."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.pipeline import Pipeline

from train.columns import CATEGORICAL_FEATURES, FEATURES, SCORE_MAX, SCORE_MIN, TARGET

# Fixed, so the same pipeline always converts to the same graph. 18 is the
# newest default-domain opset every converter we use emits for the
# onnxruntime we pin; ai.onnx.ml 3 has the tree-ensemble operators.
TARGET_OPSET = {"": 18, "ai.onnx.ml": 3}
# Clip takes its bounds as inputs from opset 11 on, as attributes before.
CLIP_BOUNDS_AS_INPUTS_OPSET = 11
UNCLIPPED_OUTPUT = f"{TARGET}_unclipped"


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


def clip_output(model: onnx.ModelProto, minimum: float, maximum: float) -> None:
    """Route the graph's output through Clip(minimum, maximum), so no consumer of the
    file can get a score outside the target's range."""
    output = model.graph.output[0].name
    for node in model.graph.node:
        node.output[:] = [UNCLIPPED_OUTPUT if name == output else name for name in node.output]
    opset = {o.domain: o.version for o in model.opset_import}[""]
    if opset >= CLIP_BOUNDS_AS_INPUTS_OPSET:
        bounds = [f"{output}_minimum", f"{output}_maximum"]
        model.graph.initializer.extend(
            numpy_helper.from_array(np.array(value, dtype=np.float32), name)
            for name, value in zip(bounds, (minimum, maximum), strict=True)
        )
        clip = helper.make_node("Clip", [UNCLIPPED_OUTPUT, *bounds], [output], name="clip")
    else:
        clip = helper.make_node(
            "Clip", [UNCLIPPED_OUTPUT], [output], name="clip", min=minimum, max=maximum
        )
    model.graph.node.append(clip)


def to_onnx_bytes(
    pipeline: Pipeline, target_range: tuple[float, float] = (SCORE_MIN, SCORE_MAX)
) -> bytes:
    """The pipeline as ONNX bytes, its output clipped to `target_range` (minimum, maximum)."""
    model = to_onnx(
        pipeline,
        # The features it was fitted on: every one but those excluded from training.
        initial_types=input_types([str(name) for name in pipeline.feature_names_in_]),
        final_types=[(TARGET, FloatTensorType([None, 1]))],
        target_opset=TARGET_OPSET,
    )
    clip_output(model, *target_range)
    # skl2onnx gathers opsets in a set, whose order follows PYTHONHASHSEED: sorted, the
    # same pipeline serialises to the same bytes (SHA-256, version id) in every process.
    opsets = sorted(model.opset_import, key=lambda opset: opset.domain)
    del model.opset_import[:]
    model.opset_import.extend(opsets)
    onnx.checker.check_model(model)
    return model.SerializeToString()
