"""Shared by the bench scripts (not a bench itself): a median wall time with a warm-up run."""

from __future__ import annotations

import statistics
import time


def median_s(fn, repeat: int, before=None) -> float:
    """Median seconds of ``fn()`` over ``repeat`` runs after one warm-up; ``before()`` runs untimed first."""
    if before:
        before()
    fn()  # warm-up (lazy tables, allocator, caches)
    times = []
    for _ in range(repeat):
        if before:
            before()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
