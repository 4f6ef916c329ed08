"""glibc's malloc asked to keep the memory it frees for the next request or chunk.

A large CSV body (or a score_file chunk) allocates and frees megabytes of numpy
temporaries. By default glibc maps such blocks afresh and gives the top of its
heap back after them, so the next body pays a page fault for every 4 KiB it
touches again: a fifth of the CPU of a 100,000-row CSV request here. Raised
thresholds keep up to KEPT_BYTES free for reuse instead (a process's memory then
stays near its peak rather than falling back after each large body). Forked
processes (Gunicorn's workers, score_file's) inherit the setting.
"""

from __future__ import annotations

import ctypes

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
KEPT_BYTES = 64 << 20  # free memory kept at the heap's top before it is given back
MAPPED_FROM_BYTES = 32 << 20  # blocks from this size are still mapped afresh


def keep_freed_memory() -> bool:
    """True if glibc took the setting; elsewhere (no mallopt) nothing changes."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(
        mallopt(M_TRIM_THRESHOLD, KEPT_BYTES) and mallopt(M_MMAP_THRESHOLD, MAPPED_FROM_BYTES)
    )
