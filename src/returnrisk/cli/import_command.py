"""``returnrisk import shopify|woocommerce|prestashop --input DIR --out DIR [--append] [--json]``."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from returnrisk.cli import app
from returnrisk.cli.console import console, err_console, print_json_line
from returnrisk.errors import InputError

__all__ = ["import_command"]


def _summary(report) -> None:
    table = Table(title=f"returnrisk import {report.platform} → {report.output_folder}", title_justify="left")
    for column in ("input lines", "read", "written", "skipped (why)"):
        table.add_column(column, justify="left" if column.startswith(("input", "skipped")) else "right")
    for name, tally in (("order lines", report.order_lines), ("returns and refunded lines", report.returns)):
        why = ", ".join(f"{k} {v:,}" for k, v in sorted(tally.skipped.items())) or "—"
        table.add_row(name, f"{tally.read:,}", f"{tally.written:,}", why)
    console.print(table)
    refunds = report.refunds_without_return
    console.print(f"{report.products.get('written', 0):,} products · currencies {', '.join(report.currencies) or '—'} · "
                  f"{report.orders.get('guest_checkouts', 0):,} guest orders · "
                  f"{refunds.get('lines', 0):,} refunded lines and {refunds.get('refunds_without_lines', 0):,} "
                  "refunds without goods back (not returns)")
    sizes = report.sizes
    if sizes.get("unparsed_lines"):
        examples = ", ".join(f"{k!r}" for k in list(sizes["unparsed_labels"])[:5])
        console.print(f"[yellow]{sizes['unparsed_lines']:,} lines have a size outside the known size systems "
                      f"(e.g. {examples}): kept as sold, treated as unknown sizes[/]")
    if report.append:
        console.print(f"merged into the existing folder: {escape(json.dumps(report.append))}", highlight=False)
    if not report.order_lines.written:
        console.print("[yellow]no order line was written: every line was set aside (see the reasons above)[/]")
    console.print(f"report: {Path(report.output_folder) / 'import-report.json'}")


@app.command("import")
def import_command(
    platform: str = typer.Argument(..., help="shopify, woocommerce or prestashop."),
    input_dir: Path = typer.Option(..., "--input", help="Folder of saved API pages (any file names)."),
    out: Path = typer.Option(..., "--out", help="Contract folder to write (products, order_lines, returns)."),
    append: bool = typer.Option(False, "--append", help="Merge into the tables already in --out (idempotent)."),
    as_json: bool = typer.Option(False, "--json", help="Print the import report as one JSON line only."),
    file_format: str = typer.Option("parquet", "--format", help="parquet or csv."),
    size_option: list[str] = typer.Option(
        None, "--size-option", help="Name of the option holding the size (repeatable; default Size, Taille, "
        "Größe, Talla, Taglia)."),
    timezone: str = typer.Option("UTC", "--timezone", help="Time zone of dates written without an offset "
                                 "(PrestaShop: the shop's zone, e.g. Europe/Paris)."),
    test_payment_module: list[str] = typer.Option(
        None, "--test-payment-module", help="PrestaShop payment module whose orders are tests (repeatable)."),
) -> None:
    """Import a shop's history from its platform's API pages into the data contract.

    Exit codes: 0 imported (see import-report.json for every line set aside and why);
    2 the input cannot be used (message says which file and what to do).
    """
    from returnrisk.importers import ImportSettings, import_shop
    from returnrisk.importers.settings import DEFAULT_SIZE_OPTION_NAMES

    settings = ImportSettings(
        size_option_names=tuple(size_option) if size_option else DEFAULT_SIZE_OPTION_NAMES,
        timezone=timezone, file_format=file_format,
        test_payment_modules=tuple(test_payment_module or ()),
    )
    try:
        if as_json:
            report = import_shop(platform.lower(), input_dir, out, append=append, settings=settings)
        else:
            with console.status(f"importing {platform} pages from {input_dir}…"):
                report = import_shop(platform.lower(), input_dir, out, append=append, settings=settings)
    except InputError as exc:
        if as_json:
            print_json_line({"imported": False, "error": str(exc)})
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None
    if as_json:
        print_json_line(report.to_dict())
        return
    _summary(report)
