"""Importers: a shop's data from Shopify, WooCommerce or PrestaShop API pages into the contract.

``import_shop(platform, input_dir, out_dir, append=False, settings=ImportSettings())`` reads the
saved API pages (any file names; each resource is recognised by its content), maps them to the
data contract (:mod:`returnrisk.data.contract`) and writes ``products``, ``order_lines``,
``returns`` and ``import-report.json``. Modules:

* :mod:`.pages` (files → JSON documents or streamed JSON Lines), :mod:`.collector` (columnar
  buffers), one reader per platform (:mod:`.shopify` + :mod:`.shopify_rest`,
  :mod:`.woocommerce`, :mod:`.prestashop`);
* shared rules: :mod:`.sizes`, :mod:`.reasons`, :mod:`.customers`, :mod:`.merchandise`,
  :mod:`.times`, :mod:`.values`;
* :mod:`.assemble_lines`, :mod:`.assemble_returns` (returns vs refunds), :mod:`.report`,
  :mod:`.output` (writing and ``--append`` merging), :mod:`.run`.
"""

from returnrisk.importers.report import REPORT_FILE, ImportReport
from returnrisk.importers.run import import_shop
from returnrisk.importers.settings import DEFAULT_SIZE_OPTION_NAMES, PLATFORMS, ImportSettings

__all__ = ["import_shop", "ImportSettings", "ImportReport", "PLATFORMS", "DEFAULT_SIZE_OPTION_NAMES", "REPORT_FILE"]
