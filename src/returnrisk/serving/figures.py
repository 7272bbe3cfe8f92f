"""Returns figures of the service: KPIs and the forecast of incoming returns, cached.

Both read the service's shop (:class:`~returnrisk.serving.shops.ServiceShop`) and use the
served model: expected final rates of provisional periods, and P(return) of the lines still in
their window for the forecast. Answers are kept in a small LRU per (shop version, model, query):
the history and the model only change on reload. Used by ``GET /v1/kpis``, ``GET /v1/forecast``
and the dashboard's overview; blocking (call them from a thread).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

import pandas as pd

from returnrisk.data.parsing import TIMESTAMP_MAX, TIMESTAMP_MIN
from returnrisk.errors import InputError
from returnrisk.operations.forecast import forecast_returns
from returnrisk.operations.kpis import compute_kpis
from returnrisk.serving.settings import Settings
from returnrisk.serving.shops import ServiceShop
from returnrisk.serving.state import LoadedModel, ModelHolder
from returnrisk.timeutil import parse_iso_timestamp, parse_period_bound

__all__ = ["AnswerCache", "ReturnsFigures"]


class AnswerCache:
    """A small thread-safe LRU of computed answers."""

    def __init__(self, size: int = 32):
        self.size = size
        self._lock = threading.Lock()
        self._items: OrderedDict = OrderedDict()

    def get_or_compute(self, key: Hashable, compute: Callable[[], dict]) -> dict:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


def _invalid(exc: ValueError) -> InputError:
    return InputError(str(exc), code="invalid_request")


def _within_range(ts: pd.Timestamp | None, name: str, text: str | None) -> pd.Timestamp | None:
    """``ts``, or a plain 422 when a timestamp cannot hold it (year 9999, 0001…): pandas' own error
    text would otherwise reach the caller."""
    if ts is not None and not (TIMESTAMP_MIN <= ts < TIMESTAMP_MAX + pd.Timedelta(days=1)):
        raise InputError(f"{name} {text!r} is outside the dates returnrisk handles ({TIMESTAMP_MIN:%Y-%m-%d} … "
                         f"{TIMESTAMP_MAX:%Y-%m-%d}): send a date within the shop's history", code="invalid_request")
    return ts


class ReturnsFigures:
    def __init__(self, settings: Settings, holder: ModelHolder, shop: ServiceShop, cache: AnswerCache | None = None):
        self._settings = settings
        self._holder = holder
        self._shop = shop
        self._answers = cache or AnswerCache()

    def kpis(self, start: str | None = None, end: str | None = None, by: str | None = None,
             limit: int | None = 100) -> dict:
        """KPIs of the orders from ``start`` to ``end`` (ISO 8601 texts; a date includes its whole day).

        Without a served model (only possible with ``RETURNRISK_DATA_DIR``) provisional periods
        show the rate observed so far.
        """
        try:
            when_from, when_to = parse_period_bound(start, "from"), parse_period_bound(end, "to", end=True)
        except ValueError as exc:
            raise _invalid(exc) from None
        when_from, when_to = _within_range(when_from, "from", start), _within_range(when_to, "to", end)
        if when_from is not None and when_to is not None and when_to <= when_from:
            raise InputError(f"to {end!r} is not after from {start!r}: the period is empty", code="invalid_request")
        loaded = self._shop.get()
        model = self._holder.current
        economics = self._settings.economics
        info = {"version": model.version} if model is not None else {
            "note": "no model loaded: provisional periods show the rate observed so far only"}
        key = ("kpis", loaded.signature, model.version if model else None, id(model), when_from, when_to, by, limit,
               economics.refund_target_days, economics.return_cost_per_return, economics.return_cost_per_unit)

        def compute() -> dict:
            return compute_kpis(loaded.shop, start=when_from, end=when_to, by=by,
                                bundle=model.bundle if model is not None else None, model_info=info,
                                refund_target_days=economics.refund_target_days,
                                return_cost_per_return=economics.return_cost_per_return,
                                return_cost_per_unit=economics.return_cost_per_unit, limit=limit).to_dict()

        return self._answers.get_or_compute(key, compute)

    def forecast(self, model: LoadedModel, days: int = 14, as_of: str | None = None) -> dict:
        """Returns expected per day for ``days`` days after ``as_of`` (default: the end of the data)."""
        try:
            when = parse_iso_timestamp(as_of, "as_of") if as_of is not None else None
        except ValueError as exc:
            raise _invalid(exc) from None
        when = _within_range(when, "as_of", as_of)
        loaded = self._shop.get(model)
        minutes = self._settings.economics.handling_minutes_per_return
        key = ("forecast", loaded.signature, model.version, id(model), days, when, minutes)

        def compute() -> dict:
            try:
                return forecast_returns(loaded.shop, model.bundle, as_of=when, days=days,
                                        handling_minutes_per_return=minutes).to_dict()
            except ValueError as exc:
                raise InputError(str(exc), code="forecast_impossible") from None

        return self._answers.get_or_compute(key, compute)
