"""``returnrisk train``: from a shop's history to a registered, evaluated, maybe promoted model.

Stages: load → validate → features → fit → evaluate → snapshot → log (→ promote).

Time split (never random), with ``T = as_of`` and ``W`` the return window::

    ─────────── fit ───────────┬─ calibration ─┬── W ──┬─── validation ───┬── W ──┤
                               T_val-W-cal     T_val-W  T_val              T-W     T

* the *validation model* is fitted on lines matured at ``T_val`` (labels as known then),
  early-stopped and Platt-calibrated on the later calibration slice, and evaluated on the
  lines ordered in ``[T_val, T-W)`` — the future it never saw, with labels known at ``T``;
* with ``refit`` the *served model* repeats exactly that procedure shifted to ``T`` (all
  matured lines); otherwise the validation model is served.

Promotion: the new version becomes ``champion`` if there is none, or if on the validation
rows the champion never trained on it is not worse in log-loss and AUC (tolerances in
``params.yaml``). Promotion is the very last step: a failed or interrupted run leaves the
champion untouched.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import returnrisk
from returnrisk.arrow_lookup import release_arrow_memory
from returnrisk.data.loader import Shop, clean_shop, read_shop_tables
from returnrisk.errors import InputError
from returnrisk.features.build import TrainingFrame, frame_from_history, index_shop, outcomes_at
from returnrisk.features.catalog import FEATURE_INDEX
from returnrisk.features.snapshot import Snapshot
from returnrisk.model.bundle import ServingBundle
from returnrisk.model.estimator import ReturnRiskModel
from returnrisk.model.evaluation import evaluate_predictions, probability_metrics
from returnrisk.monitoring.reference import reference_of
from returnrisk.pipeline.gate import Decision, comparable_champion, too_few_new_rows, verdict
from returnrisk.pipeline.model_io import ORDER_LINE_COLUMNS, input_example, model_io_columns, run_name
from returnrisk.pipeline.params import TrainParams, flatten
from returnrisk.pipeline.plots import close_figures, validation_figures
from returnrisk.pipeline.stages import StageClock
from returnrisk.timeutil import DAY, default_as_of, epoch_seconds, to_utc
from returnrisk.tracking import CHALLENGER_ALIAS, CHAMPION_ALIAS, Tracker, model_signature

__all__ = ["TrainResult", "run_training", "run_params", "TimeSplit", "time_split", "fingerprint", "code_version",
           "bundle_meta", "register_and_promote"]

log = logging.getLogger(__name__)


@dataclass
class TimeSplit:
    as_of: pd.Timestamp
    validation_start: pd.Timestamp
    window_days: int
    calibration_days: int

    def fit_mask(self, t: np.ndarray, end: pd.Timestamp) -> np.ndarray:
        """Lines of the fit slice for a model trained at ``end``."""
        return t < _s(end) - (self.window_days + self.calibration_days) * DAY

    def calibration_mask(self, t: np.ndarray, end: pd.Timestamp) -> np.ndarray:
        start = _s(end) - (self.window_days + self.calibration_days) * DAY
        return (t >= start) & (t < _s(end) - self.window_days * DAY)

    def validation_mask(self, t: np.ndarray) -> np.ndarray:
        return (t >= _s(self.validation_start)) & (t < _s(self.as_of) - self.window_days * DAY)


def _s(ts: pd.Timestamp) -> int:
    return int(epoch_seconds(ts, whole=True))


def time_split(as_of: pd.Timestamp, params: TrainParams) -> TimeSplit:
    start = as_of - pd.Timedelta(days=params.window_days + params.validation_days)
    return TimeSplit(as_of, start, params.window_days, params.calibration_days)


@dataclass
class TrainResult:
    run_id: str
    model_version: str
    promoted: bool
    decision: str
    metrics: dict[str, float]
    as_of: pd.Timestamp
    champion_before: str | None
    comparison: dict[str, float] = field(default_factory=dict)
    stages: list = field(default_factory=list)
    alias: str | None = None

    def to_json(self) -> dict:
        return {
            "run_id": self.run_id,
            "model_version": self.model_version,
            "alias": self.alias,
            "promoted": self.promoted,
            "decision": self.decision,
            "champion_before": self.champion_before,
            "as_of": self.as_of.isoformat(),
            "metrics": self.metrics,
            "comparison": self.comparison,
            "stages": [{"name": s.name, "seconds": round(s.seconds, 2), "peak_rss_mb": round(s.peak_rss_mb),
                        "cpu_s": round(s.cpu_seconds, 2),
                        **({"workers_peak_mb": {w: round(v) for w, v in s.workers_peak_mb.items()}}
                           if getattr(s, "workers_peak_mb", None) else {}),
                        **({"workers_cpu_s": {w: round(v, 2) for w, v in s.workers_cpu_s.items()}}
                           if getattr(s, "workers_cpu_s", None) else {})}
                       for s in self.stages],
        }


def fingerprint(folder: Path, shop: Shop) -> dict[str, object]:
    """Row counts, date range and a SHA-256 of the input files (what was trained on)."""
    digest = hashlib.sha256()
    for table in shop.tables.values():
        path = Path(folder) / table.file
        digest.update(table.file.encode())
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    lines = shop.order_lines
    return {
        "input_sha256": digest.hexdigest(),
        "rows_products": len(shop.products),
        "rows_order_lines": len(lines),
        "rows_returns": len(shop.returns),
        "rows_quarantined": sum(t.rows_quarantined for t in shop.tables.values()),
        "first_order": lines["ordered_at"].min().isoformat(),
        "last_order": lines["ordered_at"].max().isoformat(),
    }


def run_params(params: TrainParams, inputs: dict, as_of: pd.Timestamp, version: str) -> dict[str, object]:
    """What a training run logs as MLflow parameters (names: the flattened parameters, ``data.*``,
    ``as_of``, ``code_version`` — an MLflow Project's own parameters must not reuse them)."""
    return {**flatten(params.to_dict()), **{f"data.{k}": v for k, v in inputs.items()},
            "as_of": as_of.isoformat(), "code_version": version}


def code_version() -> str:
    """Package version, plus the git commit (and ``-dirty``) when run from a checkout."""
    root = Path(returnrisk.__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return f"{returnrisk.__version__}+{commit}{'-dirty' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        return returnrisk.__version__


def _truth_p(folder: Path, line_ids: pd.Series) -> np.ndarray | None:
    """Ground-truth probabilities when the data is a demo shop (reporting only, never features)."""
    path = Path(folder) / "truth" / "lines.parquet"
    if not path.is_file():
        return None
    truth = pq.read_table(path, columns=["line_id", "p_return"])
    wanted = pa.array(line_ids.astype("string[pyarrow]").array).cast(truth.schema.field("line_id").type)
    position = pc.index_in(wanted, value_set=truth.column("line_id")).to_numpy(zero_copy_only=False)
    if np.isnan(position.astype(float)).any():
        return None
    return truth.column("p_return").to_numpy()[position.astype(np.int64)].astype(float)


def _check_sizes(frame: TrainingFrame, split: TimeSplit, masks: dict[str, np.ndarray]) -> None:
    needs = {"fit": 500, "calibration": 100, "validation": 100}
    short = {name: int(masks[name].sum()) for name, need in needs.items() if masks[name].sum() < need}
    if short:
        first, last = frame.lines["ordered_at"].min(), frame.lines["ordered_at"].max()
        raise InputError(
            "history too short for an honest time split: "
            + ", ".join(f"{k} slice has {v} matured lines (need ≥ {needs[k]})" for k, v in short.items())
            + f"; orders span {first:%Y-%m-%d} to {last:%Y-%m-%d}, as-of {split.as_of:%Y-%m-%d}. "
            "Provide more history, or reduce split.validation_days / split.calibration_days in params.yaml"
        )


def _fit_at(frame: TrainingFrame, split: TimeSplit, end: pd.Timestamp, params: TrainParams) -> ReturnRiskModel:
    outcome = outcomes_at(frame, end)
    t = frame.history.t
    fit = split.fit_mask(t, end) & (outcome >= 0)
    cal = split.calibration_mask(t, end) & (outcome >= 0)
    cap = params.model.max_fit_rows
    if cap and fit.sum() > cap:
        rows = np.flatnonzero(fit)
        keep = np.random.default_rng(params.model.seed).choice(rows, cap, replace=False)
        fit = np.zeros_like(fit)
        fit[keep] = True
        log.info("fit slice subsampled to %d of %d lines (model.max_fit_rows)", cap, rows.size)
    model = ReturnRiskModel.fit(frame.X[fit], outcome[fit], frame.X[cal], outcome[cal], params.model)
    lines = frame.lines["ordered_at"]
    model.info.update({
        "trained_at": pd.Timestamp.now(tz="UTC").isoformat(),
        "trained_through": lines[fit | cal].max().isoformat() if (fit | cal).any() else None,
        "fit_rows": int(fit.sum()),
        "calibration_rows": int(cal.sum()),
    })
    return model


def _compare_with_champion(tracker: Tracker, champion, frame: TrainingFrame, val: np.ndarray, y: np.ndarray,
                           p_new: np.ndarray, params: TrainParams) -> Decision:
    bundle, decision = comparable_champion(tracker, champion)
    if decision is not None:
        return decision
    seen_until = bundle.model.info.get("trained_through")
    unseen = np.ones(val.sum(), dtype=bool)
    if seen_until:
        unseen = (frame.lines["ordered_at"] > pd.Timestamp(seen_until)).to_numpy()[val]
    n_unseen = int(unseen.sum())
    decision = too_few_new_rows(champion, n_unseen, int(y[unseen].sum()), params)
    if decision is not None:
        return decision
    p_champ = bundle.model.predict(frame.X[val][unseen]).p_return
    return verdict(champion, n_unseen, probability_metrics(y[unseen], p_new[unseen]),
                   probability_metrics(y[unseen], p_champ), params)


def run_training(
    data: str | Path,
    *,
    params: TrainParams,
    tracker: Tracker,
    as_of: pd.Timestamp | None = None,
    quarantine_dir: Path | None = None,
    reason_filler=None,
    clock: StageClock | None = None,
    alias: str | None = None,
) -> TrainResult:
    """Run the whole pipeline (see module docstring) and return what happened.

    ``as_of`` (a naive value is UTC) defaults to :func:`returnrisk.timeutil.default_as_of`: the
    data's now, one second after its last order, return or refund.

    ``alias="challenger"`` registers the new version as the challenger and leaves the champion
    alone (``returnrisk retrain`` then compares the two); by default the new version is promoted
    to champion when it is not worse (see the module docstring).
    """
    data = Path(data)
    clock = clock or StageClock()
    tracker.reap_stuck_runs()   # runs a killed training left RUNNING on this host (issue 18)
    with clock.stage("load"):
        raws = read_shop_tables(data)
    with clock.stage("validate"):
        shop = clean_shop(raws, data, quarantine_dir=quarantine_dir, reason_filler=reason_filler)
        del raws
        release_arrow_memory()
        inputs = fingerprint(data, shop)
    as_of = default_as_of(shop) if as_of is None else to_utc(as_of)
    if as_of <= shop.order_lines["ordered_at"].min():
        raise InputError(f"--as-of {as_of.isoformat()} is before the first order "
                         f"({shop.order_lines['ordered_at'].min().isoformat()}): nothing to learn from")

    with clock.stage("features"):
        history, vocabulary = index_shop(shop, as_of, window_days=params.window_days, smoothing=params.smoothing)
        del shop  # what the frame needs is in the history now: the shop's tables are freed
        release_arrow_memory()
        frame = frame_from_history(history, vocabulary, params.smoothing)
        del history
    split = time_split(as_of, params)
    t = frame.history.t
    val_phase = outcomes_at(frame, split.validation_start)
    masks = {
        "fit": split.fit_mask(t, split.validation_start) & (val_phase >= 0),
        "calibration": split.calibration_mask(t, split.validation_start) & (val_phase >= 0),
        "validation": split.validation_mask(t) & (frame.outcome >= 0),
    }
    _check_sizes(frame, split, masks)

    with clock.stage("fit"):
        validation_model = _fit_at(frame, split, split.validation_start, params)
        served = _fit_at(frame, split, as_of, params) if params.refit else validation_model

    with clock.stage("evaluate"):
        val = masks["validation"]
        outcome = frame.outcome[val]
        y = (outcome > 0).astype(int)
        X_val = frame.X[val]
        prediction = validation_model.predict(X_val)
        product = frame.history.line_codes.product
        first_sale = np.full(max(int(product.max()) + 1, 1), np.iinfo(np.int64).max)
        np.minimum.at(first_sale, np.maximum(product, 0), t)   # every line of the frame has a known product
        cold = first_sale[np.maximum(product, 0)][val] >= _s(split.validation_start)
        global_rate = float((val_phase[masks["fit"] | masks["calibration"]] > 0).mean())
        metrics = evaluate_predictions(
            outcome, prediction.p_return, prediction.p_reasons,
            product_rate=X_val[:, FEATURE_INDEX["product_rate"]].astype(float),
            global_rate=global_rate, cold_start=cold,
            truth_p=_truth_p(data, frame.lines["line_id"][val]),
        )
        metrics.update({
            "train_rows": float(masks["fit"].sum()), "calibration_rows": float(masks["calibration"].sum()),
            "immature_rows": float(frame.n_immature),
            "return_rounds": float(validation_model.info["return_rounds"]),
            "reason_rounds": float(validation_model.info["reason_rounds"]),
        })
        figures = validation_figures(validation_model, X_val, y, prediction.p_return)
        champion = tracker.champion()
        if alias == CHALLENGER_ALIAS:
            promote, decision, comparison = False, "registered as challenger (returnrisk retrain compares it)", {}
        else:
            promote, decision, comparison = _compare_with_champion(tracker, champion, frame, val, y,
                                                                   prediction.p_return, params)

    with clock.stage("snapshot"):
        snapshot = Snapshot.from_history(frame.history, frame.attrs, frame.vocabulary, params.smoothing,
                                         params.window_days)
        meta = bundle_meta(str(data.resolve()), as_of, inputs, split, metrics, params)
        meta["monitoring_reference"] = reference_of(frame, served, split.validation_start, as_of,
                                                    seed=params.model.seed)
        bundle = ServingBundle(served, snapshot, meta)

    return register_and_promote(tracker, bundle, data_label=str(data.resolve()), params=params, inputs=inputs,
                                metrics=metrics, comparison=comparison, figures=figures, decision=decision,
                                promote=promote, champion=champion, as_of=as_of, clock=clock, alias=alias,
                                rows={"matured_rows": int((frame.outcome >= 0).sum()),
                                      "immature_rows": frame.n_immature})


def bundle_meta(data_label: str, as_of: pd.Timestamp, inputs: dict, split: TimeSplit, metrics: dict,
                params: TrainParams) -> dict:
    """The serving bundle's metadata (shared by the single-process and the cluster paths)."""
    return {
        "code_version": code_version(),
        "as_of": as_of.isoformat(),
        "data_dir": data_label,
        "data": inputs,
        "validation_start": split.validation_start.isoformat(),
        "metrics": {k: v for k, v in metrics.items() if not (isinstance(v, float) and np.isnan(v))},
        "risk_bands": {"low_ratio": params.risk_bands.low_ratio, "high_ratio": params.risk_bands.high_ratio},
        "refit": params.refit,
    }


def register_and_promote(tracker: Tracker, bundle: ServingBundle, *, data_label: str, params: TrainParams,
                         inputs: dict, metrics: dict, comparison: dict, figures: dict, decision: str,
                         promote: bool, champion, as_of: pd.Timestamp, clock: StageClock, alias: str | None = None,
                         rows: dict | None = None) -> TrainResult:
    """The "log" stage and the promotion: one MLflow run, the registered version, the champion gate.

    Shared by the single-process and the cluster paths, so a model is logged and served the same
    way wherever it was trained. ``rows`` (matured and immature line counts) goes to the logged
    training input's profile; ``alias="challenger"`` registers without promoting.
    """
    meta = bundle.meta
    example = input_example(bundle.snapshot, as_of)
    data_name = data_label.rstrip("/").rsplit("/", 1)[-1] or data_label
    with clock.stage("log"), tempfile.TemporaryDirectory(prefix="returnrisk-bundle-") as tmp:
        bundle_dir = bundle.save(Path(tmp) / "bundle")
        tags = {"returnrisk.code_version": meta["code_version"], "returnrisk.as_of": meta["as_of"],
                "returnrisk.data": data_label}
        with tracker.run(run_name=run_name(as_of), tags=tags) as run_id:
            tracker.log_params(run_params(params, inputs, as_of, meta["code_version"]))
            tracker.log_training_input(
                name=data_name, digest=inputs["input_sha256"], source=data_label,
                profile={**{k: v for k, v in inputs.items() if k != "input_sha256"}, "as_of": as_of.isoformat(),
                         **(rows or {})},
                columns=[(c, k, r) for c, k, r in model_io_columns()[0] if c in ORDER_LINE_COLUMNS],
                tags={"as_of": as_of.isoformat(), "sha256": inputs["input_sha256"]})
            tracker.log_metrics({**metrics, **comparison})
            for name, figure in figures.items():
                tracker.log_figure(figure, name)
            tracker.log_dict({"decision": decision, "comparison": comparison}, "promotion.json")
            inputs_io, outputs_io = model_io_columns()
            version = tracker.log_model(bundle_dir, signature=model_signature(inputs_io, outputs_io),
                                        input_example=example)
            tracker.log_metrics(clock.as_metrics())
    close_figures(figures)
    before = champion.version if champion else None
    if promote:
        tracker.set_champion(version)
    if alias == CHALLENGER_ALIAS:
        tracker.set_alias(version, CHALLENGER_ALIAS)
    tracker.set_version_tag(version, "promotion", decision)
    log.info("%s", decision)
    return TrainResult(run_id, version, promote, decision, metrics, as_of, before, comparison, clock.records,
                       alias=CHAMPION_ALIAS if promote else alias)
