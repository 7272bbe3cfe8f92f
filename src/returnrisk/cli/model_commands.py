"""``returnrisk train``, ``predict``, ``promote`` and ``models``."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from returnrisk.cli import app
from returnrisk.cli.console import console, err_console, print_json_line
from returnrisk.config import DEFAULT_MODEL_URI

TRACKING_HELP = "MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///mlruns/mlflow.db)."
MODEL_HELP = f"Model URI (default {DEFAULT_MODEL_URI})."
STAGE_NAMES = {
    "load": "loading files", "validate": "validating and cleaning", "features": "point-in-time features",
    "fit": "fitting LightGBM (validation model, then refit)", "evaluate": "evaluating on the future",
    "snapshot": "building the serving snapshot", "log": "logging to MLflow and registering",
}


def tracker_for(tracking_uri: str | None):
    from returnrisk.tracking import Tracker

    return Tracker(tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or None)


def _timestamp(value: str | None, option: str):
    if value is None or not value.strip():
        return None
    from returnrisk.errors import InputError
    from returnrisk.timeutil import to_utc

    try:
        return to_utc(value)
    except ValueError:
        raise InputError(f"{option} {value!r} is not a timestamp: use ISO 8601, e.g. 2026-06-01") from None


@app.command("train")
def train(
    data: str = typer.Option(..., "--data", help="Shop history folder (see docs/data-contract.md); with --cluster "
                             "also any fsspec URL the workers can read, e.g. s3://bucket/shop."),
    as_of: str = typer.Option(None, "--as-of", help="Train as if today were this time: later data is ignored."),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help=TRACKING_HELP),
    params_file: str = typer.Option(None, "--params", help="YAML file overriding training parameters (default: "
                                    "none — the packaged returnrisk/pipeline/params.yaml, which lists every key; "
                                    "an empty value means the same)."),
    quarantine: Path = typer.Option(None, "--quarantine", help="Folder for rejected rows."),
    as_json: bool = typer.Option(False, "--json", help="End with one JSON line: run_id, model_version, promoted, metrics."),
    cluster: str = typer.Option(None, "--cluster", help="Train on Dask: local (one worker per core), local:N or "
                                "tcp://HOST:PORT (default: $RETURNRISK_DASK_SCHEDULER; none: one process)."),
    worker_memory: str = typer.Option(None, "--worker-memory", help="With --cluster local[:N]: memory limit of "
                                      "each worker process, e.g. 4GiB (Dask spills to disk past 60 % of it and "
                                      "restarts a worker past 95 %; default: the machine's memory shared equally)."),
    shards: int = typer.Option(None, "--shards", min=1, help="With --cluster: hash shards of the lines, customers "
                               "and products (default: twice the workers' threads); more shards, smaller tasks "
                               "(keep 1–2M lines per shard)."),
) -> None:
    """Train, evaluate on the future, log to MLflow, register, and promote if not worse."""
    cluster = cluster or os.environ.get("RETURNRISK_DASK_SCHEDULER") or None
    if (worker_memory or shards) and not cluster:
        from returnrisk.errors import InputError

        option, where = ((f"--worker-memory {worker_memory}", "--cluster local[:N]") if worker_memory
                         else (f"--shards {shards}", "--cluster local[:N] or tcp://HOST:PORT"))
        raise InputError(f"{option} applies to the workers of {where}; add --cluster local:2 (or drop "
                         f"{option.split()[0]} to train in one process)")
    from returnrisk.pipeline.params import load_params
    from returnrisk.pipeline.stages import StageClock
    from returnrisk.pipeline.train import run_training
    from returnrisk.reasons.fill import default_reason_filler

    params = load_params(params_file)
    when = _timestamp(as_of, "--as-of")
    tracker = tracker_for(tracking_uri)
    out = err_console if as_json else console
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=out,
                  transient=False) as progress:
        tasks: dict[str, int] = {}

        def start(name: str) -> None:
            tasks[name] = progress.add_task(STAGE_NAMES.get(name, name), total=None)

        def end(record) -> None:
            workers = getattr(record, "workers_peak_mb", None)
            on_workers = f", workers {' / '.join(f'{v:,.0f}' for v in workers.values())} MiB" if workers else ""
            progress.update(tasks[record.name], total=1, completed=1,
                            description=f"{STAGE_NAMES.get(record.name, record.name)} "
                                        f"[dim]({record.seconds:.1f} s, peak {record.peak_rss_mb:,.0f} MiB{on_workers})[/]")

        if cluster:
            from returnrisk.cli.cluster_train import train_on_cluster

            result = train_on_cluster(data, cluster, out=out, params=params, tracker=tracker, as_of=when,
                                      quarantine=quarantine, start=start, end=end, json_mode=as_json,
                                      worker_memory=worker_memory, shards=shards)
        else:
            result = run_training(Path(data), params=params, tracker=tracker, as_of=when, quarantine_dir=quarantine,
                                  reason_filler=default_reason_filler(), clock=StageClock(start, end))
    m = result.metrics
    table = Table(title=f"validation on the future (as-of {result.as_of:%Y-%m-%d %H:%M})", title_justify="left")
    table.add_column("metric")
    table.add_column("model", justify="right")
    table.add_column("product-rate baseline", justify="right")
    table.add_column("global-rate baseline", justify="right")
    for key in ("auc", "log_loss", "brier", "ece"):
        table.add_row(key, f"{m[f'val_{key}']:.4f}", f"{m[f'baseline_product_rate_{key}']:.4f}",
                      f"{m[f'baseline_global_rate_{key}']:.4f}")
    out.print(table)
    from returnrisk.taxonomy import RETURN_GROUPS

    out.print("per-reason AUC: " + ", ".join(f"{g} {m[f'val_auc_{g}']:.3f}" for g in RETURN_GROUPS))
    out.print(f"cold-start products AUC {m['val_auc_cold_start']:.3f} on {int(m['val_cold_start_rows']):,} lines · "
              f"{int(m['val_rows']):,} validation lines · {int(m['immature_rows']):,} immature lines left out")
    if "ceiling_auc" in m:
        out.print(f"ground-truth ceiling AUC {m['ceiling_auc']:.4f}: the model reaches {m['ceiling_share']:.1%} "
                  f"of it ({m['ceiling_share_above_chance']:.1%} of the ceiling's lift above chance)")
    out.print(f"run {result.run_id} · model returnrisk version {result.model_version} · {result.decision}")
    out.print(f"look: mlflow ui --backend-store-uri {tracker.tracking_uri}")
    if as_json:
        print_json_line(result.to_json())


@app.command("predict")
def predict(
    data: Path = typer.Option(None, "--data", help="Shop history folder (only to resolve relative inputs; the "
                              "model's own snapshot is used for features)."),
    input_file: Path = typer.Option(..., "--input", help="Order lines to score (CSV or Parquet, order_lines columns)."),
    output: Path = typer.Option(..., "--output", help="Where to write the scores (.csv or .parquet)."),
    model: str = typer.Option(DEFAULT_MODEL_URI, "--model", help=MODEL_HELP),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help=TRACKING_HELP),
) -> None:
    """Score new order lines with a registered model and its feature snapshot."""
    from returnrisk.io_files import read_table, write_table
    from returnrisk.scoring.batch import prepare_scoring_lines, score_frame

    lines = prepare_scoring_lines(read_table(input_file, required=("product_id",)), input_file.name)
    bundle, ref = tracker_for(tracking_uri).load_bundle(model)
    scores = score_frame(bundle, lines)
    write_table(scores, output)
    console.print(f"scored {len(scores):,} lines with returnrisk v{ref.version or '?'} → {output}")


@app.command("promote")
def promote(
    version: int = typer.Option(..., "--version", help="Registered version to give the alias to."),
    alias: str = typer.Option("champion", "--alias", help="champion (serve it) or challenger."),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help=TRACKING_HELP),
) -> None:
    """Give the ``champion`` (default) or ``challenger`` alias to a registered version (overrides the
    automatic decision)."""
    from returnrisk.errors import InputError
    from returnrisk.tracking import ALIASES

    if alias not in ALIASES:
        raise InputError(f"--alias {alias!r} is not supported: use {' or '.join(ALIASES)}")
    tracker = tracker_for(tracking_uri)
    before = tracker.aliased(alias)
    ref = tracker.set_alias(version, alias)
    tracker.set_version_tag(str(version), "promotion", f"{alias} by hand with returnrisk promote")
    console.print(f"{alias}: returnrisk v{ref.version} (was {('v' + before.version) if before else 'none'})")


@app.command("models")
def models(
    tracking_uri: str = typer.Option(None, "--tracking-uri", help=TRACKING_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON line: every version with its figures."),
) -> None:
    """Registered versions, newest first: aliases, as-of date, validation metrics, promotion decision."""
    import math

    tracker = tracker_for(tracking_uri)
    versions = tracker.model_versions()
    rows = []
    for v in versions:
        m = v["metrics"]
        pick = {k: m.get(k) for k in ("val_auc", "val_log_loss", "val_ece", "val_rows", "monitor_auc", "monitor_ece",
                                      "monitor_verdict_level", "retrain_challenger_auc", "retrain_champion_auc")
                if m.get(k) is not None and not math.isnan(m[k])}
        rows.append({"version": v["version"], "aliases": v["aliases"], "as_of": v["as_of"], "run_id": v["run_id"],
                     "run_name": v["run_name"], "created": v["created"], "metrics": pick,
                     "decision": v["tags"].get("promotion")})
    if as_json:
        print_json_line({"tracking_uri": tracker.tracking_uri, "versions": rows})
        return
    if not rows:
        console.print(f"no registered model in {tracker.tracking_uri}: run `returnrisk train --data DIR` first")
        return
    table = Table(title=f"returnrisk models ({tracker.tracking_uri})", title_justify="left")
    for column in ("version", "aliases", "as-of", "val AUC", "val ECE", "decision"):
        table.add_column(column, justify="right" if column in ("version", "val AUC", "val ECE") else "left",
                         overflow="fold")
    for r in rows:
        auc, ece = r["metrics"].get("val_auc"), r["metrics"].get("val_ece")
        table.add_row(r["version"], ", ".join(r["aliases"]) or "–", (r["as_of"] or "–")[:16],
                      f"{auc:.4f}" if auc is not None else "–", f"{ece:.4f}" if ece is not None else "–",
                      r["decision"] or "–")
    console.print(table)
