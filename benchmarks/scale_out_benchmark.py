"""Benchmark ``returnrisk train --cluster`` (issue 20): time and memory per stage and per worker.

    # the per-partition costs (moderate sizes, minutes):
    .venv/bin/python benchmarks/scale_out_benchmark.py --lines 1000000 3000000 --parts 8
    # the big run (a quiet machine, ≈ 1–2 hours): ~30M lines on 2 workers with memory limits,
    # and the single-process figure for the same shop (or where it stops fitting)
    .venv/bin/python benchmarks/scale_out_benchmark.py --lines 30000000 --parts 60 --workers 2 \\
        --worker-memory 9GiB --single
    # prove the script works (seconds):
    .venv/bin/python benchmarks/scale_out_benchmark.py --lines 200000 --parts 4 --single

For each size: (1) ``returnrisk demo-data --parts`` writes the shop as Parquet parts (timed,
peak memory: the streamed generator's memory must stay flat); (2) a Dask scheduler and
``--workers`` worker processes (one thread each, ``--worker-memory`` limit each, spilling to
disk past Dask's thresholds) are started as separate processes, as on a real cluster, and
``returnrisk train --cluster tcp://… --json`` runs against them in a fresh process with its own
MLflow store; (3) with ``--single`` the same shop, joined into one file per table (streamed),
is trained by the single-process path, and its time and peak (or its failure) are printed.

Printed: per stage the wall time, the client's peak RSS and each worker's peak RSS; the whole
run; the costs per million lines per core (load + validate, features, fit per fitted line,
evaluate) — the figures docs/scale-out.md extrapolates to a billion lines; validation AUC.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _measure import machine, measure  # noqa: E402

BIN = Path(sys.executable).parent


def start_cluster(work: Path, workers: int, memory: str | None) -> tuple[list[subprocess.Popen], str]:
    """A scheduler and ``workers`` single-threaded worker processes (memory-limited), as separate processes."""
    scheduler_file = work / "scheduler.json"
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    logs = open(work / "dask.log", "w")
    procs = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--port", "0", "--dashboard-address", ":0",
                               "--scheduler-file", str(scheduler_file)], stdout=logs, stderr=logs, env=env)]
    deadline = time.monotonic() + 60
    while not scheduler_file.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the Dask scheduler did not start: see {work / 'dask.log'}")
        time.sleep(0.2)
    address = json.loads(scheduler_file.read_text())["address"]
    worker = [str(BIN / "dask"), "worker", "--scheduler-file", str(scheduler_file), "--nworkers", str(workers),
              "--nthreads", "1", "--dashboard-address", ":0", "--local-directory", str(work / "dask-spill")]
    if memory:
        worker += ["--memory-limit", memory]
    procs.append(subprocess.Popen(worker, stdout=logs, stderr=logs, env=env))
    from distributed import Client

    with Client(address, timeout="60s") as client:
        client.wait_for_workers(workers, timeout=120)
    return procs, address


def stop_cluster(procs: list[subprocess.Popen]) -> None:
    for proc in reversed(procs):
        proc.send_signal(signal.SIGINT)
    for proc in reversed(procs):
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def join_parts(shop: Path, target: Path) -> None:
    """The same shop with one Parquet file per table (streamed part by part: bounded memory)."""
    import pyarrow.parquet as pq

    target.mkdir(parents=True)
    shutil.copy(shop / "products.parquet", target / "products.parquet")
    for name in ("order_lines", "returns"):
        writer = None
        for part in sorted((shop / name).glob("*.parquet")):
            table = pq.read_table(part)
            writer = writer or pq.ParquetWriter(target / f"{name}.parquet", table.schema)
            writer.write_table(table)
        writer.close()
    (target / "truth").symlink_to(shop / "truth")


def report(title: str, r: dict, cores: int, lines: int) -> dict | None:
    if r["code"] != 0:
        tail = r["stderr"].strip().splitlines()[-3:]
        print(f"\n{title}: FAILED (exit {r['code']}, peak {r['peak_mb']:,.0f} MiB, {r['wall']:.0f} s)\n  "
              + "\n  ".join(tail))
        return None
    out_lines = r["stdout"].strip().splitlines()
    result = json.loads(out_lines[-1])
    if len(out_lines) != 1:
        print(f"WARNING: stdout held {len(out_lines)} lines, not the JSON line alone")
    stages = {s["name"]: s for s in result["stages"]}
    m = result["metrics"]
    print(f"\n{title}: total {r['wall']:.0f} s, client peak RSS {r['peak_mb']:,.0f} MiB, "
          f"val AUC {m['val_auc']:.4f}, ECE {m['val_ece']:.4f}, rounds {m['return_rounds']:.0f}/{m['reason_rounds']:.0f}")
    print(f"{'stage':>10} {'seconds':>8} {'client MiB':>11}  workers' peak MiB")
    worker_peak: dict[str, int] = {}
    for name, s in stages.items():
        workers = s.get("workers_peak_mb", {})
        for w, v in workers.items():
            worker_peak[w] = max(worker_peak.get(w, 0), v)
        print(f"{name:>10} {s['seconds']:>8.1f} {s['peak_rss_mb']:>11,}  " + " / ".join(f"{v:,}" for v in workers.values()))
    if worker_peak:
        print(f"whole run, peak per worker: " + " / ".join(f"{v:,} MiB" for v in worker_peak.values()))
    per_m = lines / 1e6
    fitted = min(m["train_rows"], 2_000_000) * 2   # validation model + refit, each at most max_fit_rows
    costs = {
        "load_validate": (stages["load"]["seconds"] + stages["validate"]["seconds"]) * cores / per_m,
        "features": stages["features"]["seconds"] * cores / per_m,
        "fit_per_fitted": stages["fit"]["seconds"] * cores / (fitted / 1e6),
        "evaluate": stages["evaluate"]["seconds"] * cores / per_m,
    }
    print("core-seconds per million lines: load+validate {load_validate:.1f}, features {features:.1f}, "
          "evaluate {evaluate:.1f}; fit {fit_per_fitted:.1f} per million fitted lines".format(**costs))
    return {"stages": stages, "worker_peak": worker_peak, "costs": costs, "wall": r["wall"], "peak": r["peak_mb"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--parts", type=int, default=8, help="Parquet parts per table")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-memory", default=None, help="per worker, e.g. 9GiB (default: Dask's share)")
    parser.add_argument("--single", action="store_true", help="also train the same shop in one process")
    parser.add_argument("--params", default=None, help="training parameters (default training/params.yaml)")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    exe = str(BIN / "returnrisk")
    print(f"machine: {machine()}; workers {args.workers} × 1 thread, memory limit {args.worker_memory or 'Dask default'}")
    extra = ["--params", args.params] if args.params else []
    for n in args.lines:
        work = Path(tempfile.mkdtemp(prefix="rr-scale-out-"))
        try:
            g = measure([exe, "demo-data", "--out", str(work / "shop"), "--lines", str(n), "--parts", str(args.parts)])
            if g["code"] != 0:
                print(f"{n:,} lines: generation FAILED\n{g['stderr'][-2000:]}")
                continue
            size = sum(f.stat().st_size for f in (work / "shop").rglob("*") if f.is_file()) / 2**20
            print(f"\n{n:,} lines: generated in {args.parts} parts in {g['wall']:.1f} s, peak {g['peak_mb']:,.0f} MiB, "
                  f"{size:,.0f} MiB on disk")
            procs, address = start_cluster(work, args.workers, args.worker_memory)
            try:
                r = measure([exe, "train", "--data", str(work / "shop"), "--cluster", address, "--json",
                             "--tracking-uri", f"sqlite:///{work}/mlruns-cluster/mlflow.db", *extra], cwd=str(work))
            finally:
                stop_cluster(procs)
            report(f"{n:,} lines on the cluster ({args.workers} workers)", r, args.workers, n)
            if args.single:
                join_parts(work / "shop", work / "single")
                r = measure([exe, "train", "--data", str(work / "single"), "--json",
                             "--tracking-uri", f"sqlite:///{work}/mlruns-single/mlflow.db", *extra], cwd=str(work))
                report(f"{n:,} lines in one process", r, os.cpu_count() or 1, n)
        finally:
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)
            else:
                print(f"kept {work}")


if __name__ == "__main__":
    main()
