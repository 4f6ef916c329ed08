"""Who used the CPU during a measurement: the server, the load generator, or others.

The benchmark shares its machine (other jobs, other developers' runs). The
share taken by other processes is recorded with every wrk round, so a reader
can tell a slow round from a slow server; the server's own CPU time per
request is a figure that contention moves much less than requests/s.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# /proc/stat cpu line: user nice system idle iowait irq softirq steal ...
_BUSY_FIELDS = (0, 1, 2, 5, 6, 7)


def _machine_busy_seconds() -> float:
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    return sum(int(fields[i]) for i in _BUSY_FIELDS) / CLOCK_TICKS


def _children_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _own_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class CpuShares:
    wall_seconds: float
    server_seconds: float  # the server's workers
    client_seconds: float  # wrk (a finished child of this process) and this process
    other_seconds: float  # everything else on the machine

    @property
    def other_share(self) -> float:
        """Other processes' CPU as a share of the whole machine's capacity."""
        return self.other_seconds / (self.wall_seconds * (os.cpu_count() or 1))


def measure_cpu(server_ticks: Callable[[], int], action: Callable[[], object]) -> tuple:
    """(action's result, CpuShares) for one run of `action` against a server.

    `server_ticks` reads the server workers' CPU in clock ticks; `action` must
    wait for its child processes (subprocess.run does), so their CPU is counted.
    """
    start = (time.perf_counter(), _machine_busy_seconds(), server_ticks(),
             _children_seconds() + _own_seconds())  # fmt: skip
    result = action()
    end = (time.perf_counter(), _machine_busy_seconds(), server_ticks(),
           _children_seconds() + _own_seconds())  # fmt: skip
    server = (end[2] - start[2]) / CLOCK_TICKS
    client = end[3] - start[3]
    other = max(0.0, end[1] - start[1] - server - client)
    return result, CpuShares(end[0] - start[0], server, client, other)
