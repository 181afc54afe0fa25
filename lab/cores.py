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

Other processes count too: a training run beside a process busy on one of 2 cores read 80 tokens/s
with 2 threads and 170 with 1 (idle: 309). :func:`busy_elsewhere` reads, from ``/proc/stat`` and
``/proc/self/stat``, how many cores the rest of the machine kept busy since it last looked (at most
every :data:`SAMPLE_S` seconds), and the lanes share what is left.

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


#: Seconds between two readings of the machine's CPU time (the kernel counts it in 10 ms ticks).
SAMPLE_S = 0.5
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_last: dict = {}


def _cpu_ticks() -> tuple[int, int] | None:
    """(busy ticks of the whole machine, ticks of this process), or None where /proc is not there."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        with open("/proc/self/stat") as f:
            own = f.read().rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    except (OSError, ValueError, IndexError):
        return None
    busy = sum(fields[:3]) + sum(fields[5:8])  # user nice system (idle iowait) irq softirq steal
    return busy, int(own[11]) + int(own[12])  # utime, stime of every thread of this process


def busy_elsewhere(now: float | None = None) -> float:
    """Cores that other processes kept busy over the last ~:data:`SAMPLE_S` seconds (0.0 if unknown)."""
    import time

    now = time.monotonic() if now is None else now
    with _lock:
        if _last and now - _last["t"] < SAMPLE_S:
            return _last["cores"]
        ticks = _cpu_ticks()
        if ticks is None:
            return 0.0
        cores = 0.0
        if _last:
            wall = (now - _last["t"]) * _TICK
            cores = max(0.0, ((ticks[0] - _last["busy"]) - (ticks[1] - _last["own"])) / wall) if wall > 0 else 0.0
        _last.update(t=now, busy=ticks[0], own=ticks[1], cores=cores)
        return cores


def share() -> int:
    """Threads each lane computes with now: the cores other processes leave free (:func:`busy_elsewhere`,
    rounded to whole cores) divided between the open lanes, at least one."""
    if not ENABLED:
        return available()
    free = available() - int(busy_elsewhere() + 0.5)
    return max(1, free // max(1, open_lanes()))


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
