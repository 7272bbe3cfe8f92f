"""``returnrisk validate`` and ``returnrisk demo-data``."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.table import Table

from returnrisk.cli import app
from returnrisk.cli.console import console, print_json_line, print_problems
from returnrisk.data.problems import DataError


@app.command("validate")
def validate(
    data: Path = typer.Option(..., "--data", help="Folder with products, order_lines and returns (.csv or .parquet)."),
    quarantine: Path = typer.Option(None, "--quarantine", help="Folder for rejected rows (default DATA/.returnrisk/quarantine)."),
    strict: bool = typer.Option(False, "--strict", help="Any row-level problem is an error (exit 2, nothing written)."),
    as_json: bool = typer.Option(False, "--json", help="End with a JSON line with the full report."),
) -> None:
    """Check a shop's files against the data contract and report what was found.

    Exit codes: 0 usable (rows with problems, if any, were set aside in quarantine);
    2 not usable (missing or unreadable file, missing column, empty table, or --strict).
    """
    from returnrisk.data.summary import summarize_shop
    from returnrisk.reasons.fill import default_reason_filler

    try:
        shop = load(data, quarantine, strict, reason_filler=default_reason_filler())
    except DataError as exc:
        print_problems(exc.problems)
        if as_json:
            print_json_line({"valid": False, "problems": [p.to_dict() for p in exc.problems]})
        raise typer.Exit(2)
    summary = summarize_shop(shop)
    table = Table(title=f"returnrisk validate — {data}", title_justify="left")
    for column in ("table", "rows read", "kept", "quarantined"):
        table.add_column(column, justify="right" if column != "table" else "left")
    for name, counts in summary.rows.items():
        table.add_row(name, f"{counts['read']:,}", f"{counts['kept']:,}", f"{counts['quarantined']:,}")
    console.print(table)
    console.print(f"orders from {summary.first_order} to {summary.last_order} · "
                  f"{summary.n_orders:,} orders · {summary.n_customers:,} customers")
    console.print(f"return rate {summary.return_rate:.1%} of lines · returns with a reason code "
                  f"{summary.share_with_code:.1%} (of which with text too {summary.share_code_and_text:.1%}) · "
                  f"text only {summary.share_text_only:.1%} · no reason {summary.share_without_reason:.1%}")
    if summary.share_inferred:
        console.print(f"reason codes inferred from text: {summary.share_inferred:.1%} of returns")
    if shop.problems:
        print_problems(shop.problems)
        for name, path in summary.quarantine_files.items():
            console.print(f"rejected {name} rows and their reasons: {path}")
    else:
        console.print("[green]no problems found[/]")
    if as_json:
        print_json_line({"valid": True, "summary": summary.to_dict(),
                         "problems": [p.to_dict() for p in shop.problems]})


def load(data: Path, quarantine: Path | None, strict: bool, reason_filler=None):
    from returnrisk.data.loader import load_shop

    return load_shop(data, quarantine_dir=quarantine, strict=strict, reason_filler=reason_filler)


@app.command("demo-data")
def demo_data(
    out: Path = typer.Option(..., "--out", help="Folder to write the demo shop to (replaced if it holds one)."),
    seed: int = typer.Option(7, "--seed", help="Random seed: the same seed gives the same shop."),
    lines: int = typer.Option(200_000, "--lines", min=1000, help="Number of order lines."),
    file_format: str = typer.Option("csv", "--format", help="csv or parquet."),
    parts: int = typer.Option(None, "--parts", min=1, help="Write order lines and returns as this many Parquet "
                              "parts (OUT/order_lines/part-*.parquet), generated one after another in bounded "
                              "memory: for shops too large for one piece."),
) -> None:
    """Write a realistic demo shop in the data contract, with its ground truth in OUT/truth/."""
    from returnrisk.demo.generator import generate_demo_shop
    from returnrisk.errors import InputError

    if parts is not None:
        from returnrisk.cli.demo_parts import write_parts

        write_parts(out, seed=seed, lines=lines, parts=parts, file_format=file_format)
        return
    if file_format not in ("csv", "parquet"):
        raise InputError(f"--format {file_format!r} is not supported: use csv or parquet")
    started = time.perf_counter()
    with console.status(f"generating {lines:,} order lines…"):
        manifest = generate_demo_shop(out, seed=seed, n_lines=lines, file_format=file_format)
    console.print(
        f"demo shop written to {out} in {time.perf_counter() - started:.1f} s: "
        f"{manifest['n_products']:,} products, {manifest['n_customers']:,} customers, "
        f"{manifest['n_lines']:,} order lines, {manifest['n_returns']:,} returns "
        f"({manifest['return_rate_observed']:.1%}); ground truth in {Path(out) / 'truth'}"
    )
