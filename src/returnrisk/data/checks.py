"""The contract's rules: per column, per table and across tables.

Column rules (required values, minimums, allowed codes) are expressed as a pandera schema
built from the contract and run lazily, so every failure is collected at once; the rules that
need parsing context or another table are vectorised pandas checks beside it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
import pyarrow.compute as pc

from returnrisk.arrow_lookup import positions
from returnrisk.data.contract import ColumnSpec, TableSpec
from returnrisk.data.parsing import (
    INTEGER_MAX,
    TIMESTAMP_MAX,
    TIMESTAMP_MIN,
    arrow_strings,
    parse_column_detailed,
    placeholder_mask,
)
from returnrisk.data.rejections import Rejections

__all__ = [
    "parse_and_check_table",
    "check_unique_ids",
    "check_order_lines_against_products",
    "check_returns_against_lines",
    "LATE_RETURN_DAYS",
]

#: Returns registered more than this many days after the order get a warning (kept).
LATE_RETURN_DAYS = 90

_TYPE_FIXES = {
    "number": "write plain numbers with '.' as the decimal separator (e.g. 49.90), or leave empty if the column is optional",
    "integer": "write whole numbers (e.g. 3), or leave empty if the column is optional",
    "boolean": "use true/false, 1/0 or yes/no, or leave empty",
    "timestamp": "use ISO 8601, e.g. 2025-03-01 or 2025-03-01T10:00:00+02:00 (naive times are read as UTC)",
}
_TYPE_WORDS = {
    "number": "are not numbers",
    "integer": "are not whole numbers",
    "boolean": "are not true/false values",
    "timestamp": "are unparseable timestamps",
}


def _schema(spec: TableSpec, present: list[str]) -> pa.DataFrameSchema:
    columns = {}
    for column in spec.columns:
        if column.name not in present:
            continue
        checks = []
        if column.minimum is not None:
            checks.append(pa.Check.ge(column.minimum))
        if column.choices is not None:
            checks.append(pa.Check.isin(list(column.choices)))
        columns[column.name] = pa.Column(
            checks=checks, nullable=not column.required, required=False, coerce=False
        )
    return pa.DataFrameSchema(columns, strict=False)


def _schema_failures(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> pd.DataFrame:
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        return cases[cases["index"].notna()]
    return pd.DataFrame(columns=["column", "check", "failure_case", "index"])


def _column_message(column: ColumnSpec, check: str) -> tuple[str, str, str]:
    """(rule, message, fix) for a failed pandera check on ``column``."""
    if check.startswith("not_nullable"):
        return (
            "missing_value",
            f"{{n}} rows have no value in required column '{column.name}'",
            f"fill in '{column.name}' on these rows (see docs/data-contract.md)",
        )
    if check.startswith("greater_than_or_equal_to"):
        return (
            "below_minimum",
            f"{{n}} values are below the minimum of {column.minimum:g}",
            f"'{column.name}' must be ≥ {column.minimum:g}: correct these values",
        )
    if check.startswith("isin"):
        allowed = ", ".join(column.choices or ())
        return (
            "unknown_code",
            "{n} values are not in the reason taxonomy",
            f"use one of {allowed}, or leave '{column.name}' empty and put the customer's "
            "words in reason_text",
        )
    return ("invalid", f"{{n}} values fail check {check}", f"correct '{column.name}'")


_PLACEHOLDER_LIST = "NaN, N/A, #N/A, NULL, NA, None"


def _placeholders(raw: pd.Series, column: ColumnSpec, rejections: Rejections) -> np.ndarray:
    """Record placeholder texts (``NULL``, ``N/A``…) in ``raw``; return their mask.

    In an id column, a number column or a required column the value is unknown, so the row is set
    aside; elsewhere the cell is read as empty and the table gets a warning.
    """
    found = placeholder_mask(raw)
    if not found.any():
        return found
    if column.identifier or column.required or column.kind in ("number", "integer"):
        rejections.add(
            found, rule="placeholder_value", column=column.name,
            message="{n} values are a placeholder text for a missing value"
                    f" ({_PLACEHOLDER_LIST}…) instead of a {'id' if column.identifier else 'value'}",
            fix=f"fill in the real '{column.name}' on these rows"
                + ("" if column.required else ", or leave the cell empty when there is none"),
            values=raw,
        )
    else:
        rejections.warn(
            found, rule="placeholder_read_as_missing", column=column.name,
            message="{n} values are a placeholder text for a missing value"
                    f" ({_PLACEHOLDER_LIST}…): read as empty",
            fix=f"leave '{column.name}' empty when there is no value (the placeholder is not a value)",
            values=raw,
        )
    return found


def parse_and_check_table(
    frame: pd.DataFrame, spec: TableSpec, rejections: Rejections, *, unique: bool = True
) -> pd.DataFrame:
    """Parse every contract column of ``frame`` and record the rows that break a rule.

    Returns the typed frame (extra columns kept as they are); the rows to set aside are in
    ``rejections``, and the cells read as empty with a warning in ``rejections.warnings``.
    ``unique=False`` leaves out the last rule, :func:`check_unique_ids` (a table read in parts
    checks its ids across all of them: :mod:`returnrisk.cluster.loading`).
    """
    typed = frame.copy()
    reported: dict[str, np.ndarray] = {}  # per column: values already reported (not "missing" then)
    for column in spec.columns:
        if column.name not in frame.columns:
            continue
        raw = frame[column.name]
        placeholder = _placeholders(raw, column, rejections)
        if placeholder.any():
            raw = raw.mask(placeholder)
        parsed = parse_column_detailed(raw, column)
        values, bad = parsed.values, parsed.bad
        if column.name == "currency":
            values, invalid = _currency_codes(values)
            bad = bad | invalid
        typed[column.name] = values
        reported[column.name] = placeholder | bad
        special = np.zeros(len(frame), bool)
        for rule, mask in parsed.reasons.items():
            special |= mask
            rejections.add(mask, rule=rule, column=column.name, message=_SPECIAL[rule][0],
                           fix=_SPECIAL[rule][1], values=frame[column.name])
        if column.kind != "string":
            rejections.add(
                bad & ~special, rule="wrong_type", column=column.name,
                message=f"{{n}} values {_TYPE_WORDS[column.kind]}",
                fix=_TYPE_FIXES[column.kind],
                values=frame[column.name],
            )
        elif column.name == "currency":
            rejections.add(
                bad, rule="wrong_type", column=column.name,
                message="{n} values are not ISO 4217 currency codes",
                fix="write the three-letter code of the currency of unit_price, e.g. EUR, CHF, USD",
                values=frame[column.name],
            )
    failures = _schema_failures(_schema(spec, list(frame.columns)), typed)
    for (name, check), cases in failures.groupby(["column", "check"], sort=False):
        column = spec.column(name)
        positions = cases["index"].astype(int).to_numpy()
        mask = np.zeros(len(typed), dtype=bool)
        mask[positions] = True
        if check.startswith("not_nullable"):
            mask &= ~reported.get(name, np.zeros(len(typed), bool))  # a bad value is not "missing"
        rule, message, fix = _column_message(column, check)
        rejections.add(mask, rule=rule, column=name, message=message, fix=fix,
                       values=frame[name])
    if unique:
        check_unique_ids(typed, spec, rejections)
    return typed


def check_unique_ids(typed: pd.DataFrame, spec: TableSpec, rejections: Rejections) -> None:
    """An id of a unique column used again on a later row (the first row is kept)."""
    for column in spec.columns:
        if column.unique and column.name in typed.columns:
            ids = typed[column.name]
            duplicated = ids.duplicated(keep="first").to_numpy() & ids.notna().to_numpy()
            rejections.add(
                duplicated, rule="duplicate_id", column=column.name,
                message=f"{{n}} rows repeat a {column.name} already used on an earlier row "
                "(the first row is kept)",
                fix=f"make '{column.name}' unique: merge or renumber the duplicated rows",
                values=ids,
            )


_SPECIAL = {
    "out_of_range": (
        f"{{n}} timestamps are outside the dates that can be held ({TIMESTAMP_MIN:%Y-%m-%d} to "
        f"{TIMESTAMP_MAX:%Y-%m-%d})",
        "correct these dates (a typo in the year, or a placeholder date such as 9999-12-31 or 0001-01-01); "
        "leave the cell empty if the column is optional and the date is unknown",
    ),
    "too_large": (
        f"{{n}} values are too large to be a count (above {INTEGER_MAX:,.0f})",
        "correct these values: a whole number of at most 15 digits",
    ),
}


def _currency_codes(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Upper-case ISO 4217 codes; the mask of values that are not three letters."""
    upper = values.str.upper()
    ok = upper.str.fullmatch(r"[A-Z]{3}")
    invalid = (~ok.fillna(True)).to_numpy(dtype=bool)
    return upper.mask(invalid), invalid


