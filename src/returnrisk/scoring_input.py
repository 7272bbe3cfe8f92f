"""Order lines sent for scoring (CLI file or API body): parsed with the contract's rules."""

from __future__ import annotations

import numpy as np
import pandas as pd

from returnrisk.data.contract import ColumnSpec, table_spec
from returnrisk.data.parsing import parse_column
from returnrisk.errors import InputError

__all__ = ["prepare_scoring_lines", "PRODUCT_FIELDS"]

#: Product attributes a line may carry for a product the model has never seen.
PRODUCT_FIELDS: tuple[ColumnSpec, ...] = tuple(
    c for c in table_spec("products").columns if c.name not in ("product_id",)
)


def prepare_scoring_lines(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Typed lines ready for :func:`returnrisk.model.bundle.score_frame`.

    Only ``product_id`` is required; ``line_id`` defaults to the row number. Every value that
    cannot be parsed is reported (row and value) — scoring never drops a line silently.
    """
    if "product_id" not in frame.columns:
        found = ", ".join(map(str, frame.columns[:8]))
        raise InputError(f"column 'product_id' missing in {source} (columns found: {found or 'none'})")
    out = frame.copy().reset_index(drop=True)
    if "line_id" not in out.columns:
        out["line_id"] = [str(i + 1) for i in range(len(out))]
    specs = [c for c in table_spec("order_lines").columns if c.name in out.columns] + \
        [c for c in PRODUCT_FIELDS if c.name in out.columns]
    problems = []
    for spec in specs:
        values, bad = parse_column(out[spec.name], spec)
        if spec.minimum is not None:
            bad = bad | (values.to_numpy(dtype=float, na_value=np.nan) < spec.minimum)
        if bad.any():
            rows = np.flatnonzero(bad)[:5]
            shown = ", ".join(f"row {r + 1}: {out[spec.name].iloc[r]!r}" for r in rows)
            problems.append(f"column '{spec.name}': {int(bad.sum())} invalid value(s) ({shown})")
        out[spec.name] = values
    missing_product = out["product_id"].isna()
    if missing_product.any():
        rows = ", ".join(str(r + 1) for r in np.flatnonzero(missing_product)[:5])
        problems.append(f"column 'product_id': empty on row(s) {rows}")
    if problems:
        raise InputError(f"{source}: " + "; ".join(problems) +
                         ". Fix these values (see docs/data-contract.md); nothing was scored")
    return out
