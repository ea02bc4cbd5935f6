"""Peak memory while a block of work runs: resident memory sampled by one long-lived background thread, and
CUDA's own peak counters. The profiling hook measures each encode call with it, the sweep its encode pass."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


def rss_mb() -> float:
    """Current resident memory of this process (Linux /proc; elsewhere the lifetime peak, documented)."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Sampler:
    """One daemon thread that sleeps between blocks (a thread per encode call would cost more than a fast
    encoder's whole call) and samples RSS every ``interval`` seconds while a block runs."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.peak = 0.0
        self._active = threading.Event()
        self._lock = threading.Lock()
        threading.Thread(target=self._run, daemon=True, name="rwkv-mteb-rss").start()

    def _run(self) -> None:
        while True:
            self._active.wait()
            time.sleep(self.interval)
            if self._active.is_set():
                rss = rss_mb()
                with self._lock:
                    self.peak = max(self.peak, rss)

    def begin(self) -> None:
        with self._lock:
            self.peak = rss_mb()
        self._active.set()

    def end(self) -> float:
        self._active.clear()
        rss = rss_mb()
        with self._lock:
            self.peak = max(self.peak, rss)
            return self.peak


_sampler: _Sampler | None = None


def cuda() -> Any:
    """``torch.cuda`` when a GPU is there, else None (torch is imported only when something is measured)."""
    import torch

    return torch.cuda if torch.cuda.is_available() else None


@dataclass
class Peaks:
    seconds: float = 0.0
    rss_mb: float = 0.0
    gpu_allocated_mb: float | None = None
    gpu_reserved_mb: float | None = None


@contextmanager
def measured(reset_gpu_peak: bool = True) -> Iterator[Peaks]:
    """Wall time (CUDA synchronised at both ends), peak RSS and CUDA peaks of the block, filled in when it ends."""
    global _sampler
    if _sampler is None:
        _sampler = _Sampler(0.02)
    gpu = cuda()
    if gpu is not None and reset_gpu_peak:
        gpu.reset_peak_memory_stats()
    peaks = Peaks()
    _sampler.begin()
    if gpu is not None:
        gpu.synchronize()
    start = time.perf_counter()
    try:
        yield peaks
    finally:
        if gpu is not None:
            gpu.synchronize()
        peaks.seconds = time.perf_counter() - start
        peaks.rss_mb = _sampler.end()
        if gpu is not None:
            peaks.gpu_allocated_mb = gpu.max_memory_allocated() / 2**20
            peaks.gpu_reserved_mb = gpu.max_memory_reserved() / 2**20
