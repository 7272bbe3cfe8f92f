"""The labelled phrasings the classifier starts from, shipped as package data.

* ``seed/seed_reasons.csv`` — the training seed: columns ``text``, ``reason_code``, ``lang``
  (``en``, ``fr`` or ``mixed``).
* ``seed/eval_reasons.csv`` — a held-out set written separately with different phrasings, used
  only to measure the classifier (never to fit it).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import pandas as pd

from returnrisk.taxonomy import REASON_CODES

__all__ = ["EVAL_FILE", "SEED_FILE", "load_eval_set", "load_seed_set"]

SEED_FILE = "seed_reasons.csv"
EVAL_FILE = "eval_reasons.csv"
_COLUMNS = ("text", "reason_code", "lang")


@lru_cache(maxsize=4)
def _read(name: str) -> pd.DataFrame:
    ref = resources.files("returnrisk.reasons").joinpath("seed", name)
    with resources.as_file(ref) as path:
        # keep_default_na=False: "n/a", "none" or "null" are customer words, not missing values
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    missing = [c for c in _COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks column(s) {', '.join(missing)}: expected {', '.join(_COLUMNS)}")
    unknown = sorted(set(frame["reason_code"]) - set(REASON_CODES))
    if unknown:
        raise ValueError(f"{name} has codes outside the taxonomy: {', '.join(unknown)}")
    frame = frame.loc[frame["text"].str.strip() != "", list(_COLUMNS)].reset_index(drop=True)
    return frame


def load_seed_set() -> pd.DataFrame:
    """The training seed (a fresh copy): ``text``, ``reason_code``, ``lang``."""
    return _read(SEED_FILE).copy()


def load_eval_set() -> pd.DataFrame:
    """The held-out evaluation set (a fresh copy): ``text``, ``reason_code``, ``lang``."""
    return _read(EVAL_FILE).copy()
