"""The shop history behind the service: one resolver and one cache for every route.

Fix suggestions, KPIs, the forecast, recorded returns and the dashboard all read the shop
through :class:`ServiceShop`: ``RETURNRISK_DATA_DIR`` if set, else the folder the served model
was trained on, loaded once and reloaded when its files change
(:class:`returnrisk.operations.sources.ShopSources`). Failures are 503s that say what to set.
"""

from __future__ import annotations

from returnrisk.data.problems import DataError
from returnrisk.operations.sources import DataUnavailable, LoadedShop, ShopSources
from returnrisk.serving.settings import Settings
from returnrisk.serving.state import LoadedModel, ModelHolder, ModelNotLoaded

__all__ = ["ServiceShop"]


class ServiceShop:
    """The current shop history of the service (blocking on a first load: call it from a thread)."""

    def __init__(self, settings: Settings, holder: ModelHolder, sources: ShopSources | None = None):
        from returnrisk.reasons.fill import default_reason_filler

        self._data_dir = settings.data_dir
        self._holder = holder
        self.sources = sources or ShopSources(reason_filler_factory=default_reason_filler)

    def get(self, model: LoadedModel | None = None) -> LoadedShop:
        """The shop of ``model`` (default: the current one), or a 503 that says how to configure it."""
        model = model or self._holder.current
        if model is None and not self._data_dir:
            raise ModelNotLoaded("no model is loaded yet and RETURNRISK_DATA_DIR is not set: retry shortly or "
                                 "check /readyz")
        try:
            return self.sources.get(self._data_dir, model.bundle.meta if model is not None else None)
        except DataError as exc:
            first = exc.problems[0].render() if exc.problems else "unreadable"
            raise DataUnavailable(f"the shop's data cannot be loaded: {first}; fix it "
                                  "(returnrisk validate --data DIR)") from None
