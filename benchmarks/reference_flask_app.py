"""The reference: the "seed style" server this project replaces, kept only to measure against.

Flask on Gunicorn; every request unpickles the scikit-learn pipeline from disk
and builds a pandas DataFrame, as the original did. Do not copy it: it is the
baseline our speed-up is measured from. Needs the dev environment (Flask,
pandas, scikit-learn); the benchmark passes the pickle's path in
REFERENCE_PIPELINE_ENV.
"""

from __future__ import annotations

import os
import pickle  # nosec B403 # the seed system's format, which this reference server reproduces

import pandas as pd
from flask import Flask, jsonify, request

REFERENCE_PIPELINE_ENV = "BENCH_REFERENCE_PIPELINE"  # the benchmark sets it

app = Flask(__name__)


@app.post("/predictdata")
def predict_data():
    payload = request.get_json()
    students = payload if isinstance(payload, list) else [payload]
    with open(os.environ[REFERENCE_PIPELINE_ENV], "rb") as file:
        pipeline = pickle.load(file)  # nosec B301 # a file the benchmark itself just wrote
    scores = pipeline.predict(pd.DataFrame(students))
    if isinstance(payload, list):
        return jsonify(predictions=[{"math_score": round(float(s), 2)} for s in scores])
    return jsonify(math_score=round(float(scores[0]), 2))
