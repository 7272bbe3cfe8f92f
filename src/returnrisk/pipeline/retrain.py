"""``returnrisk retrain``: a challenger trained on the latest history, compared with the champion on
the freshest matured weeks, promoted only when it is not worse.

Time line, with ``end`` the end of the data, ``W`` the return window and ``H`` the hold-out::

    ──── challenger: fit + calibration (labels known at end−H) ────┬──── H ────┬── W ──┤
                                                                end−H−W      end−W    end
                                                                   └ hold-out ┘

1. The returns recorded through the API (the returns database) are merged with the shop's
   returns file (:func:`returnrisk.operations.export.export_returns`; a recorded return replaces
   the file's row for the same line) into a complete shop folder, which is what is trained on.
2. The challenger is trained **as of end − H**: its validation model and its refit both stop
   before the hold-out — the lines ordered in ``[end − H − W, end − W)``, whose outcomes are known
   at ``end`` — and it is registered with the alias ``challenger``.
3. Challenger and champion score the hold-out lines (features at each line's own cut-off, the same
   matrix for both); only lines the champion did not train on count. The challenger is promoted
   to ``champion`` when it is not worse in log-loss and AUC (the tolerances of ``promotion`` in
   params.yaml), or when there is no champion.

The trade-off: the served challenger has not learnt from the freshest ``H`` days of matured
outcomes (a refit on them would be untested); in exchange the comparison is on weeks neither model
saw, the freshest possible, and what is promoted is exactly what was tested. ``H`` (default 28
days) trades the comparison's precision (more lines) against the challenger's freshness.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from returnrisk.data.loader import load_shop
from returnrisk.errors import InputError, ReturnRiskError
from returnrisk.features.build import frame_from_history, index_shop
from returnrisk.features.catalog import FEATURE_NAMES
from returnrisk.model.evaluation import probability_metrics, reliability_table, safe_auc
from returnrisk.pipeline.params import TrainParams
from returnrisk.pipeline.stages import StageClock
from returnrisk.pipeline.train import TrainResult, run_training
from returnrisk.strict_json import dumps, jsonable
from returnrisk.timeutil import default_as_of, to_utc
from returnrisk.tracking import CHALLENGER_ALIAS, Tracker

__all__ = ["RetrainResult", "run_retrain", "merge_recorded_returns", "PROMOTED", "KEPT_CHAMPION",
           "DEFAULT_HOLDOUT_DAYS"]

log = logging.getLogger(__name__)

PROMOTED = 0
KEPT_CHAMPION = 3
DEFAULT_HOLDOUT_DAYS = 28


@dataclass
class RetrainResult:
    promoted: bool
    decision: str
    challenger: TrainResult
    champion_version: str | None
    holdout: dict
    metrics: dict[str, dict]
    per_category: list[dict] = field(default_factory=list)
    reliability: dict[str, list] = field(default_factory=dict)
    merged: dict | None = None

    @property
    def exit_code(self) -> int:
        return PROMOTED if self.promoted else KEPT_CHAMPION

    def to_json(self) -> dict:
        return jsonable({
            "promoted": self.promoted,
            "decision": self.decision,
            "exit_code": self.exit_code,
            "challenger_version": self.challenger.model_version,
            "challenger_run_id": self.challenger.run_id,
            "champion_version": self.champion_version,
            "challenger_as_of": self.challenger.as_of.isoformat(),
            "holdout": self.holdout,
            "metrics": self.metrics,
            "per_category": self.per_category,
            "reliability": self.reliability,
            "merged_returns": self.merged,
        })


def merge_recorded_returns(data: Path, store, out: Path) -> dict:
    """The shop of ``data`` with the returns recorded through the API, written to ``out``."""
    from returnrisk.operations.export import export_returns

    result = export_returns(store, out, merge_with=data)
    return result.to_dict()


def _per_category(categories: np.ndarray, y: np.ndarray, p_new: np.ndarray, p_old: np.ndarray,
                  min_rows: int = 100) -> list[dict]:
    rows = []
    for category in sorted({c for c in categories if c is not None}):
        mask = categories == category
        if mask.sum() < min_rows:
            continue
        rows.append({"category": str(category), "rows": int(mask.sum()), "return_rate": float(y[mask].mean()),
                     "challenger_auc": safe_auc(y[mask], p_new[mask]),
                     "champion_auc": safe_auc(y[mask], p_old[mask]) if p_old is not None else None})
    return rows


def run_retrain(
    data: str | Path,
    *,
    params: TrainParams,
    tracker: Tracker,
    holdout_days: int = DEFAULT_HOLDOUT_DAYS,
    end: pd.Timestamp | None = None,
    store=None,
    merged_dir: Path | None = None,
    reason_filler=None,
    clock: StageClock | None = None,
) -> RetrainResult:
    """Merge recorded returns, train a challenger, compare it with the champion, maybe promote it."""
    data = Path(data)
    if holdout_days < 7:
        raise InputError(f"--holdout-days {holdout_days} is too short for a fair comparison: use at least 7")
    merged = None
    train_dir = data
    if store is not None:
        merged_dir = Path(merged_dir or data / ".returnrisk" / "retrain-data")
        merged = merge_recorded_returns(data, store, merged_dir)
        train_dir = merged_dir
        log.info("returns recorded through the API merged: %s", merged)

    shop = load_shop(train_dir, reason_filler=reason_filler)
    end = default_as_of(shop) if end is None else to_utc(end)
    challenger_as_of = end - pd.Timedelta(days=holdout_days)
    window = pd.Timedelta(days=params.window_days)
    holdout_start, holdout_end = challenger_as_of - window, end - window
    if holdout_start <= shop.order_lines["ordered_at"].min():
        raise InputError(f"history too short to hold out {holdout_days} days: orders start "
                         f"{shop.order_lines['ordered_at'].min():%Y-%m-%d}, the hold-out would start "
                         f"{holdout_start:%Y-%m-%d}; pass a smaller --holdout-days or more history")

    champion_ref = tracker.champion()
    challenger = run_training(train_dir, params=params, tracker=tracker, as_of=challenger_as_of,
                              reason_filler=reason_filler, clock=clock, alias=CHALLENGER_ALIAS)

    # ---- the hold-out, scored by both ----------------------------------------------------------------
    history, vocabulary = index_shop(shop, end, window_days=params.window_days, smoothing=params.smoothing)
    del shop
    frame = frame_from_history(history, vocabulary, params.smoothing)
    ordered = frame.lines["ordered_at"]
    holdout = ((ordered >= holdout_start) & (ordered < holdout_end)).to_numpy() & (frame.outcome >= 0)
    challenger_bundle, _ = tracker.load_bundle(f"models:/returnrisk/{challenger.model_version}")
    champion_bundle = None
    decision, rows = None, holdout.copy()
    if champion_ref is not None:
        try:
            champion_bundle, _ = tracker.load_bundle(champion_ref.uri)
        except (ReturnRiskError, ValueError, OSError) as exc:
            decision = (f"champion v{champion_ref.version} cannot be loaded by this version of returnrisk "
                        f"({str(exc).splitlines()[0]}): the challenger becomes champion")
        else:
            if tuple(champion_bundle.model.feature_names) != FEATURE_NAMES:
                decision = (f"champion v{champion_ref.version} uses another feature set: no comparison on the same "
                            "rows, champion kept; compare the runs in MLflow and `returnrisk promote --version N`")
            else:
                seen = champion_bundle.model.info.get("trained_through")
                if seen:
                    rows &= (ordered > pd.Timestamp(seen)).to_numpy()
    y = (frame.outcome[rows] > 0).astype(int)
    X = frame.X[rows]
    p_new = challenger_bundle.model.predict(X).p_return if rows.any() else np.empty(0)
    comparable = champion_bundle is not None and decision is None
    p_old = champion_bundle.model.predict(X).p_return if comparable and rows.any() else None
    metrics = {"challenger": probability_metrics(y, p_new) if y.size else {}}
    if p_old is not None:
        metrics["champion"] = probability_metrics(y, p_old)
    holdout_info = {"start": holdout_start.isoformat(), "end": holdout_end.isoformat(), "days": holdout_days,
                    "holdout_rows": int(holdout.sum()), "compared_rows": int(rows.sum()),
                    "return_rate": float(y.mean()) if y.size else None}

    promoted = False
    if champion_ref is None:
        promoted, decision = True, "no champion yet: the challenger becomes champion"
    elif decision is not None and champion_bundle is None:
        promoted = True
    elif decision is None and (rows.sum() < params.min_new_rows or y.min(initial=0) == y.max(initial=0)):
        decision = (f"only {int(rows.sum())} hold-out lines the champion v{champion_ref.version} did not train on "
                    f"(need {params.min_new_rows}): no fair comparison, champion kept; "
                    f"`returnrisk promote --version {challenger.model_version}` overrides")
    elif decision is None:
        new, old = metrics["challenger"], metrics["champion"]
        not_worse = (new["log_loss"] <= old["log_loss"] + params.tolerance_log_loss
                     and new["auc"] >= old["auc"] - params.tolerance_auc)
        promoted = not_worse
        verdict = "promoted" if not_worse else "champion kept (challenger worse)"
        decision = (f"{verdict}: on {int(rows.sum()):,} hold-out lines neither model trained on "
                    f"({holdout_start:%Y-%m-%d} → {holdout_end:%Y-%m-%d}), log-loss {new['log_loss']:.4f} vs "
                    f"champion v{champion_ref.version} {old['log_loss']:.4f}, AUC {new['auc']:.4f} vs {old['auc']:.4f}")

    categories = frame.lines["category"].to_numpy(dtype=object)[rows]
    result = RetrainResult(
        promoted=promoted, decision=decision, challenger=challenger,
        champion_version=champion_ref.version if champion_ref else None, holdout=holdout_info, metrics=metrics,
        per_category=_per_category(categories, y, p_new, p_old),
        reliability={"challenger": [r for r in reliability_table(y, p_new) if r["count"]] if y.size else [],
                     "champion": [r for r in reliability_table(y, p_old) if r["count"]] if p_old is not None else []},
        merged=merged,
    )
    _log_report(tracker, result)
    if promoted:
        tracker.set_champion(challenger.model_version)
    tracker.set_version_tag(challenger.model_version, "promotion", decision)
    log.info("%s", decision)
    return result


def _log_report(tracker: Tracker, result: RetrainResult) -> None:
    """The comparison on the challenger's run: metrics side by side, report.json, report.html."""
    from returnrisk.pipeline.retrain_report import render_retrain_report

    payload = result.to_json()
    flat = {"retrain_compared_rows": float(result.holdout["compared_rows"]),
            "retrain_promoted": float(result.promoted)}
    for who, figures in result.metrics.items():
        for key, value in figures.items():
            flat[f"retrain_{who}_{key}"] = value
    tracker.log_to_run(result.challenger.run_id, metrics=flat,
                       texts={"retrain/report.json": dumps(payload, indent=2),
                              "retrain/report.html": render_retrain_report(payload)},
                       tags={"returnrisk.retrain.decision": result.decision,
                             "returnrisk.retrain.champion_version": str(result.champion_version)})
