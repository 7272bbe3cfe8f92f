"""``returnrisk train --cluster``: the training pipeline with its heavy stages on a Dask cluster.

Same stages, same time split, same metrics, same MLflow run, registry and champion gate as
:func:`returnrisk.pipeline.train.run_training` (whose :func:`~returnrisk.pipeline.train.register_and_promote`
logs and promotes here too); the served bundle is an ordinary one. What runs where:

* the workers read, check and clean the parts, compute the features shard by shard, fit with
  ``lightgbm.dask``, predict the calibration and validation lines where they lie;
* the client holds the catalogue, the small-entity tables, the snapshot, sums of partitions
  (metrics, calibration) and a sample of validation lines for the two figures (calibration curve
  from up to 200,000 lines, SHAP summary from 1,000, as one process draws).
"""

from __future__ import annotations

import logging
import operator
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import pandas as pd

from returnrisk.cluster.exchange import hold
from returnrisk.cluster.features import ShardFrame, build_cluster_features
from returnrisk.cluster.fitting import Slice, fit_on_cluster
from returnrisk.cluster.loading import read_partitioned, validate_partitioned
from returnrisk.cluster.metrics import Scored, distributed_probability_metrics_many, exact_aucs
from returnrisk.cluster.sources import part_digest
from returnrisk.errors import InputError
from returnrisk.features.catalog import FEATURE_INDEX
from returnrisk.model.bundle import ServingBundle
from returnrisk.model.estimator import ReturnRiskModel
from returnrisk.pipeline.gate import Decision, comparable_champion, too_few_new_rows, verdict
from returnrisk.pipeline.params import TrainParams
from returnrisk.pipeline.stages import StageClock, StageRecord
from returnrisk.pipeline.train import (
    TrainResult,
    _check_sizes,
    _truth_p,
    bundle_meta,
    register_and_promote,
    time_split,
)
from returnrisk.taxonomy import RETURN_GROUPS
from returnrisk.timeutil import DAY, default_as_of, epoch_seconds, to_utc
from returnrisk.tracking import Tracker

__all__ = ["run_cluster_training", "ClusterStageClock", "ClusterStageRecord"]

log = logging.getLogger(__name__)
_FIGURE_ROWS = 200_000
_SHAP_ROWS = 1_000


# ---- time and memory per stage, on the client and on every worker ---------------------------------
@dataclass
class ClusterStageRecord(StageRecord):
    workers_peak_mb: dict[str, float] = field(default_factory=dict)
    #: CPU seconds each worker process spent during the stage (core-seconds, whatever the machine's load)
    workers_cpu_s: dict[str, float] = field(default_factory=dict)


def _worker_rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _worker_cpu_s() -> float:
    import psutil

    times = psutil.Process().cpu_times()
    return times.user + times.system


def _cpu_by_worker(client) -> dict[str, float]:
    try:
        return client.run(_worker_cpu_s)
    except Exception:  # noqa: BLE001 (a worker being replaced: its time since then counts from zero)
        return {}


