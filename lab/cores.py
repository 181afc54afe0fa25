"""Sharing the machine's cores between the server's heavy work: training, generation, evaluation,
quantizing a large tensor.

torch runs each operation on an OpenMP team as wide as the calling thread's thread count, which is
set per thread (``torch.set_num_threads`` in one thread leaves the others' alone). A server runs
each request in its own thread, so two requests each asking for every core put twice as many busy
threads as cores on the machine. A training step is thousands of small operations, each ending in a
barrier where the team waits for its slowest thread: one thread descheduled for a neighbour's makes
all of them wait, and on 2 cores a run lost 5.7x its speed instead of 2x.

So each heavy piece of work runs in a **lane**: while ``n`` lanes are open, each computes with
``cores // n`` threads (at least one), and re-reads its share at its natural boundaries (a training
step, a generated token, an evaluation batch) with :func:`fit`. Alone, a run keeps every core; beside
one neighbour, each gets half the machine and no thread waits for another's core::

    with cores.lane():
        for step in ...:
            cores.fit()
            ...

Lanes count work, not threads: a generator that a server resumes in a different worker thread at
each step keeps one lane, and :func:`fit` sets the share of whichever thread runs it now.
``LAB_SHARE_CORES=0`` in the environment (or :data:`ENABLED` = False) turns sharing off: every
lane computes with every core, as torch does by default.
"""

from __future__ import annotations

import contextlib
import os
import threading

import torch

ENABLED = os.environ.get("LAB_SHARE_CORES", "1") != "0"

_lock = threading.Lock()
_open: set[object] = set()


def available() -> int:
    """CPU cores this process may run on (its affinity mask, which containers narrow)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def open_lanes() -> int:
    with _lock:
        return len(_open)


def share() -> int:
    """Threads each lane computes with now: the cores divided between the open lanes, at least one."""
    if not ENABLED:
        return available()
    return max(1, available() // max(1, open_lanes()))


def fit(limit: int | None = None) -> int:
    """Set the calling thread's torch thread count to its share (at most ``limit``); return it."""
    n = share() if limit is None else max(1, min(limit, share()))
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


@contextlib.contextmanager
def lane(limit: int | None = None):
    """Hold a lane while the block runs: the open lanes share the cores (:func:`share`). ``limit`` caps
    this lane's threads (a run configured with fewer threads keeps them)."""
    token = object()
    with _lock:
        _open.add(token)
    try:
        fit(limit)
        yield token
    finally:
        with _lock:
            _open.discard(token)


def in_lane(fn):
    """Decorator: ``fn`` runs in a lane of its own (:func:`lane`)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with lane():
            return fn(*args, **kwargs)

    return wrapper
