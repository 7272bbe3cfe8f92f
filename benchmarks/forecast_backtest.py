"""Backtest of the returns forecast on the demo shop: forecast from cut-offs, compare with what arrived.

Run from the repository root::

    .venv/bin/python benchmarks/forecast_backtest.py        # 200,000-line demo, 6 cut-offs
    .venv/bin/python benchmarks/forecast_backtest.py --cutoffs 2026-06-01 2026-09-01 --json

For every cut-off ``T`` it

1. trains a model with ``as_of=T`` (the model never sees anything after ``T``) — or reuses one
   already registered in ``--work`` for the same ``T`` and the same data;
2. forecasts the returns arriving in the ``--days`` (14) days from ``T`` with
   :func:`returnrisk.operations.forecast.forecast_returns` — exactly what
   ``returnrisk forecast --model models:/returnrisk/N --data DATA --as-of T --json`` prints;
3. counts the returns that actually arrived each day (from the full history) and scores the
   forecast: MAPE of the daily counts (target ≤ 15 %), absolute percentage error of the 14-day
   total (target ≤ 5 %), share of days inside the 90 % interval, against the naive baseline
   (the average daily arrivals of the 14 days before ``T``, repeated), and against the same forecast
   without last year's order pattern (``seasonal=False``: the orders not placed yet follow the
   recent rate and weekday pattern only).

The demo shop is generated in ``--work/demo`` if ``--data`` is not given (seed 7, the
``make demo`` shop). Training takes a few minutes per cut-off on two cores; models are kept in
``--work/mlruns`` so a second run only forecasts.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

from returnrisk.data.loader import load_shop
from returnrisk.operations.backtest import actual_daily_returns, naive_daily_forecast, score_backtest
from returnrisk.operations.forecast import forecast_returns
from returnrisk.reasons.fill import default_reason_filler
from returnrisk.timeutil import to_utc

#: Cut-offs across the demo's second year (September, the January sales, spring, June, the last
#: September) and the week before Black Friday — a volume spike the recent order rate cannot
#: know about, reported like the others.
DEFAULT_CUTOFFS = ("2025-09-01", "2025-11-17", "2026-01-12", "2026-03-16", "2026-06-01", "2026-09-01")

log = logging.getLogger("forecast_backtest")


def model_for(tracker, data: Path, as_of: pd.Timestamp, params) -> tuple[str, float]:
    """The registered version trained on ``data`` as of ``as_of`` (trained now if there is none)."""
    from returnrisk.pipeline.train import run_training

    wanted = as_of.isoformat()
    for version in tracker.model_versions():
        run = tracker.client.get_run(version["run_id"]) if version.get("run_id") else None
        tags = run.data.tags if run else {}
        if tags.get("returnrisk.as_of") == wanted and tags.get("returnrisk.data") == str(data.resolve()):
            return version["version"], 0.0
    started = time.perf_counter()
    result = run_training(data, params=params, tracker=tracker, as_of=as_of, reason_filler=default_reason_filler())
    return result.model_version, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, help="Shop folder (default: the demo shop generated in --work/demo).")
    parser.add_argument("--work", type=Path, default=Path("test-output/forecast-backtest"),
                        help="Folder for the demo shop and the MLflow store of the backtest models.")
    parser.add_argument("--lines", type=int, default=200_000, help="Lines of the generated demo shop.")
    parser.add_argument("--seed", type=int, default=7, help="Seed of the generated demo shop.")
    parser.add_argument("--cutoffs", nargs="+", default=list(DEFAULT_CUTOFFS), help="Cut-offs (ISO dates).")
    parser.add_argument("--days", type=int, default=14, help="Days forecast from each cut-off.")
    parser.add_argument("--json", action="store_true", help="End with one JSON line holding every figure.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.INFO)

    from returnrisk.pipeline.params import load_params
    from returnrisk.tracking import Tracker

    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    data = args.data
    if data is None:
        data = work / "demo"
        if not (data / "truth" / "manifest.json").is_file():
            from returnrisk.demo.generator import generate_demo_shop

            log.info("generating the demo shop (%d lines, seed %d) in %s", args.lines, args.seed, data)
            generate_demo_shop(data, seed=args.seed, n_lines=args.lines)
    data = data.resolve()
    tracker = Tracker(f"sqlite:///{work / 'mlruns' / 'mlflow.db'}")
    params = load_params()
    shop = load_shop(data, quarantine_dir=work / "quarantine", reason_filler=default_reason_filler())

    rows, details = [], []
    for text in args.cutoffs:
        as_of = to_utc(text)
        version, train_seconds = model_for(tracker, data, as_of, params)
        bundle, _ = tracker.load_bundle(f"models:/returnrisk/{version}")
        started = time.perf_counter()
        forecast = forecast_returns(shop, bundle, as_of=as_of, days=args.days)
        seconds = time.perf_counter() - started
        score = score_backtest(shop, forecast)
        plain = score_backtest(shop, forecast_returns(shop, bundle, as_of=as_of, days=args.days,
                                                      seasonal=False))
        actual = actual_daily_returns(shop, as_of, args.days)
        naive = naive_daily_forecast(shop, as_of, args.days)
        rows.append({**score.to_dict(), "model_version": version, "train_seconds": round(train_seconds, 1),
                     "recent_rate_only_total_ape": round(plain.total_ape, 4),
                     "recent_rate_only_daily_mape": round(plain.daily_mape, 4),
                     "forecast_seconds": round(seconds, 2),
                     "command": f"returnrisk forecast --model models:/returnrisk/{version} --data {data} "
                                f"--as-of {text} --days {args.days} --tracking-uri {tracker.tracking_uri} --json"})
        details.append({"as_of": as_of.isoformat(), "dates": [f"{d.date:%Y-%m-%d}" for d in forecast.days],
                        "actual": actual.tolist(), "forecast": [round(d.expected, 1) for d in forecast.days],
                        "low": [round(d.low, 1) for d in forecast.days], "high": [round(d.high, 1) for d in forecast.days],
                        "naive": naive.round(1).tolist(), "components": {
                            "from_open_lines": round(forecast.details["from_open_lines"], 1),
                            "from_new_orders": round(forecast.details["from_new_orders"], 1)}})
        log.info("%s: daily MAPE %.1f %% (naive %.1f %%), 14-day total %.0f vs %.0f actual: error %.1f %% "
                 "(naive %.1f %%)", text, 100 * score.daily_mape, 100 * score.naive_daily_mape,
                 score.forecast_total, score.actual_total, 100 * score.total_ape, 100 * score.naive_total_ape)

    print(f"\nforecast backtest — {data} · {args.days} days from each cut-off · "
          f"{platform.python_version()} on {platform.machine()}\n")
    header = (f"{'cut-off':<11} {'actual':>7} {'forecast':>9} {'total err':>9} {'daily MAPE':>10} "
              f"{'in 90% int.':>11} {'naive total err':>15} {'naive MAPE':>10} {'no-yearly total':>15} "
              f"{'no-yearly MAPE':>14}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['as_of'][:10]:<11} {r['actual_total']:>7.0f} {r['forecast_total']:>9.1f} "
              f"{100 * r['total_ape']:>8.1f}% {100 * r['daily_mape']:>9.1f}% {100 * r['daily_coverage']:>10.0f}% "
              f"{100 * r['naive_total_ape']:>14.1f}% {100 * r['naive_daily_mape']:>9.1f}% "
              f"{100 * r['recent_rate_only_total_ape']:>14.1f}% {100 * r['recent_rate_only_daily_mape']:>13.1f}%")
    mean = {k: float(np.mean([r[k] for r in rows])) for k in (
        "daily_mape", "total_ape", "naive_daily_mape", "naive_total_ape", "daily_coverage",
        "recent_rate_only_total_ape", "recent_rate_only_daily_mape")}
    print("-" * len(header))
    print(f"{'mean':<11} {'':>7} {'':>9} {100 * mean['total_ape']:>8.1f}% {100 * mean['daily_mape']:>9.1f}% "
          f"{100 * mean['daily_coverage']:>10.0f}% {100 * mean['naive_total_ape']:>14.1f}% "
          f"{100 * mean['naive_daily_mape']:>9.1f}% {100 * mean['recent_rate_only_total_ape']:>14.1f}% "
          f"{100 * mean['recent_rate_only_daily_mape']:>13.1f}%")
    print(f"\ntargets: daily MAPE ≤ 15 %, 14-day total error ≤ 5 %. Totals inside their 90 % interval: "
          f"{sum(r['total_covered'] for r in rows)}/{len(rows)}.")
    print("reproduce one cut-off: " + rows[0]["command"])
    if args.json:
        sys.stdout.write(json.dumps({"data": str(data), "days": args.days, "cutoffs": rows, "mean": mean,
                                     "series": details}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
