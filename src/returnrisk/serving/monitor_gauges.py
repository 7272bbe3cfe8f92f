"""The last monitoring report of the served model, for ``/metrics`` and the dashboard's model page.

``returnrisk monitor`` logs each report on the monitored model's MLflow run
(``monitoring/<name>/report.json``, see docs/monitoring.md). :class:`MonitorGauges` reads the newest
one of the model being served (by its run id), keeps it for :data:`REFRESH_SECONDS`, and exposes
its figures as Prometheus gauges at scrape time (a custom collector: nothing is stored per
process, every worker computes the same values from the same run, so no multiprocess aggregation
is needed — register it on whichever registry ``/metrics`` serves):

==============================================  ===================================================
gauge                                           value
==============================================  ===================================================
``returnrisk_monitor_report_available``         1 when the served model has a monitoring report
``returnrisk_monitor_verdict{verdict}``         1 for the last verdict (``healthy``, ``degraded``,
                                                ``retrain_recommended``), 0 for the two others
``returnrisk_monitor_verdict_level``            0 healthy, 1 degraded, 2 retrain recommended
``returnrisk_monitor_checks_crossed``           thresholds crossed by the last report
``returnrisk_monitor_generated_timestamp_seconds``  when the last report was made (alert on staleness)
``returnrisk_monitor_<figure>``                 the report's flat figures: ``auc``, ``ece``,
                                                ``log_loss``, ``brier``, ``observed_rate``,
                                                ``mean_predicted``, ``prediction_psi``,
                                                ``max_feature_psi``, ``lines``, ``matured_lines``,
                                                ``unknown_<product|customer|size>_share``
==============================================  ===================================================

A model not loaded from the MLflow registry, or one never monitored, has no report: only
``returnrisk_monitor_report_available 0``. Reading the run never fails a scrape or a page (a failure
is logged; the last report read is kept).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from returnrisk.monitoring import VERDICTS, latest_report, report_metrics
from returnrisk.timeutil import epoch_seconds

__all__ = ["MonitorGauges", "ReportReader", "REFRESH_SECONDS", "tracker_reader"]

log = logging.getLogger(__name__)

#: How long a report read from MLflow is reused before the run is read again.
REFRESH_SECONDS = 60.0

#: ``run_id -> report JSON or None``: where the newest monitoring report of a run comes from.
ReportReader = Callable[[str], "dict | None"]


def tracker_reader(tracking_uri: str | None) -> ReportReader:
    """Reads the newest report logged on a run of the MLflow store at ``tracking_uri``."""

    def read(run_id: str) -> dict | None:
        from returnrisk.tracking import Tracker

        return latest_report(Tracker(tracking_uri), run_id)

    return read


class MonitorGauges(Collector):
    """The served model's last monitoring report (cached) and its Prometheus gauges.

    ``current`` gives the served model's registry info (``LoadedModel.info``: ``run_id``,
    ``version``, ``source``) or ``None``; ``reader`` reads a run's newest report.
    """

    def __init__(self, current: Callable[[], dict | None], reader: ReportReader, *,
                 refresh_seconds: float = REFRESH_SECONDS, clock: Callable[[], float] = time.monotonic):
        self._current = current
        self._reader = reader
        self._refresh = refresh_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[str, float, dict | None] | None = None   # run_id, read at, report

    def report(self) -> dict | None:
        """The newest monitoring report of the served model, or ``None``."""
        info = self._current() or {}
        run_id = info.get("run_id")
        if not run_id:
            return None
        now = self._clock()
        with self._lock:
            cached = self._cached
            if cached and cached[0] == run_id and now - cached[1] < self._refresh:
                return cached[2]
            try:
                report = self._reader(run_id)
            except Exception as exc:  # noqa: BLE001 - a scrape or a page never fails on monitoring
                log.warning("monitoring report of run %s unreadable: %s", run_id, str(exc).splitlines()[0])
                report = cached[2] if cached and cached[0] == run_id else None
            self._cached = (run_id, now, report)
            return report

    def collect(self) -> Iterator[GaugeMetricFamily]:
        report = self.report()
        available = GaugeMetricFamily("returnrisk_monitor_report_available",
                                      "1 when the served model has a monitoring report (returnrisk monitor)")
        available.add_metric([], 1.0 if report else 0.0)
        yield available
        if not report:
            return
        verdict = GaugeMetricFamily("returnrisk_monitor_verdict", "Last monitoring verdict of the served model "
                                    "(1 for the verdict reached)", labels=["verdict"])
        for name in VERDICTS:
            verdict.add_metric([name], 1.0 if report.get("verdict") == name else 0.0)
        yield verdict
        crossed = GaugeMetricFamily("returnrisk_monitor_checks_crossed",
                                    "Thresholds crossed in the last monitoring report")
        crossed.add_metric([], float(len(report.get("crossed") or [])))
        yield crossed
        generated = report.get("generated_at")
        if generated:
            stamp = GaugeMetricFamily("returnrisk_monitor_generated_timestamp_seconds",
                                      "When the last monitoring report was made (Unix time)")
            stamp.add_metric([], float(epoch_seconds(generated)))
            yield stamp
        for key, value in sorted(report_metrics(report).items()):
            gauge = GaugeMetricFamily(f"returnrisk_{key}", _HELP.get(key, f"{key} of the last monitoring report"))
            gauge.add_metric([], value)
            yield gauge


_HELP = {
    "monitor_verdict_level": "Last monitoring verdict: 0 healthy, 1 degraded, 2 retrain recommended",
    "monitor_auc": "AUC on the lines matured since the model's as-of date",
    "monitor_ece": "Expected calibration error on the lines matured since the as-of date",
    "monitor_log_loss": "Log-loss on the lines matured since the as-of date",
    "monitor_brier": "Brier score on the lines matured since the as-of date",
    "monitor_observed_rate": "Observed return rate of the matured lines",
    "monitor_mean_predicted": "Mean predicted P(return) of the lines since the as-of date",
    "monitor_prediction_psi": "Population stability index of P(return) against training",
    "monitor_max_feature_psi": "Largest PSI of a judged feature against training",
    "monitor_lines": "Lines ordered since the model's as-of date",
    "monitor_matured_lines": "Lines whose outcome is known (older than the return window)",
}
