"""Benchmark `returnrisk demo-data`: wall time and peak memory for 200k and 10M lines.

    .venv/bin/python benchmarks/demo_data_benchmark.py [--lines 200000 10000000] [--format csv]

Each size runs in a fresh child process, so the peak memory is the generator's alone.
Target (issue 2): 10M lines in under 3 minutes on 2 cores, memory well under 24 GiB.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _measure import machine, measure  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[200_000, 10_000_000])
    parser.add_argument("--format", default="csv", choices=["csv", "parquet"])
    args = parser.parse_args()
    exe = str(Path(sys.executable).with_name("returnrisk"))
    print(f"machine: {machine()}")
    print(f"{'lines':>12} {'format':>8} {'wall s':>8} {'peak RSS MB':>12} {'files MB':>9}")
    for n in args.lines:
        out = Path(tempfile.mkdtemp(prefix="rr-demo-bench-"))
        try:
            r = measure([exe, "demo-data", "--out", str(out), "--lines", str(n), "--format", args.format])
            size = sum(f.stat().st_size for f in out.glob(f"*.{args.format}")) / 1e6
            status = "" if r["code"] == 0 else f"  FAILED: {r['stderr'].strip()[-300:]}"
            print(f"{n:>12,} {args.format:>8} {r['wall']:>8.1f} {r['peak_mb']:>12,.0f} {size:>9,.0f}{status}")
        finally:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