@dataclass
class ClusterStageClock(StageClock):
    """A :class:`StageClock` that also samples every worker's resident memory (every 0.5 s)."""

    client: object = None

    @contextmanager
    def stage(self, name: str):
        peaks: dict[str, float] = {}
        stop = threading.Event()

        def sample() -> None:
            while True:
                try:
                    for worker, rss in self.client.run(_worker_rss_mb).items():
                        peaks[worker] = max(peaks.get(worker, 0.0), rss)
                except Exception:  # noqa: BLE001 (a worker being replaced: the next sample sees it)
                    pass
                if stop.wait(0.5):
                    return

        sampler = threading.Thread(target=sample, daemon=True)
        outer_end = self.on_end
        cpu_before = _cpu_by_worker(self.client)

        def end(record: StageRecord) -> None:
            stop.set()
            sampler.join()
            cpu_after = _cpu_by_worker(self.client)
            cpu = {w: round(v - cpu_before.get(w, 0.0), 3) for w, v in cpu_after.items()}
            extended = ClusterStageRecord(record.name, record.seconds, record.peak_rss_mb, record.cpu_seconds,
                                          workers_peak_mb=dict(peaks), workers_cpu_s=cpu)
            self.records[-1] = extended
            log.debug("stage %s on the workers: peak %s MiB, cpu %s s", record.name,
                      " / ".join(f"{v:.0f}" for v in peaks.values()), " / ".join(f"{v:.1f}" for v in cpu.values()))
            if outer_end:
                outer_end(extended)

        self.on_end = end
        sampler.start()
        try:
            with super().stage(name):
                yield
        finally:
            self.on_end = outer_end

    def as_metrics(self) -> dict[str, float]:
        out = super().as_metrics()
        for r in self.records:
            if getattr(r, "workers_peak_mb", None):
                out[f"peak_rss_workers_{r.name}_mb"] = round(max(r.workers_peak_mb.values()), 1)
        return out


# ---- on the workers ---------------------------------------------------------------------------------
@dataclass
class _Validation:
    """One shard's validation lines: outcomes, predictions, baselines (kept on its worker)."""

    outcome: np.ndarray
    p_return: np.ndarray
    p_reasons: np.ndarray
    product_rate: np.ndarray
    cold: np.ndarray
    truth_p: np.ndarray | None
    ordered_ns: np.ndarray
    rows: np.ndarray


def _masks(frame: ShardFrame, split_s: dict) -> dict[str, np.ndarray]:
    t = frame.t
    window, cal, vs, as_of = split_s["window"], split_s["cal"], split_s["vs"], split_s["as_of"]
    return {
        "fit": (t < vs - window - cal) & (frame.outcome_validation >= 0),
        "calibration": (t >= vs - window - cal) & (t < vs - window) & (frame.outcome_validation >= 0),
        "validation": (t >= vs) & (t < as_of - window) & (frame.outcome >= 0),
    }


def _counts(frame: ShardFrame, split_s: dict) -> dict[str, int]:
    masks = _masks(frame, split_s)
    fit_cal = masks["fit"] | masks["calibration"]
    return {**{k: int(v.sum()) for k, v in masks.items()},
            "immature": int((frame.outcome < 0).sum()),
            "returned_fit_cal": int((frame.outcome_validation[fit_cal] > 0).sum()),
            "trained_through_ns": int(frame.ordered_ns[fit_cal].max()) if fit_cal.any() else None}


def _validate_shard(frame: ShardFrame, model: ReturnRiskModel, split_s: dict, first_sale: np.ndarray,
                    data: str | None) -> _Validation:
    val = _masks(frame, split_s)["validation"]
    X = frame.X[val]
    prediction = model.predict(X, num_threads=1)
    product = np.maximum(frame.product[val], 0)
    truth = _truth_p(data, pd.Series(frame.line_id[val])) if data is not None else None
    return _Validation(frame.outcome[val], prediction.p_return, prediction.p_reasons,
                       X[:, FEATURE_INDEX["product_rate"]].astype(float), first_sale[product] >= split_s["vs"],
                       truth, frame.ordered_ns[val], np.flatnonzero(val))


def _scored(v: _Validation, what: str, group: int = -1, subset: np.ndarray | None = None) -> Scored:
    y = (v.outcome > 0).astype(int)
    if what == "p_return":
        out = Scored(y, v.p_return)
    elif what == "reason":
        out = Scored((v.outcome == group + 1).astype(int), v.p_reasons[:, group])
    elif what == "cold":
        out = Scored(y[v.cold], v.p_return[v.cold])
    elif what == "product_rate":
        out = Scored(y, v.product_rate)
    elif what == "truth":
        out = Scored(y, v.truth_p)
    else:   # a constant: the global-rate baseline
        out = Scored(y, np.full(y.size, float(what)))
    return out


