"""What every platform reader does: read pages into a :class:`Collector`, then finish."""

from __future__ import annotations

from abc import ABC, abstractmethod

from returnrisk.errors import InputError
from returnrisk.importers.collector import Collector
from returnrisk.importers.pages import Page, shape_of
from returnrisk.importers.settings import ImportSettings

__all__ = ["PlatformReader", "nodes", "unknown_page"]


class PlatformReader(ABC):
    """Base of the platform readers: :meth:`read` each page, then :meth:`finish` once."""

    platform = ""
    #: what the reader expects, for error messages
    expected = ""

    def __init__(self, collector: Collector, settings: ImportSettings):
        self.collector = collector
        self.settings = settings

    @abstractmethod
    def read(self, page: Page) -> None:
        """Take one page of the platform's API responses into the collector."""

    def finish(self) -> None:
        """Called after the last page (readers that wait for linked resources resolve them here)."""


def nodes(connection: object) -> list:
    """Items of a GraphQL connection (``nodes`` or ``edges[].node``) or of a plain list."""
    if isinstance(connection, list):
        return [item for item in connection if isinstance(item, dict)]
    if not isinstance(connection, dict):
        return []
    if isinstance(connection.get("nodes"), list):
        return [item for item in connection["nodes"] if isinstance(item, dict)]
    if isinstance(connection.get("edges"), list):
        return [edge["node"] for edge in connection["edges"] if isinstance(edge, dict) and isinstance(edge.get("node"), dict)]
    return []


def unknown_page(reader: PlatformReader, page: Page, payload: object, where: str = "") -> InputError:
    others = ", ".join(p for p in ("shopify", "woocommerce", "prestashop") if p != reader.platform)
    return InputError(
        f"{page.name}{where}: cannot recognise this {reader.platform} page: it holds {shape_of(payload)}. "
        f"Expected {reader.expected}. Save the API response exactly as returned (see docs/importing.md); "
        f"if the file comes from another platform, run `returnrisk import` with that platform ({others})"
    )
