"""`returnrisk monitor` on the `make demo` shop, with and without the planted drift.

    .venv/bin/python benchmarks/monitor_demo.py [--lines 200000] [--seed 7] [--work DIR]

For each shop — the default one, and the same seed with `demo-data --plant-drift` (jeans get a
quality problem 90 days before the end) — the real commands a data scientist runs:
`returnrisk train --as-of <drift start>` (its own MLflow store), then `returnrisk monitor --json`
on the lines ordered since. Prints per shop: the verdict and its reasons, lines since the as-of
date and matured lines, AUC now vs validation, ECE vs what chance alone gives, the largest judged
feature PSI (and the largest ignored one), prediction PSI, unknown shares; and each command's wall
time and peak memory (the machine's load is printed: time figures depend on it, verdicts do not).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _measure import machine, measure  # noqa: E402

CLI = [str(Path(sys.executable).with_name("returnrisk"))]


def run(command: list[str], env: dict) -> tuple[dict | None, float, float]:
    """(last JSON line of stdout or None, wall seconds, peak RSS MiB) of one command."""
    os.environ.update(env)
    result = measure(command)
    if result["code"] != 0:
        raise SystemExit(f"{' '.join(command)} failed ({result['code']}):\n{result['stderr'][-3000:]}")
    lines = result["stdout"].strip().splitlines()
    payload = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else None
    return payload, result["wall"], result["peak_mb"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work", type=Path, default=None, help="keep the shops and stores here")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="rr-monitor-demo-"))
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
    print(f"machine: {machine()}")
    planted = work / "planted"
    if not (planted / "truth" / "drift.json").is_file():
        run([*CLI, "demo-data", "--out", str(planted), "--seed", str(args.seed), "--lines", str(args.lines),
             "--plant-drift"], env)
    drift = json.loads((planted / "truth" / "drift.json").read_text())
    plain = work / "plain"
    if not (plain / "truth" / "manifest.json").is_file():
        run([*CLI, "demo-data", "--out", str(plain), "--seed", str(args.seed), "--lines", str(args.lines)], env)
    as_of = drift["start"][:10]
    print(f"shops: seed {args.seed}, {args.lines:,} lines; planted drift: {drift['category']} from {as_of} "
          f"({drift['drifted_lines']:,} lines, true return rate {drift['true_rate_without_drift']:.1%} → "
          f"{drift['true_rate_with_drift']:.1%}); models trained --as-of {as_of}")
    for name, folder in (("default shop", plain), ("planted drift", planted)):
        store = f"sqlite:///{work}/mlruns-{folder.name}/mlflow.db"
        trained, train_s, train_mb = run([*CLI, "train", "--data", str(folder), "--as-of", as_of,
                                          "--tracking-uri", store, "--json"], env)
        report, monitor_s, monitor_mb = run([*CLI, "monitor", "--data", str(folder), "--tracking-uri", store,
                                             "--out", str(work / f"report-{folder.name}"), "--json"], env)
        perf, period = report["performance"], report["period"]
        judged = [f for f in report["feature_drift"] if not f["ignored"]]
        ignored = [f for f in report["feature_drift"] if f["ignored"]]
        top = max(judged, key=lambda f: f["psi"])
        top_ignored = max(ignored, key=lambda f: f["psi"]) if ignored else None
        print(f"\n{name}: verdict {report['verdict']}")
        for reason in report["reasons"]:
            print(f"  · {reason}")
        print(f"  {period['lines']:,} lines since the as-of date, {period['matured_lines']:,} matured")
        print(f"  AUC {perf['auc']:.4f} (validation {perf['validation_auc']:.4f}) · ECE {perf['ece']:.4f} "
              f"(chance alone up to {perf['ece_chance']:.4f}) · predicted {perf['mean_predicted_matured']:.3f} "
              f"vs observed {perf['observed_rate']:.3f}")
        print(f"  largest judged feature PSI {top['psi']:.3f} ({top['feature']})"
              + (f"; largest ignored {top_ignored['psi']:.2f} ({top_ignored['feature']})" if top_ignored else "")
              + f"; prediction PSI {report['prediction_drift']['psi']:.3f}")
        print("  unknown shares (now vs training): " + ", ".join(
            f"{kind} {u['share']:.1%} vs {u['reference']:.1%}" for kind, u in report["unknown"].items()))
        print(f"  train {train_s:.0f} s (peak {train_mb:,.0f} MiB) · monitor {monitor_s:.0f} s "
              f"(peak {monitor_mb:,.0f} MiB); model v{trained['model_version']}")
    if args.work is None:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
