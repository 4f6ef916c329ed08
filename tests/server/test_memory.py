"""server/memory.py: freed memory kept for the next large body, not faulted in again."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# A large body's temporaries, allocated together and freed, four times over; the
# page faults each time, in a fresh process (the setting is per process).
BODIES = """
import json, resource, sys
import numpy as np
from server.memory import keep_freed_memory
took = keep_freed_memory() if sys.argv[1] == "keep" else None
def faults_of_a_body():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    temporaries = [np.ones(4 << 20, dtype=np.uint8) for _ in range(6)]
    del temporaries
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(json.dumps({"took": took, "faults": [faults_of_a_body() for _ in range(4)]}))
"""


def faults(mode: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", BODIES, mode], cwd=REPO, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def test_after_the_first_body_the_next_ones_reuse_its_memory():
    kept, default = faults("keep"), faults("default")
    assert kept["took"] is True  # glibc, as on Linux and Elastic Beanstalk
    assert min(default["faults"][1:]) > 1000  # glibc gives it back and faults it in again
    assert max(kept["faults"][1:]) < 100
