"""Soak: mixed storefront and merchant traffic on two workers, a reload every 5 minutes, one worker killed.

    nice -n 15 .venv/bin/python benchmarks/soak.py --duration 1800        # the issue's 30 minutes

Starts ``returnrisk serve --workers 2`` (uvicorn's supervisor restarts a dead worker) on a registry given
with ``--tracking-uri`` (its champion is served; ``--data`` is then the shop it was trained on), or, without
it, on a demo shop trained here with the test parameters. Then, for ``--duration`` seconds, ``--clients``
threads send the storefront's calls (a visitor's and a known customer's risk, a basket scored) and the
merchant's (fix suggestions, KPIs, a return recorded), ``POST /v1/admin/reload`` every ``--reload-every``
seconds, and one worker is killed with SIGKILL at ``--kill-at`` of the run. It prints one JSON line:

* ``requests``, ``ok`` (2xx/3xx/4xx as expected), ``failed`` (5xx or no answer) — split into
  ``failed_in_flight_at_kill`` (no answer, sent before the kill, answered never: what the killed worker
  held), ``failed_stale_connection_at_kill`` (no answer to a client's first request after the kill,
  sent on the keep-alive connection the killed worker had accepted: the connection died with it — HTTP
  clients retry such a request, httpx does not for a POST) and ``failed_other`` (the figure that must
  be 0); ``failures`` lists each failure with its time relative to the kill;
* latency percentiles per kind of call; reloads done;
* ``rss_mb``: each worker's resident memory after warm-up and at the end (the killed one, its
  replacement), to check that memory stays flat.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

ROOT = Path(__file__).parents[1]
BIN = Path(sys.executable).parent
MERCHANT, ADMIN = "soak-merchant", "soak-admin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def workers_of(supervisor: int) -> list[int]:
    """uvicorn's worker processes (children of the supervisor, not multiprocessing's resource tracker)."""
    out = []
    try:
        children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    except OSError:
        return out
    for pid in map(int, children):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "resource_tracker" not in cmdline:
            out.append(pid)
    return sorted(out)


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def prepare_model(args, work: Path) -> tuple[str, Path]:
    if args.tracking_uri:
        if not args.data:
            sys.exit("--data is needed with --tracking-uri (the shop the champion was trained on)")
        return args.tracking_uri, Path(args.data)
    shop = work / "shop"
    subprocess.run([str(BIN / "returnrisk"), "demo-data", "--out", str(shop), "--lines", "20000", "--seed", "3"],
                   check=True, capture_output=True)
    uri = f"sqlite:///{work}/mlruns/mlflow.db"
    (work / "mlruns").mkdir()
    subprocess.run([str(BIN / "returnrisk"), "train", "--data", str(shop), "--tracking-uri", uri, "--params",
                    str(ROOT / "tests" / "fast_params.yaml")], check=True, capture_output=True, cwd=work)
    return uri, shop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=1800, help="seconds of traffic (default 1800)")
    parser.add_argument("--reload-every", type=float, default=300, help="seconds between reloads (default 300)")
    parser.add_argument("--kill-at", type=float, default=0.5, help="fraction of the run when a worker is killed")
    parser.add_argument("--clients", type=int, default=4, help="client threads (default 4)")
    parser.add_argument("--tracking-uri", help="registry with a champion (default: train a demo model here)")
    parser.add_argument("--data", help="the shop of that champion")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="returnrisk-soak-"))
    tracking, shop = prepare_model(args, work)
    lines = pd.read_csv(shop / "order_lines.csv", dtype=str)
    returned = set(pd.read_csv(shop / "returns.csv", usecols=["line_id"], dtype=str)["line_id"])
    pairs = list(lines[["product_id", "size"]].dropna().drop_duplicates().itertuples(index=False, name=None))
    customers = lines["customer_id"].drop_duplicates().tolist()
    free_lines = iter([x for x in lines["line_id"] if x not in returned])
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "RETURNRISK_TRACKING_URI": tracking, "RETURNRISK_MERCHANT_API_KEYS": MERCHANT,
           "RETURNRISK_ADMIN_API_KEYS": ADMIN, "RETURNRISK_DATABASE_URL": f"sqlite:///{work}/service.db",
           "RETURNRISK_DATA_DIR": str(shop), "RETURNRISK_LOG_FORMAT": "json", "RETURNRISK_MODEL_POLL_SECONDS": "30"}
    log = open(work / "serve.log", "w")
    server = subprocess.Popen([str(BIN / "returnrisk"), "serve", "--workers", "2", "--port", str(port)], env=env,
                              stdout=log, stderr=subprocess.STDOUT, cwd=work)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200 and len(workers_of(server.pid)) == 2:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None:
                sys.exit(f"the server stopped: see {work / 'serve.log'}")
            time.sleep(1)
        else:
            sys.exit(f"the server did not become ready in 600 s: see {work / 'serve.log'}")
        result = soak(args, base, server.pid, pairs, customers, free_lines)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    result["log"] = str(work / "serve.log")
    print(json.dumps(result))


def soak(args, base, supervisor, pairs, customers, free_lines) -> dict:
    merchant = {"Authorization": f"Bearer {MERCHANT}"}
    rng_lock, lines_lock, record_lock = threading.Lock(), threading.Lock(), threading.Lock()
    latencies: dict[str, list[float]] = defaultdict(list)
    failures: list[tuple[str, float, float, str, int]] = []   # kind, sent, failed, what, client
    first_after_kill: dict[int, float] = {}                     # client → when it first sent after the kill
    counts = defaultdict(int)
    stop = threading.Event()
    kill_time: list[float] = []
    # warm-up: every kind once per worker (connections spread over both)
    for _ in range(6):
        p, s = pairs[0]
        httpx.get(f"{base}/v1/products/{p}/risk", params={"size": s}, timeout=120)
    start_workers = workers_of(supervisor)
    rss_start = {pid: rss_mb(pid) for pid in start_workers}

    def call(http: httpx.Client, rng: random.Random) -> tuple[str, httpx.Request]:
        roll = rng.random()
        p, s = rng.choice(pairs)
        if roll < 0.45:
            return "visitor_risk", http.build_request("GET", f"{base}/v1/products/{p}/risk", params={"size": s})
        if roll < 0.70:
            return "customer_risk", http.build_request("GET", f"{base}/v1/products/{p}/risk",
                                                       params={"size": s, "customer_id": rng.choice(customers)})
        if roll < 0.82:
            basket = [{"line_id": f"b{i}", "product_id": q, "size": z, "customer_id": rng.choice(customers)}
                      for i, (q, z) in enumerate(rng.sample(pairs, 3))]
            return "score", http.build_request("POST", f"{base}/v1/score", json={"lines": basket})
        if roll < 0.88:
            return "fixes", http.build_request("GET", f"{base}/v1/fixes", params={"limit": 20}, headers=merchant)
        if roll < 0.94:
            return "kpis", http.build_request("GET", f"{base}/v1/kpis", headers=merchant)
        with lines_lock:
            line = next(free_lines, None)
        if line is None:
            return "model", http.build_request("GET", f"{base}/v1/model")
        return "record_return", http.build_request("POST", f"{base}/v1/returns", headers=merchant, json={
            "line_id": line, "returned_at": "2025-01-15T10:00:00Z", "channel": "api", "reason_code": "too_small"})

    def client(seed: int):
        rng = random.Random(seed)
        with httpx.Client(timeout=120) as http:
            while not stop.is_set():
                kind, request = call(http, rng)
                sent = time.monotonic()
                if kill_time and seed not in first_after_kill and sent >= kill_time[0]:
                    first_after_kill[seed] = sent
                try:
                    answer = http.send(request)
                    failed = answer.status_code >= 500
                    what = f"{answer.status_code} {answer.text[:120]}" if failed else ""
                except httpx.HTTPError as exc:
                    failed, what = True, type(exc).__name__
                took = time.monotonic() - sent
                with record_lock:
                    counts[kind] += 1
                    if failed:
                        failures.append((kind, sent, time.monotonic(), what, seed))
                    else:
                        latencies[kind].append(took)

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(args.clients)]
    began = time.monotonic()
    for t in threads:
        t.start()
    reloads, next_reload, killed = [], began + args.reload_every, None
    kill_at = began + args.kill_at * args.duration
    def reload():
        try:
            answer = httpx.post(f"{base}/v1/admin/reload", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=300)
            reloads.append(answer.status_code)
        except httpx.HTTPError as exc:
            reloads.append(type(exc).__name__)

    while (now := time.monotonic()) < began + args.duration:
        if killed is None and now >= kill_at:
            alive = workers_of(supervisor)
            if alive:
                killed = alive[0]
                kill_time.append(time.monotonic())
                os.kill(killed, signal.SIGKILL)
        if now >= next_reload:   # in the background: a reload takes seconds, the kill must not wait for it
            threading.Thread(target=reload, daemon=True).start()
            next_reload += args.reload_every
        time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join(150)
    end_workers = workers_of(supervisor)
    at_kill = kill_time[0] if kill_time else None
    def no_answer(f) -> bool:
        return f[3] != "" and not f[3][:1].isdigit()

    in_flight = [f for f in failures if at_kill is not None and f[1] <= at_kill <= f[2] and no_answer(f)]
    stale = [f for f in failures if at_kill is not None and f not in in_flight and no_answer(f)
             and first_after_kill.get(f[4]) == f[1]]
    other = [f for f in failures if f not in in_flight and f not in stale]
    return {
        "duration_s": round(time.monotonic() - began, 1), "clients": args.clients, "workers": 2,
        "requests": sum(counts.values()), "by_kind": dict(counts),
        "failed": len(failures), "failed_in_flight_at_kill": len(in_flight),
        "failed_stale_connection_at_kill": len(stale), "failed_other": len(other),
        "failures_other_sample": [f"{k}: {w}" for k, _, _, w, _ in other[:5]],
        "failures": [{"kind": k, "what": w, "client": c,
                      "sent_s_after_kill": None if at_kill is None else round(sent - at_kill, 3),
                      "failed_s_after_kill": None if at_kill is None else round(end - at_kill, 3)}
                     for k, sent, end, w, c in failures[:20]],
        "reloads": reloads, "killed_worker": killed, "killed_at_s": round(at_kill - began, 1) if at_kill else None,
        "latency_ms": {k: {"p50": round(1000 * float(np.percentile(v, 50)), 1),
                           "p99": round(1000 * float(np.percentile(v, 99)), 1)} for k, v in sorted(latencies.items())},
        "rss_mb": {"start": {str(p): v for p, v in rss_start.items()},
                   "end": {str(p): rss_mb(p) for p in end_workers}},
        "replaced_worker": [p for p in end_workers if p not in start_workers],
    }


if __name__ == "__main__":
    main()
