"""Benchmark `returnrisk train` end to end on 1M- and 10M-line demo shops.

    .venv/bin/python benchmarks/train_scale_benchmark.py [--lines 1000000 10000000] [--format parquet]

For each size: generate the shop (not timed), then run `returnrisk train --json` in a fresh
process with its own MLflow store, and print wall time and peak resident memory per stage
(load, validate, features, fit, evaluate, snapshot, log) plus the whole process's peak.
Targets (issue 3) for 10M lines on this 2-core machine: ≤ 10 minutes, ≤ 8 GB peak, and the
stages around the fit together no longer than the LightGBM fit itself.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _measure import machine, measure  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--format", default="parquet", choices=["csv", "parquet"])
    parser.add_argument("--keep", action="store_true", help="keep the generated shops and stores")
    args = parser.parse_args()
    exe = str(Path(sys.executable).with_name("returnrisk"))
    print(f"machine: {machine()}")
    for n in args.lines:
        work = Path(tempfile.mkdtemp(prefix="rr-train-bench-"))
        try:
            subprocess.run([exe, "demo-data", "--out", str(work / "shop"), "--lines", str(n),
                            "--format", args.format], check=True, capture_output=True)
            r = measure([exe, "train", "--data", str(work / "shop"), "--json",
                         "--tracking-uri", f"sqlite:///{work}/mlruns/mlflow.db"], cwd=str(work))
            if r["code"] != 0:
                print(f"{n:,} lines: FAILED\n{r['stderr'][-2000:]}")
                continue
            result = json.loads(r["stdout"].strip().splitlines()[-1])
            stages = {s["name"]: s for s in result["stages"]}
            fit = stages["fit"]["seconds"]
            around = sum(s["seconds"] for name, s in stages.items() if name != "fit")
            print(f"\n{n:,} lines ({args.format}): total {r['wall']:.0f} s, peak RSS {r['peak_mb']:,.0f} MiB ({r['peak_mb'] / 1024:.2f} GiB), "
                  f"val AUC {result['metrics']['val_auc']:.4f}")
            print(f"{'stage':>10} {'seconds':>8} {'peak MiB':>9}")
            for name, s in stages.items():
                print(f"{name:>10} {s['seconds']:>8.1f} {s['peak_rss_mb']:>9,}")
            print(f"stages around the fit: {around:.0f} s vs fit {fit:.0f} s "
                  f"({'≤' if around <= fit else '>'} fit); rounds: return {result['metrics']['return_rounds']:.0f}, "
                  f"reason {result['metrics']['reason_rounds']:.0f}; fit-slice lines {result['metrics']['train_rows']:,.0f} "
                  f"(fitted on at most max_fit_rows of them)")
        finally:
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
