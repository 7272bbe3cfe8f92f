"""Load-test the API on loopback with wrk, beside mlflow's own server and a bare FastAPI ceiling.

    .venv/bin/python benchmarks/serving_benchmark.py --tracking-uri sqlite:///mlruns/mlflow.db \
        [--duration 20] [--concurrency 1 16 64] [--soak 300]

Scenarios (one uvicorn worker each, wrk on one thread; the machine's other core serves):
  (a) GET /v1/products/{id}/risk?size=            visitor, precomputed answers
  (b) the same for a known customer (X-Customer-Token), without explanation
  (x) the same with explain=true                  one exact TreeSHAP row per request
  (f) GET /v1/products/{id}/size-advice           visitor, precomputed (target ≥ 70 % of (a) at c=16)
  (g) the same for a known customer (X-Customer-Token): every size of the product in one booster call
  (c) POST /v1/score with a 20-line basket (known customers, merchant key), without explanations
  (s) the same with explain=true
  (d) `mlflow models serve` of the logged pyfunc scoring one line
  (e) a bare FastAPI endpoint returning a constant JSON (the ceiling)
  plus (a) and (b) with --workers 2 at concurrency 1 (latency with several workers), and a soak run
  reporting the service's RSS at the start and end.
Needs wrk (`apt-get install wrk`).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _measure import machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: wrk counts a response slower than this as a (timeout) error; its default is 2 s
WRK_TIMEOUT = 10
BIN = Path(sys.executable).parent


def wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float = 600) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server for {url} exited with code {proc.returncode}:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} not ready after {timeout} s")


def rss_mb(pid: int) -> float:
    total = 0.0
    for p in [pid, *child_pids(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def child_pids(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    kids = [int(p) for p in out]
    return kids + [g for k in kids for g in child_pids(k)]


def start(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(cmd, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


def lua_paths(paths: list[str], folder: Path, name: str) -> Path:
    script = folder / f"{name}.lua"
    items = ",\n".join(json.dumps(p) for p in paths)
    script.write_text("local paths = {\n" + items + "\n}\nlocal i = 0\n"
                      "request = function()\n  i = i % #paths + 1\n  return wrk.format('GET', paths[i])\nend\n")
    return script


def lua_post(body: dict, folder: Path, name: str, headers: dict | None = None) -> Path:
    script = folder / f"{name}.lua"
    extra = "".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n" for k, v in (headers or {}).items())
    script.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                      f"wrk.body = {json.dumps(json.dumps(body))}\n" + extra)
    return script


def lua_paths_with_tokens(items: list[tuple[str, str]], folder: Path, name: str) -> Path:
    """GET each path with its customer token in the X-Customer-Token header."""
    script = folder / f"{name}.lua"
    rows = ",\n".join("{" + json.dumps(p) + ", " + json.dumps(t) + "}" for p, t in items)
    script.write_text("local items = {\n" + rows + "\n}\nlocal i = 0\n"
                      "request = function()\n  i = i % #items + 1\n"
                      "  return wrk.format('GET', items[i][1], {['X-Customer-Token'] = items[i][2]})\nend\n")
    return script


def customer_token(customer_id: str, secret: str) -> str:
    import jwt

    now = int(time.time())
    return jwt.encode({"sub": customer_id, "iat": now, "exp": now + 6 * 3600}, secret, algorithm="HS256")


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, script: Path, connections: int, duration: int) -> dict:
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", f"--timeout={WRK_TIMEOUT}s", "--latency",
                          "-s", str(script), url],
                         capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0)
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "requests": total, "errors": errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", default="sqlite:///mlruns/mlflow.db")
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--soak", type=int, default=300, help="seconds of the memory soak run (0 to skip)")
    parser.add_argument("--output", default=None, help="write the results as JSON here")
    parser.add_argument("--scenarios", default="abxfgcsde", help="which scenarios to run, e.g. `bg` (default all)")
    parser.add_argument("--no-workers2", action="store_true", help="skip the --workers 2 latency runs")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: install it with `apt-get install wrk` (Debian) and run again")

    from returnrisk.tracking import Tracker

    tracker = Tracker(args.tracking_uri)
    bundle, ref = tracker.load_bundle("models:/returnrisk@champion")
    rng = random.Random(0)
    sizes = bundle.snapshot.product_sizes
    pairs = list(zip(sizes["product_id"], sizes["size"]))
    rng.shuffle(pairs)
    pairs = pairs[:500]
    customers = list(bundle.snapshot.profiles.index.str.split("\x1f").str[0].unique()[:2000])
    basket = {"lines": [{"product_id": p, "size": s, "customer_id": customers[i % len(customers)],
                         "order_id": "bench"} for i, (p, s) in enumerate(pairs[:20])]}
    lines = pd_lines(bundle, pairs[0])
    secret, key = "benchmark-customer-token-secret-0123456789", "benchmark-merchant-key"
    tokens = {c: customer_token(c, secret) for c in customers}
    products = list(dict.fromkeys(p for p, _ in pairs))

    work = Path(tempfile.mkdtemp(prefix="rr-serve-bench-"))
    env = {**os.environ, "RETURNRISK_TRACKING_URI": args.tracking_uri, "MLFLOW_TRACKING_URI": args.tracking_uri,
           "RETURNRISK_CUSTOMER_TOKEN_SECRET": secret, "RETURNRISK_MERCHANT_API_KEYS": key,
           "RETURNRISK_DATABASE_URL": f"sqlite:///{work}/service.db",
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # `mlflow models serve` runs `uvicorn`
    scripts = {
        "a": lua_paths([f"/v1/products/{p}/risk?size={s}" for p, s in pairs], work, "a"),
        "b": lua_paths_with_tokens([(f"/v1/products/{p}/risk?size={s}", tokens[customers[i % len(customers)]])
                                    for i, (p, s) in enumerate(pairs)], work, "b"),
        "x": lua_paths_with_tokens([(f"/v1/products/{p}/risk?size={s}&explain=true",
                                     tokens[customers[i % len(customers)]]) for i, (p, s) in enumerate(pairs)],
                                   work, "x"),
        "f": lua_paths([f"/v1/products/{p}/size-advice" for p in products], work, "f"),
        "g": lua_paths_with_tokens([(f"/v1/products/{p}/size-advice", tokens[customers[i % len(customers)]])
                                    for i, p in enumerate(products)], work, "g"),
        "c": lua_post(basket, work, "c", {"Authorization": f"Bearer {key}"}),
        "s": lua_post(basket, work, "s", {"Authorization": f"Bearer {key}"}),
        "d": lua_post({"dataframe_split": {"columns": list(lines), "data": [list(lines.values())]}}, work, "d"),
        "e": lua_paths(["/const"], work, "e"),
    }
    results: dict = {"machine": machine(), "model_version": ref.version, "date": time.strftime("%Y-%m-%d"),
                     "duration_s": args.duration, "scenarios": {}}
    servers = {
        "returnrisk": ([str(BIN / "returnrisk"), "serve", "--port", "18001", "--log-level", "warning"],
                       "http://127.0.0.1:18001", "/readyz"),
        "mlflow": ([str(BIN / "mlflow"), "models", "serve", "-m", f"models:/returnrisk/{ref.version}",
                    "--env-manager", "local", "-p", "18002", "--workers", "1"], "http://127.0.0.1:18002", "/ping"),
        "bare": ([str(BIN / "uvicorn"), "bare_app:app", "--port", "18003", "--log-level", "warning",
                  "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--app-dir", str(Path(__file__).parent)],
                 "http://127.0.0.1:18003", "/const"),
    }
    plan = [("a", "returnrisk", "/"), ("b", "returnrisk", "/"), ("x", "returnrisk", "/"), ("f", "returnrisk", "/"),
            ("g", "returnrisk", "/"), ("c", "returnrisk", "/v1/score"), ("s", "returnrisk", "/v1/score?explain=true"),
            ("d", "mlflow", "/invocations"), ("e", "bare", "/")]
    try:
        for server, (cmd, base, ready) in servers.items():
            if not any(owner == server and scenario in args.scenarios for scenario, owner, _ in plan):
                continue
            proc = start(cmd, env, work / f"{server}.log")
            try:
                wait_ready(base + ready, proc, work / f"{server}.log")
                for scenario, owner, path in plan:
                    if owner != server or scenario not in args.scenarios:
                        continue
                    for c in args.concurrency:
                        r = wrk(base + path, scripts[scenario], c, args.duration)
                        results["scenarios"].setdefault(scenario, {})[str(c)] = r
                        print(f"({scenario}) c={c:>2}: {r['rps']:>8.0f} req/s  p50 {r['p50_ms']:6.2f} ms  "
                              f"p99 {r['p99_ms']:7.2f} ms  errors {r['errors']}", flush=True)
                if server == "returnrisk" and args.soak:
                    before = rss_mb(proc.pid)
                    mixed = lua_paths_with_tokens([(f"/v1/products/{p}/risk?size={s}",
                                                    tokens[customers[i]] if i % 2 else "")
                                                   for i, (p, s) in enumerate(pairs)], work, "soak")
                    r = wrk(base + "/", mixed, 16, args.soak)
                    after = rss_mb(proc.pid)
                    results["soak"] = {"seconds": args.soak, "rss_start_mb": before, "rss_end_mb": after, **r}
                    print(f"soak {args.soak} s at c=16: RSS {before:.0f} MB → {after:.0f} MB, "
                          f"{r['rps']:.0f} req/s, errors {r['errors']}", flush=True)
            finally:
                stop(proc)
        if not args.no_workers2:
            proc = start([str(BIN / "returnrisk"), "serve", "--port", "18004", "--workers", "2", "--log-level", "warning"],
                         env, work / "workers2.log")
            try:
                wait_ready("http://127.0.0.1:18004/readyz", proc, work / "workers2.log")
                time.sleep(5)  # let both workers finish loading
                for scenario in ("a", "b"):
                    r = wrk("http://127.0.0.1:18004/", scripts[scenario], 1, args.duration)
                    results["scenarios"].setdefault(f"{scenario}_workers2", {})["1"] = r
                    print(f"({scenario}) 2 workers c=1: {r['rps']:>6.0f} req/s p50 {r['p50_ms']:.2f} ms "
                          f"p99 {r['p99_ms']:.2f} ms errors {r['errors']}", flush=True)
            finally:
                stop(proc)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    s = results["scenarios"]
    print()
    if "a" in s and "e" in s and "16" in s["a"] and "16" in s["e"]:
        print(f"(a)/(e) throughput at c=16: {s['a']['16']['rps'] / s['e']['16']['rps']:.0%} (target ≥ 70 %)")
    if "f" in s and "a" in s and "16" in s["f"] and "16" in s["a"]:
        print(f"(f)/(a) visitor size advice vs visitor risk at c=16: {s['f']['16']['rps'] / s['a']['16']['rps']:.0%} "
              "(target ≥ 70 %)")
    for k, what in (("b", "known-customer risk"), ("g", "known-customer size advice")):
        if k in s and "1" in s[k]:
            print(f"({k}) {what}: p99 {s[k]['1']['p99_ms']:.2f} ms at c=1 (target ≤ 2 ms)"
                  + (f", {s[k]['16']['rps']:.0f} req/s at c=16 (target ≥ 1,500)" if "16" in s[k] else ""))
    if "x" in s and "1" in s["x"]:
        print(f"(x) known-customer risk with explain=true: p99 {s['x']['1']['p99_ms']:.2f} ms at c=1 (target ≤ 5 ms)")
    if "c" in s and "1" in s["c"]:
        print(f"(c) /v1/score 20 lines: p50 {s['c']['1']['p50_ms']:.2f} ms at c=1 (target ≤ 5 ms)")
    if "s" in s and "1" in s["s"]:
        print(f"(s) /v1/score 20 lines explained: p50 {s['s']['1']['p50_ms']:.2f} ms at c=1 = "
              f"{s['s']['1']['p50_ms'] / 20:.2f} ms a line (target ≤ 3 ms)")
    if "a" in s and "d" in s and "16" in s["a"] and "16" in s["d"]:
        print(f"(a)/(d) throughput at c=16: {s['a']['16']['rps'] / s['d']['16']['rps']:.1f}× (target ≥ 10×)")
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=2))


def pd_lines(bundle, pair) -> dict:
    product, size = pair
    return {"line_id": "bench-1", "order_id": "bench", "customer_id": "new", "product_id": product, "size": size,
            "quantity": 1, "ordered_at": "2026-10-01T10:00:00Z"}


if __name__ == "__main__":
    main()
