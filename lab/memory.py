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


def _peak_rss_mb() -> float | None:
    """The process's peak resident set size since start or the last reset (``VmHWM``), in MiB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _reset_peak_rss() -> bool:
    """Reset ``VmHWM`` to the current RSS (Linux >= 4.0: write 5 to ``/proc/self/clear_refs``)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _peak_rss_mb() is not None
    except OSError:
        return False


class PeakMeter:
    """The most memory in use between :meth:`start` and :meth:`stop` (or now), in MiB.

    On CUDA it is ``torch.cuda.max_memory_allocated()`` (reset at start); on a CPU the process's peak
    resident set size, exact where Linux lets it be reset (``VmHWM``, through ``/proc/self/clear_refs``),
    else sampled by a thread every ``interval`` seconds (a spike shorter than that can be missed).
    The peak is the process's: other threads that allocate meanwhile count too.
    """

    def __init__(self, interval: float = 0.005):
        self.interval = interval
        self.start_mb = 0.0
        self._sampled = 0.0
        self._mode = ""
        self._done = None
        self._thread = None
        self._final: float | None = None

    def start(self) -> PeakMeter:
        self.start_mb = in_use_mb()
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
            self._mode = "cuda"
        elif _reset_peak_rss():
            self._mode = "vmhwm"
        else:
            import threading

            self._mode, self._sampled, self._done = "sampled", self.start_mb, threading.Event()

            def sample():
                while not self._done.wait(self.interval):
                    self._sampled = max(self._sampled, rss_mb())

            self._thread = threading.Thread(target=sample, name="lab-peak-memory", daemon=True)
            self._thread.start()
        return self

    def peak_mb(self) -> float:
        if self._final is not None:
            return self._final
        if self._mode == "cuda":
            return torch.cuda.max_memory_allocated() / 2**20
        if self._mode == "vmhwm":
            return max(self.start_mb, _peak_rss_mb() or 0.0)
        return max(self._sampled, rss_mb()) if self._mode else in_use_mb()

    def stop(self) -> float:
        """Stop measuring; the peak stays what it was (later calls to :meth:`peak_mb` return it)."""
        if self._final is None:
            self._final = self.peak_mb()
            if self._done is not None:
                self._done.set()
                self._thread.join(timeout=1)
        return self._final
