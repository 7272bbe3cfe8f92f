"""The fix lifecycle behind the API and the dashboard: the list with statuses, status changes,
measured effects and alerts (reads of the service database; the periodic work is the worker's).

Blocking methods (reports, shops, effects are computed on first use): call them from a thread.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from returnrisk.errors import ConflictError
from returnrisk.fixes.effect import FixEffect
from returnrisk.fixes.status import StatusChange
from returnrisk.lifecycle import BoardState, FixBoard, FixPage, FixQuery, FixStatusStore, StoredStatus, select
from returnrisk.lifecycle.changes import FixNotFound, set_status
from returnrisk.lifecycle.effects import WeeklyComparison, weekly_comparison
from returnrisk.lifecycle.outbox import AlertOutbox, StoredAlert
from returnrisk.serving.fix_reports import FixReports
from returnrisk.serving.settings import Settings
from returnrisk.serving.shops import ServiceShop
from returnrisk.serving.state import LoadedModel

__all__ = ["FixLifecycle", "FixNotDone"]


class FixNotDone(ConflictError):
    """An effect asked for a fix that is not done (409 ``fix_not_done``)."""

    code = "fix_not_done"


class FixLifecycle:
    def __init__(self, settings: Settings, engine: sa.Engine, reports: FixReports, shop: ServiceShop):
        self.settings = settings
        self.store = FixStatusStore(engine)
        self.outbox = AlertOutbox(engine)
        self.board = FixBoard(self.store, settings.economics)
        self._reports = reports
        self._shop = shop

    @property
    def currency(self) -> str:
        return self.settings.economics.currency

    def state(self, model: LoadedModel) -> BoardState:
        report = self._reports.get(model)
        return self.board.state(report, self._shop.get(model).shop)

    def page(self, model: LoadedModel, query: FixQuery) -> tuple[BoardState, FixPage]:
        state = self.state(model)
        return state, select(state.rows, query)

    def change(self, model: LoadedModel, fix_id: str, change: StatusChange, by: str) -> StoredStatus:
        """Record ``change`` of fix ``fix_id`` by ``by`` now (404 unknown fix, 409 impossible, 422 malformed)."""
        state = self.state(model)
        return set_status(self.store, fix_id, change, by=by, at=pd.Timestamp.now(tz="UTC"),
                          fix=state.suggestion(fix_id), rule=state.rule)

    def row(self, model: LoadedModel, fix_id: str):
        state = self.state(model)
        row = state.row(fix_id)
        if row is None:
            raise FixNotFound(f"fix {fix_id} is neither among the current suggestions nor recorded: check the id "
                              "(GET /v1/fixes?status=all lists them with their fix_id)")
        return state, row

    def effect(self, model: LoadedModel, fix_id: str) -> FixEffect:
        """The measured effect of a done fix (404 unknown, 409 not done)."""
        state, row = self.row(model, fix_id)
        if row.status != "done":
            raise FixNotDone(f"fix {fix_id} is {row.status}: its effect is measured once it is done — mark it done "
                             "with the date it went live (PATCH /v1/fixes/{fix_id} with status done and live_at)")
        return state.effects[fix_id]

    def chart(self, model: LoadedModel, fix_id: str) -> WeeklyComparison | None:
        state = self.state(model)
        effect = state.effects.get(fix_id)
        return None if effect is None else weekly_comparison(state.shop, effect, as_of=state.report.as_of)

    def history(self, fix_id: str) -> list[StoredStatus]:
        return self.store.history(fix_id)

    def alerts(self, *, since: pd.Timestamp | None = None, limit: int = 20) -> list[StoredAlert]:
        return self.outbox.recent(since=since, limit=limit)
