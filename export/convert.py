"""scikit-learn pipeline → ONNX graph that takes the students as one float32 tensor.

The graph's input is [n, k]: the features in the pipeline's order, a category as
its index in the fitted encoder's categories, a score as itself (the layout the
schema records, see export/metadata.py). The server knows the categories, so it
hands over codes and onnxruntime never converts strings.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from train.columns import SCORE_MAX, SCORE_MIN, TARGET
from train.pipeline import (
    CATEGORIES_TRANSFORMER,
    PREPROCESS_STEP,
    REGRESSOR_STEP,
    SCORES_TRANSFORMER,
)

# Fixed, so the same pipeline always converts to the same graph. 18 is the
# newest default-domain opset every converter we use emits for the
# onnxruntime we pin; ai.onnx.ml 3 has the tree-ensemble operators.
TARGET_OPSET = {"": 18, "ai.onnx.ml": 3}
# Clip takes its bounds as inputs from opset 11 on, as attributes before.
CLIP_BOUNDS_AS_INPUTS_OPSET = 11
UNCLIPPED_OUTPUT = f"{TARGET}_unclipped"
INPUT_NAME = "students"  # the graph's one input, recorded in the schema


def coded_pipeline(pipeline: Pipeline) -> Pipeline:
    """The same fitted pipeline, taking the coded matrix instead of raw records.

    The one-hot encoder becomes one over the codes 0..m-1 of each categorical
    column, in the fitted encoder's category order; the score transformer (fitted
    scaler or passthrough) and the regressor are the fitted ones, unchanged.
    """
    names = [str(name) for name in pipeline.feature_names_in_]
    fitted = pipeline.named_steps[PREPROCESS_STEP]
    steps = []
    encoder = fitted.named_transformers_.get(CATEGORIES_TRANSFORMER)
    if encoder is not None:
        columns = [names.index(str(name)) for name in encoder.feature_names_in_]
        codes = [np.arange(len(c), dtype=np.float64) for c in encoder.categories_]
        steps.append(
            (
                CATEGORIES_TRANSFORMER,
                OneHotEncoder(categories=codes, handle_unknown="ignore", sparse_output=False),
                columns,
            )
        )
    scores_name, scores, score_columns = next(
        t for t in fitted.transformers_ if t[0] == SCORES_TRANSFORMER
    )
    score_columns = [names.index(name) for name in score_columns]
    steps.append((SCORES_TRANSFORMER, "passthrough", score_columns))
    # Fitted on a row of zeros (a code of every categorical, which is all the encoder
    # with fixed categories needs), then given back the original's fitted scores step.
    preprocess = ColumnTransformer(steps).fit(np.zeros((1, len(names))))
    index = [t[0] for t in preprocess.transformers_].index(SCORES_TRANSFORMER)
    preprocess.transformers_[index] = (scores_name, scores, score_columns)
    return Pipeline([(PREPROCESS_STEP, preprocess), (REGRESSOR_STEP, pipeline[-1])])


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
    width = len(pipeline.feature_names_in_)  # every feature but those excluded from training
    model = to_onnx(
        coded_pipeline(pipeline),
        initial_types=[(INPUT_NAME, FloatTensorType([None, width]))],
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
