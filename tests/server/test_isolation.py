"""The server never needs the training side: no scikit-learn, pandas, skl2onnx,
train/ or export/. (Its whole suite runs in an environment without them.)"""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.support.models import REPO

FORBIDDEN = {"sklearn", "pandas", "skl2onnx", "onnx", "skops", "train", "export"}


def test_no_server_module_imports_the_training_side():
    offenders = []
    for path in sorted((REPO / "server").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_loading_the_app_pulls_in_nothing_from_the_training_side():
    code = (
        "import sys, server.app, server.preflight, model_store.__main__;"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert set(result.stdout.split()) & FORBIDDEN == set()
