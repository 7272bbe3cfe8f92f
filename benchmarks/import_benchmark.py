"""Benchmark `returnrisk import shopify` on 1,000,000 order lines of a bulk-operation export.

    .venv/bin/python benchmarks/import_benchmark.py [--lines 1000000] [--keep DIR]

Generates the orders of the fixture shop model (tests/platform_pages) as Shopify bulk-operation
JSON Lines — orders, line items, shipping lines, returns and return line items, one node per line
with ``__parentId`` — streamed to disk with bounded memory, plus a GraphQL products page; then
runs the import in a fresh child process and prints its wall time and peak resident memory, and
the generator's own.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(ROOT / "tests"))
from _measure import machine  # noqa: E402

from platform_pages.model import ShopModel  # noqa: E402
from platform_pages.shopify_pages import bulk_lines, graphql_page, graphql_product  # noqa: E402


def generate(folder: Path, n_lines: int) -> dict:
    """Write about ``n_lines`` order lines; returns counts, seconds and the generator's peak RSS."""
    started = time.perf_counter()
    model = ShopModel(seed=1, n_orders=int(n_lines / 1.95) + 1, days=730, special=False)  # ~1.98 lines/order
    (folder / "products.json").write_text(json.dumps(graphql_page("products", [graphql_product(p) for p in model.products],
                                                                  False, "c")))
    counts = {"orders": 0, "order_lines": 0, "jsonl_records": 0}
    with open(folder / "orders-bulk.jsonl", "w", encoding="utf-8", buffering=1 << 20) as handle:
        for order in model.orders():
            if counts["order_lines"] >= n_lines:
                break
            counts["orders"] += 1
            counts["order_lines"] += len(order.lines)
            for node in bulk_lines([order]):
                handle.write(json.dumps(node, ensure_ascii=False, separators=(",", ":")))
                handle.write("\n")
                counts["jsonl_records"] += 1
    counts["seconds"] = time.perf_counter() - started
    counts["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    counts["file_mb"] = (folder / "orders-bulk.jsonl").stat().st_size / 1e6
    return counts


_WRAPPER = (
    "import json,resource,subprocess,sys,time\n"
    "t=time.perf_counter()\n"
    "p=subprocess.run(sys.argv[1:],capture_output=True,text=True)\n"
    "u=resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(json.dumps({'wall':time.perf_counter()-t,'cpu':u.ru_utime+u.ru_stime,'peak_mb':u.ru_maxrss/1024,"
    "'code':p.returncode,'stdout':p.stdout,'stderr':p.stderr}))\n"
)


def measure(cmd: list[str]) -> dict:
    """Wall time, CPU time (user + system: what a busy shared machine does not inflate) and peak
    RSS of ``cmd``, run in its own wrapper process so that the figures are the command's alone."""
    import subprocess

    return json.loads(subprocess.run([sys.executable, "-c", _WRAPPER, *cmd], capture_output=True, text=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, default=None, help="keep the pages and the output in this folder")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="rr-import-bench-"))
    pages, out = work / "pages", work / "out"
    pages.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine()}")
    try:
        made = generate(pages, args.lines)
        print(f"generated {made['order_lines']:,} order lines in {made['orders']:,} orders "
              f"({made['jsonl_records']:,} JSONL records, {made['file_mb']:,.0f} MB) in {made['seconds']:.1f} s, "
              f"generator peak RSS {made['peak_mb']:,.0f} MiB")
        exe = str(Path(sys.executable).with_name("returnrisk"))
        run = measure([exe, "import", "shopify", "--input", str(pages), "--out", str(out), "--json"])
        if run["code"] != 0:
            print(f"import FAILED: {run['stderr'][-2000:]}")
            sys.exit(1)
        report = json.loads(run["stdout"].strip().splitlines()[-1])
        lines = report["order_lines"]
        print(f"import: {run['wall']:.1f} s wall, {run['cpu']:.1f} s CPU, peak RSS {run['peak_mb']:,.0f} MiB; "
              f"{lines['read']:,} input lines read ({lines['written']:,} order lines written, "
              f"{report['returns']['written']:,} returns), {lines['read'] / run['wall']:,.0f} input lines/s; "
              f"reconciles: {report['reconciles']}")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
