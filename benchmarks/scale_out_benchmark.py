"""Benchmark ``returnrisk train --cluster`` (issue 20): time and memory per stage and per worker.

    # the per-partition costs (moderate sizes, minutes):
    nice -n 15 .venv/bin/python benchmarks/scale_out_benchmark.py --lines 1000000 --parts 8 --workers 2 \\
        --worker-memory 4GiB --single
    # the big run (a quiet machine, hours): ~30M lines on `--cluster local:2` with 9 GiB per worker
    # (spilling past Dask's thresholds), and the single-process run of the same shop, stopped when
    # its resident memory passes 20 GiB (the point where it stops fitting)
    nice -n 15 .venv/bin/python benchmarks/scale_out_benchmark.py --lines 30000000 --parts 60 --workers 2 \\
        --worker-memory 9GiB --single --single-limit 20GiB --keep
    # prove the script works (a minute or two):
    .venv/bin/python benchmarks/scale_out_benchmark.py --lines 100000 --parts 4 --worker-memory 2GiB --single \\
        --params tests/fast_params.yaml

For each size: (1) ``returnrisk demo-data --parts`` writes the shop as Parquet parts (timed,
peak memory: the streamed generator's memory must stay flat); (2) ``returnrisk train --cluster
local:N --worker-memory M --json`` trains it on a LocalCluster of N single-threaded worker
processes, each limited to M (Dask spills to disk past 60–70 % and restarts a worker past 95 %),
with its own MLflow store — or, with ``--scheduler-processes``, against a scheduler and workers
started as separate processes (``tcp://…``), as on a real cluster; (3) with ``--single`` the same
shop, joined into one file per table (streamed), is trained by the single-process path under a
watchdog: its resident memory (the process and its children) is sampled every 0.25 s and the run
is stopped past ``--single-limit``; then the stages it finished and the peak it reached are the
measured point where it stops fitting.

Dask's spill goes to ``WORK/dask-spill``; its size is sampled every 2 s and printed (the most on
disk at once), and a run is stopped when that disk has less than ``--min-free-disk`` (default
5 GiB) left — the first design of the cluster path spilled 69 GB at 30M lines.

Printed: per stage the wall time, the client's peak RSS and each worker's peak RSS; the whole
run; the spill's peak; the costs per million lines per core (load + validate, features, fit per fitted line,
evaluate) — the figures docs/scale-out.md extrapolates to a billion lines; validation AUC; for the
single-process run the same per stage (or where it stopped).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _measure import machine, measure

BIN = Path(sys.executable).parent


def start_cluster(work: Path, workers: int, memory: str | None) -> tuple[list[subprocess.Popen], str]:
    """A scheduler and ``workers`` single-threaded worker processes (memory-limited), as separate processes."""
    scheduler_file = work / "scheduler.json"
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    logs = open(work / "dask.log", "w")  # noqa: SIM115 (held by the cluster processes until they stop)
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


_STAGE_LOG = re.compile(r"stage (\w+): ([\d.]+) s, peak (\d+) MiB, cpu ([\d.]+) s")


def _folder_mb(folder: Path) -> float:
    total = 0
    for base, _, files in os.walk(folder):
        for f in files:
            try:
                total += os.stat(os.path.join(base, f)).st_size
            except OSError:   # a spill file deleted meanwhile
                pass
    return total / 2**20


def measure_limited(cmd: list[str], limit_mb: float, cwd: Path, name: str, *, min_free_disk_mb: float = 0.0) -> dict:
    """Run ``cmd`` with its stdout and stderr in ``cwd/name.stdout|.stderr`` (follow a long run with
    ``tail -f``); its resident memory (the process and its children: a local cluster's workers
    included) is sampled every 0.25 s and the command is killed past ``limit_mb`` (``stopped``).

    Dask's spill goes to ``cwd/dask-spill`` (``DASK_TEMPORARY_DIRECTORY``): its size is sampled
    every 2 s (``spill_peak_mb``), and the command is killed when the disk holding it has less than
    ``min_free_disk_mb`` left (``disk_full``) — a spilling run must not fill the machine's disk."""
    import psutil

    spill = cwd / "dask-spill"
    spill.mkdir(exist_ok=True)
    env = {**os.environ, "DASK_TEMPORARY_DIRECTORY": str(spill)}
    with open(cwd / f"{name}.stdout", "w+") as out, open(cwd / f"{name}.stderr", "w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=cwd, env=env)
        root, peak, stopped, disk_full, spill_peak, next_spill = psutil.Process(proc.pid), 0.0, False, False, 0.0, 0.0
        while proc.poll() is None:
            try:
                rss = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20
            except psutil.Error:
                rss = 0.0
            peak = max(peak, rss)
            if time.perf_counter() >= next_spill:
                spill_peak = max(spill_peak, _folder_mb(spill))
                next_spill = time.perf_counter() + 2.0
                disk_full = shutil.disk_usage(spill).free / 2**20 < min_free_disk_mb
            if rss > limit_mb or disk_full:
                stopped = not disk_full
                for p in [*root.children(recursive=True), root]:
                    try:
                        p.kill()
                    except psutil.Error:
                        pass
                proc.wait()
                break
            time.sleep(0.25)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        return {"wall": wall, "peak_mb": peak, "code": proc.returncode, "stdout": out.read(), "stderr": err.read(),
                "stopped": stopped, "disk_full": disk_full, "spill_peak_mb": spill_peak}


def _fitted_lines(m: dict, refit: bool, max_fit_rows: int) -> float:
    """Lines the return booster was fitted on: the validation model, then the refit (up to the as-of)."""
    first = min(m["train_rows"], max_fit_rows)
    return first + (min(m["train_rows"] + m["calibration_rows"] + m["val_rows"], max_fit_rows) if refit else 0)


def report_single(title: str, r: dict, limit_mb: float, lines: int, refit: bool, max_fit_rows: int) -> None:
    done = [(m.group(1), float(m.group(2)), int(m.group(3)), float(m.group(4)))
            for m in _STAGE_LOG.finditer(r["stderr"])]
    order = ["load", "validate", "features", "fit", "evaluate", "snapshot", "log"]
    metrics = None
    if r["stopped"]:
        at = order[len(done)] if len(done) < len(order) else "the end"
        print(f"\n{title}: STOPPED past the {limit_mb / 1024:.1f} GiB limit during '{at}' after {r['wall']:.0f} s "
              f"(peak {r['peak_mb']:,.0f} MiB): one process does not fit {lines:,} lines in {limit_mb / 1024:.1f} GiB")
    elif r["code"] != 0:
        tail = r["stderr"].strip().splitlines()[-3:]
        print(f"\n{title}: FAILED (exit {r['code']}, peak {r['peak_mb']:,.0f} MiB, {r['wall']:.0f} s)\n  "
              + "\n  ".join(tail))
    else:
        metrics = json.loads(r["stdout"].strip().splitlines()[-1])["metrics"]
        print(f"\n{title}: total {r['wall']:.0f} s, peak RSS {r['peak_mb']:,.0f} MiB, val AUC {metrics['val_auc']:.4f}, "
              f"ECE {metrics['val_ece']:.4f}")
    if done:
        print(f"{'stage':>10} {'seconds':>8} {'cpu s':>8} {'peak MiB':>9}")
        for name, seconds, peak, cpu in done:
            print(f"{name:>10} {seconds:>8.1f} {cpu:>8.1f} {peak:>9,}")
        cpu = {name: c for name, _, _, c in done}
        per_m = lines / 1e6
        if all(k in cpu for k in ("load", "validate", "features")):
            print(f"CPU core-seconds per million lines: load+validate {(cpu['load'] + cpu['validate']) / per_m:.1f}, "
                  f"features {cpu['features'] / per_m:.1f}"
                  + (f", fit {cpu['fit'] / (_fitted_lines(metrics, refit, max_fit_rows) / 1e6):.1f} per million "
                     "fitted lines" if metrics and "fit" in cpu else ""))


def report(title: str, r: dict, cores: int, lines: int, refit: bool, max_fit_rows: int) -> dict | None:
    if r["code"] != 0:
        tail = r["stderr"].strip().splitlines()[-3:]
        why = (f"STOPPED: the disk had less than --min-free-disk left, {r['spill_peak_mb']:,.0f} MiB spilled"
               if r.get("disk_full") else f"FAILED (exit {r['code']}")
        print(f"\n{title}: {why}, peak {r['peak_mb']:,.0f} MiB, {r['wall']:.0f} s)\n  " + "\n  ".join(tail))
        return None
    out_lines = r["stdout"].strip().splitlines()
    result = json.loads(out_lines[-1])
    if len(out_lines) != 1:
        print(f"WARNING: stdout held {len(out_lines)} lines, not the JSON line alone")
    stages = {s["name"]: s for s in result["stages"]}
    m = result["metrics"]
    print(f"\n{title}: total {r['wall']:.0f} s, peak RSS of the client and its local workers together "
          f"{r['peak_mb']:,.0f} MiB, val AUC {m['val_auc']:.4f}, ECE {m['val_ece']:.4f}, "
          f"rounds kept {m['return_rounds']:.0f}/{m['reason_rounds']:.0f}")
    print(f"{'stage':>10} {'seconds':>8} {'client MiB':>11} {'client cpu s':>13}  workers' peak MiB  workers' cpu s")
    worker_peak: dict[str, int] = {}
    for name, s in stages.items():
        workers = s.get("workers_peak_mb", {})
        for w, v in workers.items():
            worker_peak[w] = max(worker_peak.get(w, 0), v)
        print(f"{name:>10} {s['seconds']:>8.1f} {s['peak_rss_mb']:>11,} {s.get('cpu_s', 0):>13.1f}  "
              + " / ".join(f"{v:,}" for v in workers.values()) + "  "
              + " / ".join(f"{v:,.1f}" for v in s.get("workers_cpu_s", {}).values()))
    if worker_peak:
        print("whole run, peak per worker: " + " / ".join(f"{v:,} MiB" for v in worker_peak.values()))
    print(f"Dask spill on disk: at most {r['spill_peak_mb']:,.0f} MiB (sampled every 2 s)")
    per_m = lines / 1e6
    fitted = _fitted_lines(m, refit, max_fit_rows) / 1e6

    def cpu(*names):   # core-seconds of the workers and the client
        return sum(sum(stages[n].get("workers_cpu_s", {}).values()) + stages[n].get("cpu_s", 0) for n in names)

    costs = {
        "load_validate": cpu("load", "validate") / per_m,
        "features": cpu("features") / per_m,
        "fit_per_fitted": cpu("fit") / fitted,
        "evaluate": cpu("evaluate") / per_m,
    }
    walls = {
        "load_validate": (stages["load"]["seconds"] + stages["validate"]["seconds"]) * cores / per_m,
        "features": stages["features"]["seconds"] * cores / per_m,
        "fit_per_fitted": stages["fit"]["seconds"] * cores / fitted,
        "evaluate": stages["evaluate"]["seconds"] * cores / per_m,
    }
    print("CPU core-seconds (workers + client) per million lines: load+validate {load_validate:.1f}, features "
          "{features:.1f}, evaluate {evaluate:.1f}; fit {fit_per_fitted:.1f} per million fitted lines".format(**costs))
    print("wall seconds × workers per million lines (an upper bound on a shared machine): load+validate "
          "{load_validate:.1f}, features {features:.1f}, evaluate {evaluate:.1f}; fit {fit_per_fitted:.1f} per "
          "million fitted lines".format(**walls))
    return {"stages": stages, "worker_peak": worker_peak, "costs": costs, "wall": r["wall"], "peak": r["peak_mb"]}


def main() -> None:
    from dask.utils import parse_bytes

    from returnrisk.pipeline.params import load_params

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--parts", type=int, default=8, help="Parquet parts per table")
    parser.add_argument("--shop", type=Path, default=None,
                        help="train this parts shop (made by demo-data --parts) instead of generating one")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-memory", default=None, help="per worker, e.g. 9GiB (default: Dask's share)")
    parser.add_argument("--shards", type=int, default=None, help="train --shards (default: twice the workers)")
    parser.add_argument("--scheduler-processes", action="store_true",
                        help="a scheduler and workers as separate processes (tcp://…) instead of --cluster local:N")
    parser.add_argument("--single", action="store_true", help="also train the same shop in one process")
    parser.add_argument("--single-limit", default="20GiB",
                        help="stop the single-process run past this resident memory (default 20GiB)")
    parser.add_argument("--params", default=None, help="training parameters (default training/params.yaml)")
    parser.add_argument("--min-free-disk", default="5GiB",
                        help="stop a run when the disk holding Dask's spill has less free space (default 5GiB)")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")   # idle LightGBM threads sleep: CPU time is work
    exe = str(BIN / "returnrisk")
    limit_mb = parse_bytes(args.single_limit) / 2**20
    min_free_mb = parse_bytes(args.min_free_disk) / 2**20
    params = load_params(args.params)
    refit, max_fit_rows = params.refit, params.model.max_fit_rows
    mode = "separate scheduler and worker processes (tcp://…)" if args.scheduler_processes else f"--cluster local:{args.workers}"
    print(f"machine: {machine()}; {mode}, {args.workers} workers × 1 thread, memory limit "
          f"{args.worker_memory or 'Dask default'} each; params {args.params or 'default'}", flush=True)
    extra = ["--params", str(Path(args.params).resolve())] if args.params else []   # the runs' cwd is elsewhere
    sharding = ["--shards", str(args.shards)] if args.shards else []
    sizes = [None] if args.shop else args.lines
    for n in sizes:
        work = Path(tempfile.mkdtemp(prefix="rr-scale-out-"))
        try:
            if args.shop:
                shop = args.shop.resolve()
                n = sum(pq_rows(p) for p in (shop / "order_lines").glob("*.parquet"))
                print(f"\n{n:,} lines: the parts shop {shop}", flush=True)
            else:
                shop = work / "shop"
                g = measure([exe, "demo-data", "--out", str(shop), "--lines", str(n), "--parts", str(args.parts)])
                if g["code"] != 0:
                    print(f"{n:,} lines: generation FAILED\n{g['stderr'][-2000:]}")
                    continue
                size = sum(f.stat().st_size for f in shop.rglob("*") if f.is_file()) / 2**20
                print(f"\n{n:,} lines: generated in {args.parts} parts in {g['wall']:.1f} s, peak {g['peak_mb']:,.0f} "
                      f"MiB, {size:,.0f} MiB on disk", flush=True)
            train = [exe, "--verbose", "train", "--data", str(shop), "--json",
                     "--tracking-uri", f"sqlite:///{work}/mlruns-cluster/mlflow.db", *extra]
            if args.scheduler_processes:
                procs, address = start_cluster(work, args.workers, args.worker_memory)
                try:
                    cluster = ["--cluster", address, *sharding]
                    r = measure_limited([*train, *cluster], float("inf"), work, "cluster", min_free_disk_mb=min_free_mb)
                finally:
                    stop_cluster(procs)
            else:
                cluster = ["--cluster", f"local:{args.workers}", *sharding]
                cluster += ["--worker-memory", args.worker_memory] if args.worker_memory else []
                print(f"running: returnrisk {' '.join(train[2:] + cluster)} (log: {work}/cluster.stderr)", flush=True)
                r = measure_limited([*train, *cluster], float("inf"), work, "cluster", min_free_disk_mb=min_free_mb)
            report(f"{n:,} lines on the cluster ({args.workers} workers)", r, args.workers, n, refit, max_fit_rows)
            if args.single:
                join_parts(shop, work / "single")
                print(f"running the single-process path (log: {work}/single.stderr)", flush=True)
                r = measure_limited([exe, "--verbose", "train", "--data", str(work / "single"), "--json",
                                     "--tracking-uri", f"sqlite:///{work}/mlruns-single/mlflow.db", *extra],
                                    limit_mb, work, "single")
                report_single(f"{n:,} lines in one process", r, limit_mb, n, refit, max_fit_rows)
        finally:
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)
            else:
                print(f"kept {work}")


def pq_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


if __name__ == "__main__":
    main()
