"""``import_shop``: saved API pages of one platform → a contract folder and its import report."""

from __future__ import annotations

import logging
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from returnrisk.errors import InputError
from returnrisk.importers.assemble_lines import assemble_lines
from returnrisk.importers.assemble_returns import assemble_returns
from returnrisk.importers.base import PlatformReader
from returnrisk.importers.collector import Collector
from returnrisk.importers.output import ContractTables, merge_existing, read_existing, write_tables
from returnrisk.importers.pages import iter_pages
from returnrisk.importers.prestashop import PrestaShopReader
from returnrisk.importers.report import ImportReport
from returnrisk.importers.settings import OUTPUT_FORMATS, PLATFORMS, ImportSettings
from returnrisk.importers.shopify import ShopifyReader
from returnrisk.importers.woocommerce import WooCommerceReader

__all__ = ["import_shop", "READERS", "read_pages"]

log = logging.getLogger(__name__)

READERS: dict[str, type[PlatformReader]] = {
    "shopify": ShopifyReader, "woocommerce": WooCommerceReader, "prestashop": PrestaShopReader,
}


def _check(platform: str, settings: ImportSettings) -> None:
    if platform not in PLATFORMS:
        raise InputError(f"unknown platform {platform!r}: use one of {', '.join(PLATFORMS)}")
    if settings.file_format not in OUTPUT_FORMATS:
        raise InputError(f"--format {settings.file_format!r} is not supported: use parquet or csv")
    try:
        ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"--timezone {settings.timezone!r} is not a time zone: use an IANA name such as "
                         "Europe/Paris or UTC") from None


def read_pages(platform: str, folder: Path, settings: ImportSettings, skip: Path | None = None) -> Collector:
    """Read every page of ``folder`` with the platform's reader (files under ``skip`` left out)."""
    collector = Collector()
    reader = READERS[platform](collector, settings)
    for page in iter_pages(folder):
        if skip is not None and page.path.resolve().is_relative_to(skip.resolve()):
            continue
        reader.read(page)
        collector.files += 1
    reader.finish()
    if not collector.count("orders") and not collector.count("products"):
        raise InputError(f"no {platform} orders or products found in {folder}: the pages hold none "
                         "(empty lists only); save the orders and products pages (see docs/importing.md)")
    return collector


def import_shop(platform: str, input_dir: str | Path, out_dir: str | Path, *, append: bool = False,
                settings: ImportSettings = ImportSettings()) -> ImportReport:
    """Import the saved pages of ``input_dir`` into the contract folder ``out_dir``.

    Writes ``products``, ``order_lines``, ``returns`` (Parquet unless ``settings.file_format`` is
    ``csv``) and ``import-report.json``; with ``append`` merges into the tables already there
    (see :mod:`returnrisk.importers.output`). Raises :class:`~returnrisk.errors.InputError` on
    unusable input, before anything is written.
    """
    _check(platform, settings)
    input_dir, out_dir = Path(input_dir), Path(out_dir)
    collector = read_pages(platform, input_dir, settings, skip=out_dir)
    report = ImportReport(platform, str(input_dir), str(out_dir), collector.files, dict(collector.pages))
    lines = assemble_lines(collector, report, settings.timezone)
    returns = assemble_returns(collector, lines.order_lines, report, settings.timezone)
    tables = ContractTables(lines.products, lines.order_lines, returns)
    if append:
        existing = read_existing(out_dir)
        if existing is None:
            report.append = {"note": f"no tables in {out_dir} yet: wrote a new folder"}
        else:
            tables, report.append = merge_existing(existing, tables)
    report.tables = write_tables(tables, out_dir, settings.file_format)
    report.write(out_dir)
    log.info("imported %s: %d order lines, %d returns, %d products into %s", platform,
             len(tables.order_lines), len(tables.returns), len(tables.products), out_dir)
    return report
