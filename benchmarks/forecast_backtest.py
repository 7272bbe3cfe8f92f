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

``--shop realshop`` runs the same backtest on the shop of :mod:`returnrisk.demo.realshop` — unsized,
no return reasons, wholesale quantities, partial returns, postage lines, and returns registered
on weekdays only, never on French public holidays — generated in ``--work/realshop``
(``--lines`` merchandise lines, default 135,000 over two years from 2024-01-01), at cut-offs whose
14 days hold a public holiday (and one that does not). Each cut-off is also forecast without the return desk's
calendar (``weekday_arrivals=False``: no weekday pattern, no holiday closures) to show what the
calendar brings; the interval columns say how usable the 90 % intervals are (mean width relative
to the expected count, share of days inside, forecasts on closed days).
"""

from __future__ import annotations

import argparse
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
from returnrisk.strict_json import dumps as strict_dumps
from returnrisk.timeutil import to_utc

#: Cut-offs across the demo's second year (September, the January sales, spring, June, the last
#: September) and the week before Black Friday — a volume spike the recent order rate cannot
#: know about, reported like the others.
DEFAULT_CUTOFFS = ("2025-09-01", "2025-11-17", "2026-01-12", "2026-03-16", "2026-06-01", "2026-09-01")

#: Real-shop cut-offs (Mondays): Easter Monday, 8 May, 15 August, 11 November and Christmas fall in
#: their 14 days — each seen closed in 2024 — and 15 September is an ordinary fortnight.
REALSHOP_CUTOFFS = ("2025-04-14", "2025-05-05", "2025-08-11", "2025-09-15", "2025-11-03", "2025-12-15")

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


def _interval_figures(forecast, actual: np.ndarray, prefix: str) -> dict:
    """How usable the daily intervals are: relative width on open days, returns forecast on closed days."""
    expected = forecast.expected
    low = np.array([d.low for d in forecast.days])
    high = np.array([d.high for d in forecast.days])
    open_days = actual > 0
    width = (high - low)[open_days] / np.maximum(expected[open_days], 1e-9)
    return {f"{prefix}_relative_width": round(float(np.mean(width)) if width.size else float("nan"), 3),
            f"{prefix}_expected_on_closed_days": round(float(expected[~open_days].sum()), 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, help="Shop folder (default: the shop generated in --work/<shop>).")
    parser.add_argument("--shop", choices=("demo", "realshop"), default="demo",
                        help="Which generated shop to backtest when --data is not given (default demo).")
    parser.add_argument("--work", type=Path, default=Path("test-output/forecast-backtest"),
                        help="Folder for the demo shop and the MLflow store of the backtest models.")
    parser.add_argument("--lines", type=int, default=None,
                        help="Lines of the generated shop (default 200,000 for demo, 100,000 for realshop).")
    parser.add_argument("--seed", type=int, default=7, help="Seed of the generated demo shop.")
    parser.add_argument("--cutoffs", nargs="+", default=None, help="Cut-offs (ISO dates).")
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
    realshop = args.shop == "realshop"
    if args.cutoffs is None:
        args.cutoffs = list(REALSHOP_CUTOFFS if realshop else DEFAULT_CUTOFFS)
    if data is None and realshop:
        lines = args.lines or 135_000
        data = work / "realshop"
        if not (data / "truth" / "manifest.json").is_file():
            from returnrisk.demo.realshop import build_real_shop

            log.info("generating the real-shop fixture (%d lines, seed %d) in %s", lines, args.seed, data)
            build_real_shop(data, n_lines=lines, seed=args.seed, days=731, start="2024-01-01")
    elif data is None:
        lines = args.lines or 200_000
        data = work / "demo"
        if not (data / "truth" / "manifest.json").is_file():
            from returnrisk.demo.generator import generate_demo_shop

            log.info("generating the demo shop (%d lines, seed %d) in %s", lines, args.seed, data)
            generate_demo_shop(data, seed=args.seed, n_lines=lines)
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
        no_calendar_forecast = forecast_returns(shop, bundle, as_of=as_of, days=args.days, weekday_arrivals=False)
        no_calendar = score_backtest(shop, no_calendar_forecast)
        actual = actual_daily_returns(shop, as_of, args.days)
        naive = naive_daily_forecast(shop, as_of, args.days)
        rows.append({**score.to_dict(), **_interval_figures(forecast, actual, "interval"),
                     **_interval_figures(no_calendar_forecast, actual, "no_calendar_interval"),
                     "no_calendar_total_ape": round(no_calendar.total_ape, 4),
                     "no_calendar_daily_mape": round(no_calendar.daily_mape, 4),
                     "no_calendar_daily_coverage": round(no_calendar.daily_coverage, 3),
                     "holiday_closures": forecast.details.get("holiday_closures", []),
                     "closed_weekdays": forecast.details.get("closed_weekdays", []),
                     "model_version": version, "train_seconds": round(train_seconds, 1),
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
    if realshop or any(r["holiday_closures"] or r["closed_weekdays"] for r in rows):
        print("\nthe return desk's calendar (weekday pattern and holiday closures learnt from the history) "
              "against the same forecast without it:")
        header = (f"{'cut-off':<11} {'closures forecast':<24} {'daily MAPE':>10} {'no-cal.':>8} {'total err':>9} "
                  f"{'no-cal.':>8} {'in 90%':>7} {'no-cal.':>8} {'width/exp':>9} {'no-cal.':>8} "
                  f"{'exp. on closed days':>19} {'no-cal.':>8}")
        print(header)
        print("-" * len(header))
        for r in rows:
            closures = ",".join(d[5:] for d in r["holiday_closures"]) or "–"
            print(f"{r['as_of'][:10]:<11} {closures:<24} {100 * r['daily_mape']:>9.1f}% "
                  f"{100 * r['no_calendar_daily_mape']:>7.1f}% {100 * r['total_ape']:>8.1f}% "
                  f"{100 * r['no_calendar_total_ape']:>7.1f}% {100 * r['daily_coverage']:>6.0f}% "
                  f"{100 * r['no_calendar_daily_coverage']:>7.0f}% {r['interval_relative_width']:>9.2f} "
                  f"{r['no_calendar_interval_relative_width']:>8.2f} {r['interval_expected_on_closed_days']:>19.1f} "
                  f"{r['no_calendar_interval_expected_on_closed_days']:>8.1f}")
        for k in ("no_calendar_daily_mape", "no_calendar_total_ape", "no_calendar_daily_coverage",
                  "interval_relative_width", "no_calendar_interval_relative_width"):
            mean[k] = float(np.mean([r[k] for r in rows]))
        print(f"{'mean':<11} {'':<24} {100 * mean['daily_mape']:>9.1f}% {100 * mean['no_calendar_daily_mape']:>7.1f}% "
              f"{100 * mean['total_ape']:>8.1f}% {100 * mean['no_calendar_total_ape']:>7.1f}% "
              f"{100 * mean['daily_coverage']:>6.0f}% {100 * mean['no_calendar_daily_coverage']:>7.0f}% "
              f"{mean['interval_relative_width']:>9.2f} {mean['no_calendar_interval_relative_width']:>8.2f}")
        print("(daily MAPE over the days with returns; width/exp = mean (high − low) / expected over the open days; "
              "exp. on closed days = returns forecast on days nothing can be registered)")
    print("reproduce one cut-off: " + rows[0]["command"])
    if args.json:
        sys.stdout.write(strict_dumps({"data": str(data), "days": args.days, "cutoffs": rows, "mean": mean,
                                     "series": details}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
