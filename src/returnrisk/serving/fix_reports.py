"""The fix report of each loaded model: computed on first use, one computation at a time.

A report reads the whole shop history and re-scores lines with the model (seconds to minutes on
a large shop), so it is computed once per :class:`~returnrisk.serving.state.LoadedModel` — on
the first request that needs it; requests arriving meanwhile wait for that computation instead
of starting their own — and kept while that model is served: a reload computes a fresh one, and
the old report is freed with the old model. The shop comes from the service's one
:class:`~returnrisk.serving.shops.ServiceShop`.
"""

from __future__ import annotations

import logging
import threading
import weakref

from returnrisk.errors import ReturnRiskError, UnavailableError
from returnrisk.fixes import FixParams, FixReport, compute_fixes
from returnrisk.serving.settings import Settings
from returnrisk.serving.shops import ServiceShop
from returnrisk.serving.state import LoadedModel

__all__ = ["FixReports", "FixesUnavailable"]

log = logging.getLogger(__name__)


class FixesUnavailable(UnavailableError):
    """The shop's history was read but the suggestions cannot be computed from it."""

    code = "fixes_unavailable"


class FixReports:
    def __init__(self, settings: Settings, shop: ServiceShop):
        self._settings = settings
        self._shop = shop
        self._lock = threading.Lock()
        self._reports: weakref.WeakKeyDictionary[LoadedModel, FixReport] = weakref.WeakKeyDictionary()

    def cached(self, model: LoadedModel) -> FixReport | None:
        """The report of ``model`` if it has been computed."""
        return self._reports.get(model)

    def get(self, model: LoadedModel) -> FixReport:
        """The report of ``model``, computed now if needed (blocking: call it from a thread)."""
        report = self._reports.get(model)
        if report is not None:
            return report
        with self._lock:  # one computation at a time; the others wait for it, then find it cached
            report = self._reports.get(model)
            if report is None:
                report = self._compute(model)
                self._reports[model] = report
        return report

    def _compute(self, model: LoadedModel) -> FixReport:
        loaded = self._shop.get(model)
        try:
            report = compute_fixes(loaded.shop, model.bundle, FixParams.from_economics(self._settings.economics),
                                   model_info=model.info)
        except (ReturnRiskError, ValueError) as exc:
            raise FixesUnavailable(f"fix suggestions cannot be computed: {exc}") from None
        log.info("fix report for model v%s: %d suggestions", model.version, len(report.fixes))
        return report
