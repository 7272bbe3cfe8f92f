"""Timing and peak memory of the stages of a pipeline run."""

from __future__ import annotations

import logging
import os
import resource
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

__all__ = ["StageRecord", "StageClock", "current_rss_mb"]

log = logging.getLogger(__name__)
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def current_rss_mb() -> float:
    """Resident memory of this process now (MiB), from /proc; the peak so far elsewhere."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * _PAGE / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10


@dataclass
class StageRecord:
    name: str
    seconds: float
    peak_rss_mb: float
    #: CPU time of this process during the stage (all its threads): core-seconds, whatever the load
    cpu_seconds: float = 0.0


@dataclass
class StageClock:
    """Records wall time and peak resident memory of each stage (sampled every 50 ms).

    ``on_start`` / ``on_end`` are optional callbacks (e.g. a progress display).
    """

    on_start: object = None
    on_end: object = None
    records: list[StageRecord] = field(default_factory=list)

    @contextmanager
    def stage(self, name: str):
        if self.on_start:
            self.on_start(name)
        peak = [current_rss_mb()]
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.05):
                peak[0] = max(peak[0], current_rss_mb())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            stop.set()
            sampler.join()
            peak[0] = max(peak[0], current_rss_mb())
            record = StageRecord(name, time.perf_counter() - started, peak[0], time.process_time() - cpu)
            self.records.append(record)
            log.debug("stage %s: %.1f s, peak %.0f MiB, cpu %.1f s", name, record.seconds, record.peak_rss_mb,
                      record.cpu_seconds)
            if self.on_end:
                self.on_end(record)

    def as_metrics(self) -> dict[str, float]:
        out = {}
        for r in self.records:
            out[f"time_{r.name}_s"] = round(r.seconds, 3)
            out[f"peak_rss_{r.name}_mb"] = round(r.peak_rss_mb, 1)
        return out
