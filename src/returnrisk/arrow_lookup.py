"""Fast lookups of string ids (product, customer, size, order…) with Arrow's hash kernels.

Tables are loaded with Arrow-backed strings; turning ten million of them into Python objects
to hash them in pandas costs more than the whole feature arithmetic. These helpers stay in
Arrow: a missing value is a null, never the string "nan".

Ground floor: this module imports no other returnrisk module, so the data contract, the
features and training can all use it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["as_arrow_strings", "positions", "first_seen", "factorize_strings", "release_arrow_memory"]


def as_arrow_strings(values) -> pa.ChunkedArray:
    """``values`` (Series, Index, array or list of strings / missing values) as Arrow strings."""
    series = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    if not (isinstance(series.dtype, pd.StringDtype) and series.dtype.storage == "pyarrow"):
        series = series.astype("string[pyarrow]")
    arrow = pa.chunked_array(series.array.__arrow_array__())
    return arrow if arrow.type == pa.large_string() else arrow.cast(pa.large_string())


def positions(values, universe, *, missing_as: str | None = None) -> np.ndarray:
    """Position of each of ``values`` in ``universe`` (int64; ``-1`` if absent or missing).

    With ``missing_as``, a missing value is looked up as that string (e.g. ``""``).
    """
    needles = as_arrow_strings(values)
    if missing_as is not None:
        needles = needles.fill_null(missing_as)
    found = pc.index_in(needles, value_set=as_arrow_strings(universe).combine_chunks())
    return found.fill_null(-1).to_numpy().astype(np.int64)


def first_seen(values, *, missing_as: str | None = None, dropna: bool = False) -> pd.Index:
    """The distinct values in order of first appearance (like ``pd.unique``), as an object Index."""
    arrow = as_arrow_strings(values)
    if missing_as is not None:
        arrow = arrow.fill_null(missing_as)
    unique = pc.unique(arrow)
    if dropna:
        unique = unique.drop_null()
    return pd.Index(unique.to_pylist(), dtype=object)


def factorize_strings(values, *, missing_as: str = "") -> np.ndarray:
    """Integer codes of ``values`` (equal strings, equal codes; missing counts as ``missing_as``)."""
    arrow = as_arrow_strings(values).fill_null(missing_as)
    return pc.index_in(arrow, value_set=pc.unique(arrow)).to_numpy().astype(np.int64)


def release_arrow_memory() -> None:
    """Give the memory Arrow's allocator keeps for reuse back to the system (large histories)."""
    pa.default_memory_pool().release_unused()
