"""Model monitoring: is the champion still right on the lines ordered since its as-of date?

* :func:`~returnrisk.monitoring.monitor.monitor` → :class:`~returnrisk.monitoring.monitor.MonitorReport`
  (verdict ``healthy`` / ``degraded`` / ``retrain_recommended`` and the thresholds crossed);
* :mod:`~returnrisk.monitoring.reference`: what training records for it (feature and prediction
  histograms, unknown shares);
* :mod:`~returnrisk.monitoring.drift`: PSI and Jensen–Shannon distance;
* :mod:`~returnrisk.monitoring.html`: the offline HTML report and its charts;
* the thresholds: :class:`~returnrisk.config.MonitorSettings` (``RETURNRISK_MONITOR_*``), read by the
  entry points and handed down.
"""

from returnrisk.monitoring.monitor import (
    VERDICTS,
    Check,
    MonitorReport,
    latest_report,
    monitor,
    report_metrics,
)

__all__ = ["monitor", "MonitorReport", "Check", "VERDICTS", "latest_report", "report_metrics"]
