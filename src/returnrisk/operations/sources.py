"""The shop history behind the service, loaded lazily and kept fresh.

The service learns which order lines exist (to accept a return), and computes KPIs, the
forecast and the fix suggestions, from one shop folder in the data contract:
``Settings.data_dir`` if set, else the training data of the served model
(``bundle.meta["data_dir"]``). :class:`ShopSource` loads it
on first use (with the reason filler, like every command), keeps it in memory, and reloads it
when its files change (checked at most every ``recheck_seconds``), so a nightly export of new
orders is picked up without a restart. Rejected rows go to a temporary quarantine folder: the
service never writes into the shop's folder.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd

from returnrisk.data.contract import TABLE_NAMES
from returnrisk.data.loader import Shop, load_shop
from returnrisk.data.readers import find_table_file
from returnrisk.errors import UnavailableError

__all__ = ["ShopSource", "ShopSources", "LoadedShop", "resolve_data_dir", "DataUnavailable"]

log = logging.getLogger(__name__)


class DataUnavailable(UnavailableError):
    """No usable shop folder: the message says which folder was tried and how to set one."""

    code = "data_unavailable"


def resolve_data_dir(settings_data_dir: str | None, bundle_meta: dict | None) -> Path:
    """``Settings.data_dir`` if set, else the served model's training data folder."""
    if settings_data_dir:
        folder = Path(settings_data_dir)
        if not folder.is_dir():
            raise DataUnavailable(f"the shop folder RETURNRISK_DATA_DIR={settings_data_dir} does not exist: "
                                  "point it at the folder holding products, order_lines and returns")
        return folder
    model_dir = (bundle_meta or {}).get("data_dir")
    if not model_dir:
        raise DataUnavailable("no shop data: set RETURNRISK_DATA_DIR to the folder holding products, "
                              "order_lines and returns")
    folder = Path(model_dir)
    if not folder.is_dir():
        raise DataUnavailable(f"the served model was trained on {model_dir}, which does not exist here: set "
                              "RETURNRISK_DATA_DIR to the shop's folder (products, order_lines, returns)")
    return folder


@dataclass(frozen=True)
class LoadedShop:
    """One load of a shop folder, with the lookups the endpoints need."""

    shop: Shop
    folder: Path
    signature: tuple
    loaded_at: pd.Timestamp
    ordered_at: pd.Series   # index line_id → ordered_at (UTC)
    quantity: pd.Series | None = None   # index line_id → ordered units (aligned with ordered_at)

    def line_ordered_at(self, line_id: str) -> pd.Timestamp | None:
        position = self.ordered_at.index.get_indexer([line_id])[0]
        return None if position < 0 else self.ordered_at.iloc[position]

    def line_quantity(self, line_id: str) -> int | None:
        """The units ordered on the line (``None``: not a line of the shop)."""
        if self.quantity is None:
            return None
        position = self.quantity.index.get_indexer([line_id])[0]
        return None if position < 0 else int(self.quantity.iloc[position])

    @cached_property
    def _returns_with_id(self) -> dict[str, dict[str, int]]:
        events = self.shop.return_events
        if events is None or "return_id" not in events.columns or events.empty:
            return {}
        named = events[events["return_id"].notna()]
        out: dict[str, dict[str, int]] = {}
        for line_id, return_id, units in zip(named["line_id"].astype(str), named["return_id"].astype(str),
                                             named["quantity"].to_numpy()):
            out.setdefault(line_id, {})[return_id] = int(units)
        return out

    def shop_returns(self, line_id: str) -> dict[str, int]:
        """The line's returns in the shop's own returns file that carry a ``return_id``: id → units.

        (Rows without ``return_id`` are superseded by the returns the service records for the
        line: see :func:`returnrisk.operations.export.merge_returns`.)
        """
        return dict(self._returns_with_id.get(line_id, {}))

    @property
    def n_lines(self) -> int:
        return len(self.ordered_at)

    @property
    def last_order(self) -> pd.Timestamp | None:
        return self.ordered_at.max() if len(self.ordered_at) else None


def _signature(folder: Path) -> tuple:
    parts = []
    for name in TABLE_NAMES:
        path = find_table_file(folder, name)
        if isinstance(path, Path):
            stat = path.stat()
            parts.append((path.name, stat.st_mtime_ns, stat.st_size))
        else:
            parts.append((name, None, None))
    return tuple(parts)


class ShopSource:
    """A shop folder loaded on first use and reloaded when its files change."""

    def __init__(self, folder: str | Path, *, reason_filler_factory: Callable | None = None,
                 recheck_seconds: float = 30.0, quarantine_dir: Path | None = None):
        self.folder = Path(folder).resolve()
        self.recheck_seconds = recheck_seconds
        self._filler_factory = reason_filler_factory
        digest = hashlib.sha1(str(self.folder).encode()).hexdigest()[:12]
        self.quarantine_dir = quarantine_dir or Path(tempfile.gettempdir()) / "returnrisk-quarantine" / digest
        self._lock = threading.Lock()
        self._loaded: LoadedShop | None = None
        self._checked = 0.0

    def get(self) -> LoadedShop:
        """The current load (loading or reloading first if needed); raises DataError if unusable."""
        with self._lock:
            now = time.monotonic()
            if self._loaded is not None and now - self._checked < self.recheck_seconds:
                return self._loaded
            signature = _signature(self.folder)
            self._checked = now
            if self._loaded is not None and self._loaded.signature == signature:
                return self._loaded
            started = time.perf_counter()
            filler = self._filler_factory() if self._filler_factory else None
            shop = load_shop(self.folder, quarantine_dir=self.quarantine_dir, reason_filler=filler)
            index = pd.Index(shop.order_lines["line_id"].astype(str))
            ordered_at = pd.Series(shop.order_lines["ordered_at"].to_numpy(), index=index, name="ordered_at")
            quantity = pd.Series(shop.order_lines["quantity"].to_numpy(), index=index, name="quantity")
            self._loaded = LoadedShop(shop, self.folder, signature, pd.Timestamp.now(tz="UTC"), ordered_at, quantity)
            log.info("shop %s loaded for operations: %d lines, %d returns (%.1f s)", self.folder,
                     len(shop.order_lines), len(shop.returns), time.perf_counter() - started)
            return self._loaded


class ShopSources:
    """The :class:`ShopSource` of the folder in use (the served model may change folder on reload)."""

    def __init__(self, *, reason_filler_factory: Callable | None = None, recheck_seconds: float = 30.0):
        self._factory = reason_filler_factory
        self._recheck = recheck_seconds
        self._lock = threading.Lock()
        self._sources: dict[Path, ShopSource] = {}

    def source(self, folder: Path) -> ShopSource:
        """The source of ``folder``; a new folder replaces the previous ones (their history is freed)."""
        key = Path(folder).resolve()
        with self._lock:
            if key not in self._sources:
                self._sources = {key: ShopSource(key, reason_filler_factory=self._factory,
                                                 recheck_seconds=self._recheck)}
            return self._sources[key]

    def get(self, settings_data_dir: str | None, bundle_meta: dict | None) -> LoadedShop:
        return self.source(resolve_data_dir(settings_data_dir, bundle_meta)).get()
