"""Returns operations: recording returns as they happen, KPIs, and the forecast of incoming returns.

* :mod:`~returnrisk.operations.store` — :class:`ReturnStore` (SQLAlchemy; idempotent per line),
  :class:`ReturnEvent`, :class:`RefundEvent`, :class:`ReturnConflict`.
* :mod:`~returnrisk.operations.export` — :func:`export_returns`: the stored returns in the data
  contract, alone or merged with a shop's returns.
* :mod:`~returnrisk.operations.kpis` — :func:`compute_kpis`: rates, reasons, delays, refunds
  against the promise, costs, weekly volumes; provisional periods with the model's expected
  final rate.
* :mod:`~returnrisk.operations.delays` — :class:`DelayDistribution`: days from order to return.
* :mod:`~returnrisk.operations.forecast` — :func:`forecast_returns`: expected returns per day with
  an interval and staff hours; :mod:`~returnrisk.operations.backtest` scores it.
* :mod:`~returnrisk.operations.sources` / :mod:`~returnrisk.operations.reasoning` — the shop
  history behind the API and the reason code of text-only returns.

See docs/operations.md. Names are imported lazily (the store does not load the model code).
"""

from __future__ import annotations

import importlib

__all__ = [
    "DelayDistribution",
    "KpiReport",
    "RefundEvent",
    "ReturnConflict",
    "ReturnEvent",
    "ReturnNotRecorded",
    "ReturnStore",
    "ReturnsForecast",
    "compute_kpis",
    "export_returns",
    "forecast_returns",
]

_WHERE = {
    "DelayDistribution": "delays",
    "KpiReport": "kpis",
    "compute_kpis": "kpis",
    "RefundEvent": "store",
    "ReturnConflict": "store",
    "ReturnEvent": "store",
    "ReturnNotRecorded": "store",
    "ReturnStore": "store",
    "ReturnsForecast": "forecast",
    "forecast_returns": "forecast",
    "export_returns": "export",
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"returnrisk.operations.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'returnrisk.operations' has no attribute {name!r}")
