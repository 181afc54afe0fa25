"""Process memory: how much is in use, and giving it back to the system after a run.

A freed tensor's memory goes back to the C allocator (glibc ``malloc``), which keeps it for later
instead of returning it to the system: after a training run the server's resident memory stayed
gigabytes above where it started, though nothing used it. Two things fix that:

* :func:`configure` fixes glibc's mmap threshold, so every block of 4 MB and more (tensors,
  activations, logits) gets its own mapping, returned to the system the moment it is freed; by
  default glibc raises the threshold after each such free (up to 32 MB), and from then on big
  tensors live in the heap, where a few live small blocks keep the freed ones from being returned;
* :func:`release` collects Python's garbage and asks glibc to return the free pages it still
  holds (``malloc_trim``), in every arena (each thread that allocates gets its own).

Elsewhere (not glibc: macOS, musl) both are no-ops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os

import torch

M_MMAP_THRESHOLD = -3  # mallopt parameter numbers, from glibc's malloc.h
MMAP_THRESHOLD_BYTES = 4 * 2**20

_libc = None


def _glibc():
    global _libc
    if _libc is None:
        try:
            lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            lib.malloc_trim, lib.mallopt  # noqa: B018 (both exist on glibc only)
            _libc = lib
        except (OSError, AttributeError):
            _libc = False
    return _libc or None


def configure() -> bool:
    """Fix the mmap threshold (see the module docstring); True where it applied. Call it once at start."""
    lib = _glibc()
    return bool(lib and lib.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))


def release() -> None:
    """Give freed memory back to the system: Python's garbage, then glibc's free pages."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    lib = _glibc()
    if lib:
        lib.malloc_trim(0)


def rss_mb() -> float:
    """The process's resident set size in MiB (what the system sees it use)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_use_mb() -> float:
    """Memory in use: allocated CUDA memory, or the process's resident set size on CPU."""
    if torch.cuda.is_available():
        return torch.cuda.memory_allocated() / 2**20
    return rss_mb()