def _scored_subset(v: _Validation, p: np.ndarray, unseen: np.ndarray) -> Scored:
    return Scored((v.outcome[unseen] > 0).astype(int), p)


def _champion_scores(frame: ShardFrame, v: _Validation, model: ReturnRiskModel, seen_until_ns: int | None):
    unseen = np.ones(v.outcome.size, dtype=bool) if seen_until_ns is None else v.ordered_ns > seen_until_ns
    p_old = model.predict(frame.X[v.rows[unseen]], num_threads=1).p_return if unseen.any() else np.empty(0)
    return (_scored_subset(v, v.p_return[unseen], unseen), _scored_subset(v, p_old, unseen),
            int(unseen.sum()), int((v.outcome[unseen] > 0).sum()))


def _figure_sample(frame: ShardFrame, v: _Validation, share: float, shap_share: float, seed: int):
    rng = np.random.default_rng([seed, frame.shard])
    n = v.outcome.size
    pick = np.sort(rng.choice(n, min(n, int(np.ceil(share * n))), replace=False)) if n else np.empty(0, int)
    shap = np.sort(rng.choice(n, min(n, int(np.ceil(shap_share * n))), replace=False)) if n else np.empty(0, int)
    return ((v.outcome[pick] > 0).astype(int), v.p_return[pick], v.product_rate[pick], frame.X[v.rows[shap]])


# ---- the run ----------------------------------------------------------------------------------------
def _fingerprint(client, shop) -> dict[str, object]:
    """Row counts, date range and a SHA-256 over the parts' own SHA-256 (each computed by a worker)."""
    import hashlib

    labelled = [p for name in ("products", "order_lines", "returns") for p in shop.parts[name]]
    digests = client.gather(client.map(part_digest, labelled))
    combined = hashlib.sha256("".join(f"{p.label}:{d}\n" for p, d in zip(labelled, digests)).encode()).hexdigest()
    return {
        "input_sha256": combined,
        "rows_products": len(shop.products),
        "rows_order_lines": shop.tables["order_lines"].rows_kept,
        "rows_returns": shop.n_returns,
        "rows_quarantined": sum(t.rows_quarantined for t in shop.tables.values()),
        "first_order": shop.first_order.isoformat(),
        "last_order": shop.last_order.isoformat(),
        "parts_order_lines": len(shop.parts["order_lines"]),
        "parts_returns": len(shop.parts["returns"]),
    }


def _metrics(client, vals: list, global_rate: float, with_truth: bool) -> dict[str, float]:
    """:func:`~returnrisk.model.evaluation.evaluate_predictions` computed over partitions."""
    def parts(what, *args):
        return [client.submit(_scored, v, what, *args) for v in vals]

    model, constant, product = distributed_probability_metrics_many(
        client, [parts("p_return"), parts(repr(global_rate)), parts("product_rate")])
    metrics = {f"val_{k}": v for k, v in model.items()}
    sizes = client.gather([client.submit(_sizes, v) for v in vals])
    n = sum(s[0] for s in sizes)
    metrics["val_rows"] = float(n)
    metrics["val_return_rate"] = sum(s[1] for s in sizes) / n if n else float("nan")
    metrics["val_mean_predicted"] = sum(s[2] for s in sizes) / n if n else float("nan")
    groups = [parts("reason", g) for g in range(len(RETURN_GROUPS))] + [parts("cold")]
    if with_truth:
        groups.append(parts("truth"))
    aucs = exact_aucs(client, groups)
    for g, group in enumerate(RETURN_GROUPS):
        metrics[f"val_auc_{group}"] = aucs[g]
    metrics["val_auc_cold_start"] = aucs[len(RETURN_GROUPS)]
    metrics["val_cold_start_rows"] = float(sum(s[3] for s in sizes))
    for name, values in (("global_rate", constant), ("product_rate", product)):
        for k, v in values.items():
            metrics[f"baseline_{name}_{k}"] = v
    if with_truth:
        ceiling = aucs[-1]
        metrics["ceiling_auc"] = ceiling
        metrics["ceiling_share"] = metrics["val_auc"] / ceiling
        metrics["ceiling_share_above_chance"] = (metrics["val_auc"] - 0.5) / (ceiling - 0.5)
    return metrics


