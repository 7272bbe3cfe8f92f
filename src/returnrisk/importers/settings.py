"""What an import can be told: which option holds the size, the shop's time zone, test markers."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

__all__ = ["ImportSettings", "DEFAULT_SIZE_OPTION_NAMES", "PLATFORMS", "OUTPUT_FORMATS"]

#: Names of the variant option / attribute that holds the size (compared case-insensitively).
DEFAULT_SIZE_OPTION_NAMES: tuple[str, ...] = ("Size", "Taille", "Größe", "Groesse", "Talla", "Taglia")

PLATFORMS: tuple[str, ...] = ("shopify", "woocommerce", "prestashop")
OUTPUT_FORMATS: tuple[str, ...] = ("parquet", "csv")


@dataclass(frozen=True)
class ImportSettings:
    """Settings of one import (the CLI builds them from its options).

    ``timezone`` is used only for timestamps written without an offset (PrestaShop's
    ``date_add``, WooCommerce's non-GMT dates): they are read in that zone and converted to UTC.
    ``test_payment_modules`` names PrestaShop payment modules whose orders are test orders
    (PrestaShop has no test flag). ``cancelled_state_ids`` are PrestaShop order states meaning
    "cancelled" (6 is PrestaShop's own; states named like "cancel…"/"annul…" are recognised too).
    """

    size_option_names: tuple[str, ...] = DEFAULT_SIZE_OPTION_NAMES
    timezone: str = "UTC"
    file_format: str = "parquet"
    test_payment_modules: tuple[str, ...] = ()
    cancelled_state_ids: tuple[str, ...] = ("6",)
    language_id: str | None = None

    def is_size_option(self, name: object) -> bool:
        """Whether an option/attribute name designates the size (``pa_size`` counts as ``size``)."""
        if not isinstance(name, str):
            return False
        text = name.strip().casefold()
        if text.startswith("pa_"):
            text = text[3:]
        return text in self._size_names

    @cached_property
    def _size_names(self) -> frozenset[str]:
        return frozenset(n.strip().casefold() for n in self.size_option_names)
