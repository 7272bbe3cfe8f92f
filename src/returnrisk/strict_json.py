"""Strict JSON: what every ``--json`` output (and any other machine-readable payload) is written with.

JSON has no NaN or Infinity: Python's :mod:`json` writes them as bare ``NaN``/``Infinity`` tokens
that strict parsers refuse. :func:`dumps` turns every non-finite number — Python or numpy, at any
depth — into ``null`` (undefined), numpy scalars and arrays into plain numbers and lists,
timestamps into ISO 8601 text, missing values (``None``, ``pd.NA``, ``NaT``) into ``null``, and
anything else it does not know into its text; then writes with ``allow_nan=False`` so that a value
slipping through fails loudly instead of producing invalid JSON.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["jsonable", "dumps"]


def jsonable(value: Any) -> Any:
    """``value`` made of JSON types only, non-finite numbers as ``None``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, (pd.Series, pd.Index)):
        return [jsonable(v) for v in value.tolist()]
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, (pd.Timestamp, datetime, date)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def dumps(value: Any, **kwargs) -> str:
    """Strict JSON text of ``value`` (see the module docstring)."""
    return json.dumps(jsonable(value), allow_nan=False, **kwargs)
