"""``returnrisk validate`` and ``returnrisk demo-data``."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.table import Table

from returnrisk.cli import app
from returnrisk.cli.console import console, err_console, print_json_line, print_problems
from returnrisk.data.problems import DataError


@app.command("validate")
def validate(
    data: Path = typer.Option(..., "--data", help="Folder with products, order_lines and returns (.csv or .parquet)."),
    quarantine: Path = typer.Option(None, "--quarantine", help="Folder for rejected rows (default DATA/.returnrisk/quarantine)."),
    strict: bool = typer.Option(False, "--strict", help="Any row-level problem is an error (exit 2, nothing written)."),
    as_json: bool = typer.Option(False, "--json", help="Print the full report as one JSON line on stdout (the "
                                 "human report goes to stderr)."),
) -> None:
    """Check a shop's files against the data contract and report what was found.

    Also says what the shop will and will not get from its data (capabilities) and what deserves a
    look (warnings: outlier quantities, lines that are not merchandise, late returns…).
    Exit codes: 0 usable (rows with problems, if any, were set aside in quarantine);
    2 not usable (missing or unreadable file, missing column, empty table, or --strict).
    """
    from returnrisk.data.diagnosis import diagnose_shop
    from returnrisk.data.summary import summarize_shop
    from returnrisk.reasons.fill import default_reason_filler

    out = err_console if as_json else console  # with --json, stdout holds the JSON line only
    try:
        shop = load(data, quarantine, strict, reason_filler=default_reason_filler())
    except DataError as exc:
        print_problems(exc.problems)
        if as_json:
            print_json_line({"valid": False, "problems": [p.to_dict() for p in exc.problems]})
        raise typer.Exit(2)
    summary = summarize_shop(shop)
    diagnosis = diagnose_shop(shop, cost_per_return=_cost_per_return())
    table = Table(title=f"returnrisk validate — {data}", title_justify="left")
    excluded = any(counts["excluded"] for counts in summary.rows.values())
    columns = ("table", "rows read", "kept", "quarantined") + (("not merchandise",) if excluded else ())
    for column in columns:
        table.add_column(column, justify="right" if column != "table" else "left")
    for name, counts in summary.rows.items():
        table.add_row(name, f"{counts['read']:,}", f"{counts['kept']:,}", f"{counts['quarantined']:,}",
                      *((f"{counts['excluded']:,}",) if excluded else ()))
    out.print(table)
    out.print(f"orders from {summary.first_order} to {summary.last_order} · "
              f"{summary.n_orders:,} orders · {summary.n_customers:,} customers")
    out.print(f"return rate {summary.return_rate:.1%} of lines · returns with a reason code "
              f"{summary.share_with_code:.1%} (of which with text too {summary.share_code_and_text:.1%}) · "
              f"text only {summary.share_text_only:.1%} · no reason {summary.share_without_reason:.1%}")
    if summary.share_inferred:
        out.print(f"reason codes inferred from text: {summary.share_inferred:.1%} of returns")
    off = [name for name, on in diagnosis.capabilities.items() if not on]
    out.print("what this data gives: " + " · ".join(
        f"{name.replace('_', ' ')} {'✓' if on else '✗'}" for name, on in diagnosis.capabilities.items()))
    for name in off:
        out.print(f"  ✗ {diagnosis.explanations[name]}", markup=False)
    if diagnosis.warnings:
        out.print(f"[bold yellow]{len(diagnosis.warnings)} warning(s) (rows kept):[/]")
        for w in diagnosis.warnings:
            out.print(f"  ~ {w.render()}", markup=False, style="yellow")
    if shop.problems:
        print_problems(shop.problems)
        for name, path in summary.quarantine_files.items():
            out.print(f"rejected {name} rows and their reasons: {path}")
    elif diagnosis.warnings:
        out.print("[green]no rows set aside[/] (see the warnings above)")
    else:
        out.print("[green]no problems found[/]")
    if as_json:
        print_json_line({"valid": True, "summary": summary.to_dict(),
                         "capabilities": diagnosis.capabilities_dict(),
                         "warnings": [w.to_dict() for w in diagnosis.warnings],
                         "outliers": diagnosis.outliers,
                         "problems": [p.to_dict() for p in shop.problems]})


def _cost_per_return() -> float:
    from returnrisk.config import Economics, read_settings

    return read_settings(Economics).return_cost_per_return


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
    plant_fixes: bool = typer.Option(False, "--plant-fixes", help="Also plant fixes with known effects and "
                                     "placebos (truth/planted_fixes.csv); the default shop is unchanged."),
    plant_drift: bool = typer.Option(False, "--plant-drift", help="Plant a product line whose return rate changes "
                                     "90 days before the end (truth in OUT/truth/drift.json); for `returnrisk monitor`."),
) -> None:
    """Write a realistic demo shop in the data contract, with its ground truth in OUT/truth/."""
    from returnrisk.demo.generator import generate_demo_shop
    from returnrisk.errors import InputError

    if parts is not None:
        from returnrisk.cli.demo_parts import write_parts

        if plant_fixes:
            raise InputError("--plant-fixes and --parts cannot be combined: planted fixes are written for a shop "
                             "generated in one piece (drop --parts, or --plant-fixes)")

        write_parts(out, seed=seed, lines=lines, parts=parts, file_format=file_format)
        return
    if file_format not in ("csv", "parquet"):
        raise InputError(f"--format {file_format!r} is not supported: use csv or parquet")
    started = time.perf_counter()
    with console.status(f"generating {lines:,} order lines…"):
        manifest = generate_demo_shop(out, seed=seed, n_lines=lines, file_format=file_format,
                                      plant_fixes=plant_fixes, plant_drift=plant_drift)
    console.print(
        f"demo shop written to {out} in {time.perf_counter() - started:.1f} s: "
        f"{manifest['n_products']:,} products, {manifest['n_customers']:,} customers, "
        f"{manifest['n_lines']:,} order lines, {manifest['n_returns']:,} returns "
        f"({manifest['return_rate_observed']:.1%}); ground truth in {Path(out) / 'truth'}"
    )
    if "planted_drift" in manifest:
        drift = manifest["planted_drift"]
        console.print(f"planted drift: {drift['category']} from {drift['start'][:10]} "
                      f"({drift['drifted_lines']:,} lines; true return rate {drift['true_rate_without_drift']:.1%} → "
                      f"{drift['true_rate_with_drift']:.1%}); see it with: {drift['how_to_see_it']}")
