"""The service's Prometheus metrics, one scrape for every worker.

With several workers (``returnrisk serve --workers N``) each worker is a process of its own; the
``PROMETHEUS_MULTIPROC_DIR`` environment variable (set by ``returnrisk serve`` before the
workers start, to ``RETURNRISK_METRICS_DIR`` or a fresh temporary folder) switches
``prometheus_client`` to its multiprocess mode: every worker writes its values to memory-mapped
files there, and ``GET /metrics`` on any worker adds them all up (:func:`exposition`). Without
the variable (one process, tests) the metrics live in a registry of the app's own.

No ``_created`` series are written (they double the series count and no dashboard reads them).

=============================================  =========  ===========================================
metric                                         type       labels / meaning
=============================================  =========  ===========================================
``returnrisk_http_requests_total``             counter    route, method, status
``returnrisk_http_request_duration_seconds``   histogram  route, method
``returnrisk_model_version``                   gauge      version served, one series per live worker
                                               (``pid`` label in multiprocess mode)
``returnrisk_model_load_seconds``              gauge      time of the last load, per live worker
``returnrisk_model_reloads_total``             counter    result: startup, ok, failed, watch
``returnrisk_model_slots_busy``                gauge      model computations running (all workers)
``returnrisk_model_slots_waiting``             gauge      model computations queued (all workers)
``returnrisk_model_slot_wait_seconds``         histogram  time waited for a slot
``returnrisk_predictions_total``               counter    endpoint, band: computed predictions
``returnrisk_prediction_p_return``             histogram  band: distribution of computed p_return
``returnrisk_visitor_answers``                 gauge      band: precomputed visitor answers of the
                                                          served model (the fast path's table)
=============================================  =========  ===========================================
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["Metrics", "exposition", "prepare_multiprocess_dir", "BANDS"]

prometheus_client.disable_created_metrics()

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
_SCORE_BUCKETS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
_WAIT_BUCKETS = (0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0)
BANDS = ("low", "medium", "high")


def prepare_multiprocess_dir(folder: str | Path) -> Path:
    """Create ``folder`` and empty it of an earlier run's files (called once, before the workers)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    return folder


def _forget_dead_workers(folder: str) -> None:
    """Drop the live gauges of worker processes that no longer exist (a killed worker's version)."""
    from prometheus_client import multiprocess

    for path in Path(folder).glob("gauge_live*_*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            multiprocess.mark_process_dead(int(pid), folder)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def exposition(metrics: "Metrics") -> bytes:
    """The text of ``GET /metrics``: this process's registry, or every worker's in multiprocess mode."""
    folder = metrics.multiprocess_dir
    if folder is None:
        return prometheus_client.generate_latest(metrics.registry)
    from prometheus_client import multiprocess

    _forget_dead_workers(folder)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=folder)
    for collector in metrics.collectors:   # computed on demand (e.g. the monitor gauges): this process's view
        registry.register(collector)
    return prometheus_client.generate_latest(registry)


class Metrics:
    """The metrics of one app (see the module docstring)."""

    def __init__(self, multiprocess_dir: str | None = None) -> None:
        #: The workers' shared folder (multiprocess mode: the ``PROMETHEUS_MULTIPROC_DIR`` the entry
        #: point found, ``Settings.metrics_dir``), or ``None`` for one process.
        self.multiprocess_dir = multiprocess_dir
        self.registry = registry = CollectorRegistry()
        #: Custom collectors (values computed at scrape time, the same in every worker), also
        #: exposed in multiprocess mode, where the registry above is not read.
        self.collectors: list = []
        self.requests = Counter("returnrisk_http_requests_total", "HTTP requests by route, method and status",
                                ["route", "method", "status"], registry=registry)
        self.latency = Histogram("returnrisk_http_request_duration_seconds", "Request latency by route",
                                 ["route", "method"], buckets=_LATENCY_BUCKETS, registry=registry)
        self.model_version = Gauge("returnrisk_model_version", "Version of the model being served (per worker)",
                                   registry=registry, multiprocess_mode="liveall")
        self.reloads = Counter("returnrisk_model_reloads_total", "Model loads by result (startup, ok, failed, "
                               "watch: a new champion seen by the alias watch)", ["result"], registry=registry)
        self.model_load_seconds = Gauge("returnrisk_model_load_seconds", "Time to load and precompute the model "
                                        "(per worker)", registry=registry, multiprocess_mode="liveall")
        self.slots_busy = Gauge("returnrisk_model_slots_busy", "Model computations running", registry=registry,
                                multiprocess_mode="livesum")
        self.slots_waiting = Gauge("returnrisk_model_slots_waiting", "Model computations waiting for a slot",
                                   registry=registry, multiprocess_mode="livesum")
        self.slot_wait = Histogram("returnrisk_model_slot_wait_seconds", "Time a model computation waited for a "
                                   "slot", buckets=_WAIT_BUCKETS, registry=registry)
        self.predictions = Counter("returnrisk_predictions_total", "Computed predictions by endpoint and risk band",
                                   ["endpoint", "band"], registry=registry)
        self.scores = Histogram("returnrisk_prediction_p_return", "Distribution of computed p_return by risk band",
                                ["band"], buckets=_SCORE_BUCKETS, registry=registry)
        self.visitor_answers = Gauge("returnrisk_visitor_answers", "Precomputed visitor answers of the served "
                                     "model by risk band (English)", ["band"], registry=registry,
                                     multiprocess_mode="livemax")

    def add_collector(self, collector) -> None:
        """Expose a custom collector on ``/metrics`` (in one process and in multiprocess mode)."""
        self.registry.register(collector)
        self.collectors.append(collector)

    def model_loaded(self, loaded, result: str) -> None:
        """Count a model load (``startup``, ``ok`` or ``watch``) and show its version, time and answers."""
        self.reloads.labels(result).inc()
        self.model_load_seconds.set(loaded.load_seconds)
        if loaded.version and str(loaded.version).isdigit():
            self.model_version.set(int(loaded.version))
        counts = dict.fromkeys(BANDS, 0)
        for (_, _, lang), body in loaded.visitor_answers.items():
            if lang == "en":
                for band in BANDS:
                    if b'"risk_band":"%s"' % band.encode() in body:
                        counts[band] += 1
                        break
        for band, count in counts.items():
            self.visitor_answers.labels(band).set(count)

    def predicted(self, endpoint: str, answers: Iterable[dict]) -> None:
        """Count computed answers (a customer's risk, a scored basket) and their scores by band."""
        for answer in answers:
            band = answer.get("risk_band") or "unknown"
            self.predictions.labels(endpoint, band).inc()
            p = answer.get("p_return")
            if p is not None:
                self.scores.labels(band).observe(p)