def isin(values: pd.Series, allowed) -> np.ndarray:
    """Fast membership test for (arrow-backed) string columns."""
    arrow_values = pa_array(values)
    return pc.is_in(arrow_values, value_set=pa_array(pd.Series(allowed))).to_numpy(zero_copy_only=False)


def pa_array(values: pd.Series):
    return pyarrow.array(values.astype("string[pyarrow]").array)


def check_order_lines_against_products(
    lines: pd.DataFrame, product_ids: pd.Index, rejections: Rejections
) -> None:
    known = isin(lines["product_id"], product_ids) | lines["product_id"].isna().to_numpy()
    rejections.add(
        ~known, rule="unknown_product", column="product_id",
        message="{n} order lines reference a product_id that is not in products "
        "(or whose product row was set aside)",
        fix="add these products to the products table, or correct the product_id",
        values=lines["product_id"],
    )


def check_returns_against_lines(
    returns: pd.DataFrame, lines: pd.DataFrame, rejections: Rejections
) -> None:
    position = positions(returns["line_id"], lines["line_id"])
    known = position >= 0
    missing_id = returns["line_id"].isna().to_numpy()
    rejections.add(
        ~known & ~missing_id, rule="unknown_line", column="line_id",
        message="{n} returns are for a line_id that is not in order_lines "
        "(or whose order line was set aside)",
        fix="add the order lines, or correct the line_id of these returns",
        values=returns["line_id"],
    )
    line_time = lines["ordered_at"].iloc[np.maximum(position, 0)].where(known).set_axis(returns.index) \
        if len(lines) else pd.Series(pd.NaT, index=returns.index, dtype=returns["returned_at"].dtype)
    early = (returns["returned_at"] < line_time).fillna(False).to_numpy(dtype=bool)
    rejections.add(
        early, rule="returned_before_ordered", column="returned_at",
        message="{n} returns are dated before their line's ordered_at",
        fix="correct returned_at (or the order line's ordered_at): a return cannot precede the order",
        values=lambda at: [f"{returns['returned_at'].iloc[i]} < ordered_at {line_time.iloc[i]}" for i in at],
    )
    refund_early = (returns["refunded_at"] < returns["returned_at"]).fillna(False).to_numpy(bool) \
        if "refunded_at" in returns.columns else np.zeros(len(returns), bool)
    rejections.add(
        refund_early, rule="refunded_before_returned", column="refunded_at",
        message="{n} refunds are dated before their return's returned_at",
        fix="correct refunded_at or returned_at: a refund follows the return",
        values=lambda at: [
            f"{returns['refunded_at'].iloc[i]} < returned_at {returns['returned_at'].iloc[i]}" for i in at
        ],
    )
    _check_returned_units(returns, lines, position, rejections)
    late = ((returns["returned_at"] - line_time) > pd.Timedelta(days=LATE_RETURN_DAYS)).fillna(False)
    rejections.warn(
        late.to_numpy(dtype=bool) & ~rejections.mask, rule="late_return", column="returned_at",
        message=f"{{n}} returns were registered more than {LATE_RETURN_DAYS} days after their order "
                "(kept: they count as returns, but a forecast or a provisional rate cannot expect them)",
        fix="check these dates (a return policy is usually 14 to 60 days); if they are exchanges or "
            "after-sales repairs rather than returns, leave them out of the returns table",
        values=lambda at: [f"{(returns['returned_at'].iloc[i] - line_time.iloc[i]).days} days after the order"
                           for i in at],
    )


