"""The fix board: one report's suggestions on one shop with the recorded statuses and measured
effects — what the fix list, the API, the CLI and the worker all read.

:meth:`FixBoard.state` recomputes only what changed: the catalogue when the shop changes, the
effects when the set of done fixes (or the shop) changes, the rows when any status changes
(the trail's latest change id is the version).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from returnrisk.config import Economics
from returnrisk.data.loader import Shop
from returnrisk.fixes.effect import FixEffect
from returnrisk.fixes.engine import FixReport
from returnrisk.fixes.status import ReturnRule
from returnrisk.lifecycle.catalogue import ProductInfo, product_catalogue
from returnrisk.lifecycle.effects import effect_params, measure_done
from returnrisk.lifecycle.listing import FixRow, build_rows
from returnrisk.lifecycle.statuses import FixStatusStore, StoredStatus

__all__ = ["BoardState", "FixBoard", "return_rule"]


def return_rule(economics: Economics, report: FixReport | None = None) -> ReturnRule:
    """The rule that brings a dismissed fix back, with the suggestions' own threshold and prior."""
    params = report.params if report is not None else None
    return ReturnRule(flag_threshold=float(economics.flag_threshold),
                      prior_strength=params.prior_strength if params else 20.0,
                      prior_min_returns=params.prior_min_returns if params else 2.0)


@dataclass(frozen=True)
class BoardState:
    report: FixReport
    shop: Shop
    version: int
    latest: dict[str, StoredStatus]
    effects: dict[str, FixEffect]
    catalogue: dict[str, ProductInfo]
    rows: list[FixRow]
    rule: ReturnRule

    def row(self, fix_id: str) -> FixRow | None:
        for row in self.rows:
            if row.fix_id == fix_id:
                return row
        return None

    def suggestion(self, fix_id: str) -> dict | None:
        """The fix's suggestion in the current report (``None``: not suggested now)."""
        for fix in self.report.fixes:
            if fix["fix_id"] == fix_id:
                return fix
        return None


class FixBoard:
    def __init__(self, store: FixStatusStore, economics: Economics):
        self.store = store
        self.economics = economics
        self._lock = threading.Lock()
        self._state: BoardState | None = None
        self._catalogue: tuple[Shop, dict[str, ProductInfo]] | None = None
        self._effects: tuple[Shop, tuple, dict[str, FixEffect]] | None = None

    def state(self, report: FixReport, shop: Shop) -> BoardState:
        """The board of ``report`` on ``shop`` with the statuses as they are now (blocking: call from a thread)."""
        version = self.store.version()
        with self._lock:
            old = self._state
            if old is not None and old.report is report and old.shop is shop and old.version == version:
                return old
            latest = self.store.all_latest()
            catalogue = self._catalogue_of(shop)
            effects = self._effects_of(shop, report, latest)
            rule = return_rule(self.economics, report)
            rows = build_rows(report.fixes, latest, effects, catalogue, rule)
            self._state = BoardState(report, shop, version, latest, effects, catalogue, rows, rule)
            return self._state

    def _catalogue_of(self, shop: Shop) -> dict[str, ProductInfo]:
        if self._catalogue is None or self._catalogue[0] is not shop:
            self._catalogue = (shop, product_catalogue(shop, self.economics.currency))
        return self._catalogue[1]

    def _effects_of(self, shop: Shop, report: FixReport, latest: dict[str, StoredStatus]) -> dict[str, FixEffect]:
        done = sorted((s for s in latest.values() if s.status.status == "done"), key=lambda s: s.fix_id)
        key = (report.as_of, tuple((s.fix_id, s.status.live_at) for s in done))
        if self._effects is None or self._effects[0] is not shop or self._effects[1] != key:
            effects = measure_done(shop, done, effect_params(self.economics), as_of=report.as_of)
            self._effects = (shop, key, effects)
        return self._effects[2]