def _sizes(v: _Validation) -> tuple[int, int, float, int]:
    return v.outcome.size, int((v.outcome > 0).sum()), float(v.p_return.sum()), int(v.cold.sum())


def _compare_with_champion(client, tracker: Tracker, champion, frames, vals, params: TrainParams) -> Decision:
    """The champion gate of the single-process path, with both models scored where the lines lie."""
    bundle, decision = comparable_champion(tracker, champion)
    if decision is not None:
        return decision
    seen_until = bundle.model.info.get("trained_through")
    seen_ns = pd.Timestamp(seen_until).value if seen_until else None
    old = hold(client, bundle.model, "champion-model")
    scored = [client.submit(_champion_scores, f, v, old, seen_ns) for f, v in zip(frames, vals)]
    counts = client.gather([client.submit(lambda s: (s[2], s[3]), s) for s in scored])
    unseen, returned = sum(c[0] for c in counts), sum(c[1] for c in counts)
    decision = too_few_new_rows(champion, unseen, returned, params)
    if decision is not None:
        return decision
    new, old_m = distributed_probability_metrics_many(client, [[client.submit(operator.getitem, s, i) for s in scored]
                                                                for i in (0, 1)])
    return verdict(champion, unseen, new, old_m, params)


def _fit_at(client, frames, split, end: pd.Timestamp, validation_phase: bool, params: TrainParams,
            trained_through_ns: int | None) -> ReturnRiskModel:
    end_s = int(epoch_seconds(end, whole=True))
    fit = Slice("fit", end_s, params.window_days, params.calibration_days, validation_phase)
    cal = Slice("calibration", end_s, params.window_days, params.calibration_days, validation_phase)
    model = fit_on_cluster(client, frames, fit, cal, params.model)
    model.info.update({
        "trained_at": pd.Timestamp.now(tz="UTC").isoformat(),
        "trained_through": pd.Timestamp(trained_through_ns, tz="UTC").isoformat() if trained_through_ns else None,
    })
    return model