def _check_returned_units(returns: pd.DataFrame, lines: pd.DataFrame, position: np.ndarray,
                          rejections: Rejections) -> None:
    """Several returns of one line: no repeated return, and no more units than were ordered.

    A row without ``quantity`` returns the whole line. The returns of a line are counted in date
    order (then file order); the one that would take the returned units above the ordered
    quantity, and every later one of that line, is set aside.
    """
    n = len(returns)
    alive = ~rejections.mask & (position >= 0)
    if "return_id" in returns.columns and returns["return_id"].notna().any():
        pair = pd.DataFrame({"r": returns["return_id"].astype(object), "l": returns["line_id"].astype(object)})
        repeated = pair.duplicated(keep="first").to_numpy() & returns["return_id"].notna().to_numpy() & alive
        rejections.add(
            repeated, rule="duplicate_return", column="return_id",
            message="{n} rows repeat a return (same return_id and line_id) already on an earlier row "
                    "(the first row is kept)",
            fix="keep one row per return and line: a return that covers several units of a line has one row "
                "with its quantity",
            values=lambda at: [f"{returns['return_id'].iloc[i]} / {returns['line_id'].iloc[i]}" for i in at],
        )
        alive &= ~repeated
    ordered = lines["quantity"].to_numpy(dtype=float, na_value=np.nan)[np.maximum(position, 0)] \
        if len(lines) else np.ones(n)
    ordered = np.where(np.isnan(ordered), 1.0, ordered)
    given = returns["quantity"].to_numpy(dtype=float, na_value=np.nan) if "quantity" in returns.columns \
        else np.full(n, np.nan)
    units = np.where(np.isnan(given), ordered, given)
    returns["quantity"] = np.where(position >= 0, units, np.nan)  # default: the whole line
    over = np.zeros(n, dtype=bool)
    before = np.zeros(n)
    ids = arrow_strings(returns["line_id"])
    if pc.count_distinct(ids).as_py() + int(returns["line_id"].isna().sum()) >= n:
        several = np.zeros(n, dtype=bool)   # one return per line (the usual case): nothing to sort
    else:
        several = returns["line_id"].duplicated(keep=False).to_numpy() & alive
    single = alive & ~several
    over[single] = units[single] > ordered[single] + 1e-9   # one return for its line: at most the line
    rows = np.flatnonzero(several)
    if rows.size:  # lines with several returns: counted in date order (vectorised over those rows only)
        when = returns["returned_at"].to_numpy(dtype="datetime64[ns]")[rows].astype("int64")
        order = rows[np.lexsort((rows, when, position[rows]))]
        total = pd.Series(units[order]).groupby(position[order]).cumsum().to_numpy()
        over[order] = total > ordered[order] + 1e-9
        before[order] = total - units[order]
    rejections.add(
        over, rule="over_returned", column="quantity",
        message="{n} returns would take their line's returned units above its ordered quantity "
                "(a return without quantity returns the whole line; the earlier returns are kept)",
        fix="give each partial return its quantity (returned units), and check for returns recorded twice",
        values=lambda at: [f"line {returns['line_id'].iloc[i]}: {units[i]:g} returned after {before[i]:g}, "
                           f"{ordered[i]:g} ordered" for i in at],
    )
