"""``returnrisk demo-data --parts K``: the streamed Parquet-part demo shop (see :mod:`returnrisk.demo.parts`)."""

from __future__ import annotations

import time
from pathlib import Path

from returnrisk.cli.console import console
from returnrisk.errors import InputError

__all__ = ["write_parts"]


def write_parts(out: Path, *, seed: int, lines: int, parts: int, file_format: str) -> None:
    from returnrisk.demo.parts import generate_demo_parts

    if file_format != "csv" and file_format != "parquet":
        raise InputError(f"--format {file_format!r} is not supported: use csv or parquet")
    started = time.perf_counter()
    try:
        with console.status(f"generating {lines:,} order lines in {parts} Parquet parts…"):
            manifest = generate_demo_parts(out, seed=seed, n_lines=lines, parts=parts)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    console.print(
        f"demo shop written to {out} in {time.perf_counter() - started:.1f} s as {parts} Parquet parts: "
        f"{manifest['n_products']:,} products, {manifest['n_customers']:,} customers, "
        f"{manifest['n_lines']:,} order lines, {manifest['n_returns']:,} returns "
        f"({manifest['return_rate_observed']:.1%}); ground truth in {Path(out) / 'truth'}"
    )
