"""The serving bundle: the model, the feature snapshot and what a consumer must know about them.

A bundle is a folder::

    bundle/
      model.json        the two boosters and the calibration
      snapshot/         entity states at the end of the data (see returnrisk.features.snapshot)
      meta.json         version info, data range, validation metrics, risk-band settings

It is what MLflow stores as the pyfunc model's artifact, what ``returnrisk predict`` scores
with and what the API loads at start-up; scoring with it lives in :mod:`returnrisk.scoring`.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from returnrisk.errors import UnavailableError
from returnrisk.features.derive import shrink
from returnrisk.features.history import STATE_COLUMNS
from returnrisk.features.snapshot import Snapshot
from returnrisk.model.estimator import ReturnRiskModel

__all__ = ["RiskBands", "ServingBundle", "BUNDLE_FORMAT", "BundleError"]

BUNDLE_FORMAT = "returnrisk-bundle/1"
_WHAT_TO_DO = ("the model artifact is damaged or was not written by returnrisk — promote another version "
               "(`returnrisk promote --version N`) or train again (`returnrisk train --data DIR`)")


class BundleError(UnavailableError):
    """A serving bundle that cannot be read: a part missing, truncated or of an unknown format."""

    code = "model_artifact_invalid"


def _part(path: Path, read):
    """``read()``, with any failure to read ``path`` turned into one :class:`BundleError` line."""
    try:
        return read()
    except BundleError:
        raise
    except FileNotFoundError as exc:
        raise BundleError(f"{path}: missing ({Path(exc.filename or path).name} not found): {_WHAT_TO_DO}") from None
    except Exception as exc:  # noqa: BLE001 - JSONDecodeError, UnicodeDecodeError, ArrowInvalid, KeyError…
        what = str(exc).splitlines()[0][:200] if str(exc) else ""
        raise BundleError(f"{path}: cannot be read ({type(exc).__name__}{': ' + what if what else ''}): "
                          f"{_WHAT_TO_DO}") from None


@dataclass(frozen=True)
class RiskBands:
    """``low`` below ``low_ratio`` × the category's return rate, ``high`` from ``high_ratio`` ×."""

    low_ratio: float = 0.8
    high_ratio: float = 1.25

    def band(self, ratio: np.ndarray) -> np.ndarray:
        return np.where(ratio < self.low_ratio, "low", np.where(ratio >= self.high_ratio, "high", "medium"))


@dataclass
class ServingBundle:
    model: ReturnRiskModel
    snapshot: Snapshot
    meta: dict = field(default_factory=dict)

    @property
    def bands(self) -> RiskBands:
        return RiskBands(**self.meta.get("risk_bands", {}))

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        self.model.save(folder / "model.json")
        self.snapshot.save(folder / "snapshot")
        (folder / "meta.json").write_text(json.dumps({"format": BUNDLE_FORMAT, **self.meta}, indent=2, default=str))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "ServingBundle":
        """The bundle in ``folder``; :class:`BundleError` (one line naming the file) if a part is missing,
        truncated, not what it should be, or of a format this version does not read."""
        folder = Path(folder)
        meta_path = folder / "meta.json"
        if not meta_path.is_file():
            raise BundleError(f"{folder} is not a returnrisk serving bundle (no meta.json): {_WHAT_TO_DO}")
        meta = _part(meta_path, lambda: json.loads(meta_path.read_text(encoding="utf-8")))
        if not isinstance(meta, dict) or meta.get("format") != BUNDLE_FORMAT:
            found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
            raise BundleError(f"{meta_path}: unknown bundle format {found!r} (this version reads {BUNDLE_FORMAT!r}): "
                              f"{_WHAT_TO_DO}")
        model = _part(folder / "model.json", lambda: ReturnRiskModel.load(folder / "model.json"))
        snapshot = _part(folder / "snapshot", lambda: Snapshot.load(folder / "snapshot"))
        return cls(model, snapshot, meta)

    # ---- category reference for risk bands ---------------------------------------------------
    def category_rates(self, categories: pd.Series) -> np.ndarray:
        """Each category's smoothed return rate at the snapshot (the shop's rate if unknown)."""
        shop = self.snapshot.states["shop"].to_numpy()[0]
        s = {name: i for i, name in enumerate(STATE_COLUMNS)}
        smoothing = self.snapshot.smoothing
        shop_rate = shrink(shop[s["r_total"]], shop[s["exposure"]], 0.25, smoothing.shop)
        table = self.snapshot.states["category"]
        position = table.index.get_indexer(categories.astype(str).to_numpy())
        rows = table.to_numpy()
        r = np.where(position >= 0, rows[np.maximum(position, 0), s["r_total"]], 0.0)
        e = np.where(position >= 0, rows[np.maximum(position, 0), s["exposure"]], 0.0)
        return shrink(r, e, shop_rate, smoothing.category)