def run_cluster_training(data: str, *, client, params: TrainParams, tracker: Tracker,
                         as_of: pd.Timestamp | None = None, quarantine_dir=None, reason_filler: bool = True,
                         clock: StageClock | None = None, shards: int | None = None) -> TrainResult:
    """The whole pipeline on the cluster behind ``client`` (see the module docstring)."""
    clock = clock or ClusterStageClock(client=client)
    data = str(data)
    with clock.stage("load"):
        read = read_partitioned(client, data, quarantine_dir=quarantine_dir, shards=shards)
    with clock.stage("validate"):
        shop = validate_partitioned(client, read, reason_filler=reason_filler)
        del read
        inputs = _fingerprint(client, shop)
    as_of = default_as_of(shop.last_events()) if as_of is None else to_utc(as_of)
    if as_of <= shop.first_order:
        raise InputError(f"--as-of {as_of.isoformat()} is before the first order "
                         f"({shop.first_order.isoformat()}): nothing to learn from")
    split = time_split(as_of, params)

    with clock.stage("features"):
        features = build_cluster_features(client, shop, as_of, split.validation_start, window_days=params.window_days,
                                          smoothing=params.smoothing)
        frames = features.frames
        del shop
    split_s = {"window": params.window_days * DAY, "cal": params.calibration_days * DAY,
               "vs": int(epoch_seconds(split.validation_start, whole=True)), "as_of": int(epoch_seconds(as_of, whole=True))}
    counts = client.gather([client.submit(_counts, f, split_s) for f in frames])
    totals = {k: sum(c[k] for c in counts) for k in ("fit", "calibration", "validation", "immature", "returned_fit_cal")}
    _check_sizes(SimpleNamespace(lines=pd.DataFrame({"ordered_at": [inputs["first_order"], inputs["last_order"]]})
                                 .astype("datetime64[ns, UTC]")), split,
                 {k: np.array([totals[k]]) for k in ("fit", "calibration", "validation")})

    with clock.stage("fit"):
        through_vs = max((c["trained_through_ns"] for c in counts if c["trained_through_ns"] is not None), default=None)
        validation_model = _fit_at(client, frames, split, split.validation_start, True, params, through_vs)
        if params.refit:
            refit_counts = client.gather([client.submit(_refit_through, f, split_s) for f in frames])
            through = max((c for c in refit_counts if c is not None), default=None)
            served = _fit_at(client, frames, split, as_of, False, params, through)
        else:
            served = validation_model

    with clock.stage("evaluate"):
        model_f = hold(client, validation_model, "validation-model")
        first_sale = hold(client, features.first_sale, "first-sale")
        truth = data if _has_truth(data) else None
        vals = [client.submit(_validate_shard, f, model_f, split_s, first_sale, truth) for f in frames]
        with_truth = truth is not None and all(client.gather([client.submit(lambda v: v.truth_p is not None, v)
                                                               for v in vals]))
        global_rate = totals["returned_fit_cal"] / max(totals["fit"] + totals["calibration"], 1)
        metrics = _metrics(client, vals, global_rate, with_truth)
        metrics.update({
            "train_rows": float(totals["fit"]), "calibration_rows": float(totals["calibration"]),
            "immature_rows": float(totals["immature"]),
            "return_rounds": float(validation_model.info["return_rounds"]),
            "reason_rounds": float(validation_model.info["reason_rounds"]),
        })
        figures = _figures(client, frames, vals, validation_model, totals["validation"], params.model.seed)
        champion = tracker.champion()
        promote, decision, comparison = _compare_with_champion(client, tracker, champion, frames, vals, params)
        del vals

    with clock.stage("snapshot"):
        bundle = ServingBundle(served, features.snapshot,
                               bundle_meta(data, as_of, inputs, split, metrics, params))
    del frames, features
    return register_and_promote(tracker, bundle, data_label=data, params=params, inputs=inputs, metrics=metrics,
                                comparison=comparison, figures=figures, decision=decision, promote=promote,
                                champion=champion, as_of=as_of, clock=clock,
                                rows={"immature_rows": int(totals["immature"])})


def _refit_through(frame: ShardFrame, split_s: dict) -> int | None:
    t = frame.t
    end = split_s["as_of"] - split_s["window"]
    rows = (t < end) & (frame.outcome >= 0)
    return int(frame.ordered_ns[rows].max()) if rows.any() else None


def _has_truth(data: str) -> bool:
    from pathlib import Path

    return "://" not in data and (Path(data) / "truth" / "lines.parquet").is_file()


def _figures(client, frames, vals, model: ReturnRiskModel, n_validation: int, seed: int) -> dict:
    from returnrisk.pipeline.plots import calibration_figure, shap_summary_figure

    share = min(1.0, _FIGURE_ROWS / max(n_validation, 1))
    shap_share = min(1.0, _SHAP_ROWS / max(n_validation, 1))
    samples = client.gather([client.submit(_figure_sample, f, v, share, shap_share, seed) for f, v in zip(frames, vals)])
    y = np.concatenate([s[0] for s in samples])
    p = np.concatenate([s[1] for s in samples])
    rate = np.concatenate([s[2] for s in samples])
    X = np.vstack([s[3] for s in samples])
    return {
        "calibration.png": calibration_figure(y, p, rate),
        "shap_summary.png": shap_summary_figure(model.explain(X).return_contrib, X),
    }
