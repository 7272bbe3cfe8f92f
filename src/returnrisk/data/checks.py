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
from returnrisk.data.parsing import parse_column
from returnrisk.data.rejections import Rejections

__all__ = ["parse_and_check_table", "check_order_lines_against_products", "check_returns_against_lines"]

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


def parse_and_check_table(
    frame: pd.DataFrame, spec: TableSpec, rejections: Rejections
) -> pd.DataFrame:
    """Parse every contract column of ``frame`` and record the rows that break a rule.

    Returns the typed frame (extra columns kept as they are); the rows to set aside are in
    ``rejections``.
    """
    typed = frame.copy()
    for column in spec.columns:
        if column.name not in frame.columns:
            continue
        values, bad = parse_column(frame[column.name], column)
        typed[column.name] = values
        if column.kind != "string":
            rejections.add(
                bad, rule="wrong_type", column=column.name,
                message=f"{{n}} values {_TYPE_WORDS[column.kind]}",
                fix=_TYPE_FIXES[column.kind],
                values=frame[column.name],
            )
    failures = _schema_failures(_schema(spec, list(frame.columns)), typed)
    for (name, check), cases in failures.groupby(["column", "check"], sort=False):
        column = spec.column(name)
        positions = cases["index"].astype(int).to_numpy()
        mask = np.zeros(len(typed), dtype=bool)
        mask[positions] = True
        if check.startswith("not_nullable"):
            mask &= ~rejections.rows_with("wrong_type", name)  # a bad value is not "missing"
        rule, message, fix = _column_message(column, check)
        rejections.add(mask, rule=rule, column=name, message=message, fix=fix,
                       values=frame[name])
    for column in spec.columns:
        if column.unique and column.name in typed.columns:
            ids = typed[column.name]
            duplicated = ids.duplicated(keep="first").to_numpy() & ids.notna().to_numpy()
            if spec.name == "returns":
                rule, message, fix = (
                    "returned_twice",
                    "{n} returns are for a line already returned on an earlier row "
                    "(a line is returned at most once; the first return is kept)",
                    "keep one return per line_id: merge the duplicates into one row",
                )
            else:
                rule, message, fix = (
                    "duplicate_id",
                    f"{{n}} rows repeat a {column.name} already used on an earlier row "
                    "(the first row is kept)",
                    f"make '{column.name}' unique: merge or renumber the duplicated rows",
                )
            rejections.add(duplicated, rule=rule, column=column.name, message=message,
                           fix=fix, values=ids)
    return typed


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
