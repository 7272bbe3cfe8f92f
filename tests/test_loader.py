"""The data contract: parsing, every validation rule with its message, quarantine, policy."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import ORDER_LINES, PRODUCTS, RETURNS, write_shop
from returnrisk.data.loader import load_shop
from returnrisk.data.problems import DataError


def problem(shop, rule):
    found = [p for p in shop.problems if p.rule == rule]
    assert found, f"no problem with rule {rule}: {[p.rule for p in shop.problems]}"
    return found[0]


def test_clean_shop_loads_with_types_defaults_and_utc(tiny_shop):
    shop = load_shop(tiny_shop)
    assert shop.problems == []
    lines = shop.order_lines.set_index("line_id")
    # naive values are UTC, offsets are converted, nanoseconds kept
    assert lines.loc["L1", "ordered_at"] == pd.Timestamp("2025-03-01 10:00:00", tz="UTC")
    assert lines.loc["L5", "ordered_at"] == pd.Timestamp("2025-03-04 07:00:00", tz="UTC")
    assert lines.loc["L3", "ordered_at"] == pd.Timestamp("2025-03-02 12:30:00.123456789", tz="UTC")
    assert lines.loc["L4", "ordered_at"] == pd.Timestamp("2025-03-03", tz="UTC")
    # defaults: quantity 1, unit price = product price
    assert lines.loc["L5", "quantity"] == 1
    assert lines.loc["L3", "unit_price"] == pytest.approx(69.0)
    products = shop.products.set_index("product_id")
    assert products.loc["P1", "has_size_guide"] is True or products.loc["P1", "has_size_guide"] == True  # noqa: E712
    assert products.loc["P2", "has_size_guide"] == False  # noqa: E712  "no" accepted
    assert pd.isna(products.loc["P3", "has_size_guide"])
    assert products.loc["P2", "created_at"] == pd.Timestamp("2025-01-15 08:00:00", tz="UTC")
    returns = shop.returns.set_index("line_id")
    assert returns.loc["L2", "reason_source"] == "given"
    assert returns.loc["L3", "reason_source"] == "none"
    assert returns.loc["L2", "reason_group"] == "too_large"


def test_csv_and_parquet_round_trip_give_the_same_shop(tiny_shop, tmp_path):
    csv_shop = load_shop(tiny_shop)
    parquet_dir = tmp_path / "parquet"
    parquet_dir.mkdir()
    csv_shop.products.to_parquet(parquet_dir / "products.parquet", index=False)
    csv_shop.order_lines.to_parquet(parquet_dir / "order_lines.parquet", index=False)
    csv_shop.returns.drop(columns=["reason_source", "reason_group"]).to_parquet(
        parquet_dir / "returns.parquet", index=False)
    pq_shop = load_shop(parquet_dir)
    assert pq_shop.problems == []
    for name in ("products", "order_lines", "returns"):
        a, b = getattr(csv_shop, name), getattr(pq_shop, name)
        pd.testing.assert_frame_equal(a.reset_index(drop=True), b[a.columns].reset_index(drop=True),
                                      check_dtype=False)


def test_extra_columns_are_kept(tmp_path):
    lines = ORDER_LINES.replace("ordered_at\n", "ordered_at,channel\n", 1)
    lines = "\n".join(l + (",web" if i else "") for i, l in enumerate(lines.strip().splitlines())) + "\n"
    shop = load_shop(write_shop(tmp_path / "s", lines=lines))
    assert shop.problems == []
    assert (shop.order_lines["channel"] == "web").all()


def test_missing_file_is_structural_and_lists_files(tmp_path):
    folder = write_shop(tmp_path / "s")
    (folder / "returns.csv").unlink()
    with pytest.raises(DataError) as err:
        load_shop(folder)
    (p,) = err.value.problems
    assert p.rule == "missing_file" and p.structural
    assert f"file missing: expected returns.csv or returns.parquet in {folder}" in p.message
    assert "order_lines.csv" in p.message
    assert not (folder / ".returnrisk").exists()


def test_missing_required_column_message_names_column_and_columns_found(tmp_path):
    lines = ORDER_LINES.replace("customer_id,", "").replace(",C1,", ",").replace(",C2,", ",").replace(",C3,", ",")
    folder = write_shop(tmp_path / "s", lines=lines)
    with pytest.raises(DataError) as err:
        load_shop(folder)
    (p,) = err.value.problems
    assert p.message == ("column 'customer_id' missing in order_lines.csv "
                         "(columns found: line_id, order_id, product_id, size, quantity, unit_price, ordered_at)")
    assert "add a 'customer_id' column" in p.fix


def test_all_structural_problems_are_reported_at_once(tmp_path):
    folder = write_shop(tmp_path / "s", products="product_id,brand\n", returns="line_id\nL1\n")
    (folder / "order_lines.csv").write_bytes(b"\xff\xfe\x00garbage\x00")
    with pytest.raises(DataError) as err:
        load_shop(folder)
    rules = sorted((p.table, p.rule, p.column or "") for p in err.value.problems)
    assert ("products", "empty_table", "") in rules
    assert ("products", "missing_column", "category") in rules
    assert ("products", "missing_column", "price") in rules
    assert ("returns", "missing_column", "returned_at") in rules
    assert any(t == "order_lines" and r in ("unreadable_file", "missing_column") for t, r, _ in rules)


def test_empty_table_is_an_error(tmp_path):
    folder = write_shop(tmp_path / "s", returns="line_id,returned_at\n")
    with pytest.raises(DataError) as err:
        load_shop(folder)
    assert [p.rule for p in err.value.problems] == ["empty_table"]
    assert err.value.problems[0].message == "returns.csv has no data rows"


@pytest.mark.parametrize(
    ("table", "bad_text", "good_text", "rule", "column", "message", "value"),
    [
        ("products", "P2,jeans,Nord,69.00", "P2,jeans,Nord,-5", "below_minimum", "price",
         "1 values are below the minimum of 0", "-5"),
        ("products", "P2,jeans,Nord,69.00", "P2,jeans,Nord,cheap", "wrong_type", "price",
         "1 values are not numbers", "cheap"),
        ("products", ",no,3,", ",maybe,3,", "wrong_type", "has_size_guide",
         "1 values are not true/false values", "maybe"),
        ("products", "P3,bags,Lune,99.00,,2", "P3,bags,Lune,99.00,,2.5", "wrong_type", "n_photos",
         "1 values are not whole numbers", "2.5"),
        ("order_lines", "2025-03-03\n", "03/2025/03\n", "wrong_type", "ordered_at",
         "1 values are unparseable timestamps", "03/2025/03"),
        ("order_lines", "L4,O3,C3,P3,,2,", "L4,O3,C3,P3,,0,", "below_minimum", "quantity",
         "1 values are below the minimum of 1", "0"),
        ("order_lines", "L5,O4,C2,P1", "L5,O4,,P1", "missing_value", "customer_id",
         "1 rows have no value in required column 'customer_id'", None),
        ("order_lines", "L4,O3,C3,P3", "L4,O3,C3,P9", "unknown_product", "product_id",
         "1 order lines reference a product_id that is not in products (or whose product row was set aside)", "P9"),
        ("order_lines", "L5,O4", "L1,O4", "duplicate_id", "line_id",
         "1 rows repeat a line_id already used on an earlier row (the first row is kept)", "L1"),
        ("returns", "L5,2025-03-15,changed_mind", "L5,2025-03-15,sizing", "unknown_code", "reason_code",
         "1 values are not in the reason taxonomy", "sizing"),
        ("returns", "L5,2025-03-15", "L9,2025-03-15", "unknown_line", "line_id",
         "1 returns are for a line_id that is not in order_lines (or whose order line was set aside)", "L9"),
        ("returns", "L5,2025-03-15", "L2,2025-03-15", "over_returned", "quantity",
         "1 returns would take their line's returned units above its ordered quantity (a return without "
         "quantity returns the whole line; the earlier returns are kept)", "line L2: 1 returned after 1, 1 ordered"),
        ("returns", "L5,2025-03-15", "L5,2025-03-01", "returned_before_ordered", "returned_at",
         "1 returns are dated before their line's ordered_at", None),
        ("returns", "2025-03-09,too_large,,2025-03-11", "2025-03-09,too_large,,2025-03-05",
         "refunded_before_returned", "refunded_at", "1 refunds are dated before their return's returned_at", None),
        ("returns", "2025-03-11,7.50", "2025-03-11,-1", "below_minimum", "return_cost",
         "1 values are below the minimum of 0", "-1"),
    ],
)
def test_row_level_rule_message_and_quarantine(tmp_path, table, bad_text, good_text, rule, column, message, value):
    texts = {"products": PRODUCTS, "order_lines": ORDER_LINES, "returns": RETURNS}
    assert bad_text in texts[table], bad_text
    texts[table] = texts[table].replace(bad_text, good_text, 1)
    folder = write_shop(tmp_path / "s", texts["products"], texts["order_lines"], texts["returns"])
    shop = load_shop(folder)
    p = problem(shop, rule)
    assert p.column == column
    assert p.message == message
    assert p.count == 1
    if value is not None:
        assert str(p.values[0]) == value
    assert p.fix  # every problem says what to do
    assert p.render().startswith(f"{table}.csv, column '{column}': {message} (e.g. row ")
    # quarantine: the original row with its reason, and the clean rows without it
    quarantine = pd.read_csv(folder / ".returnrisk" / "quarantine" / f"{table}.csv", dtype=str)
    assert len(quarantine) >= 1
    assert quarantine["_reason"].str.contains(rule).any()
    assert shop.tables[table].rows_quarantined >= 1
    assert shop.tables[table].rows_kept + shop.tables[table].rows_quarantined == shop.tables[table].rows_read


def test_quarantine_row_numbers_and_original_values(tmp_path):
    lines = ORDER_LINES.replace("L4,O3,C3,P3,,2,89.00,2025-03-03", "L4,O3,C3,P3,,2,89.00,not a date")
    folder = write_shop(tmp_path / "s", lines=lines)
    shop = load_shop(folder)
    quarantine = pd.read_csv(folder / ".returnrisk" / "quarantine" / "order_lines.csv", dtype=str)
    assert quarantine["_row"].tolist() == ["4"]
    assert quarantine["ordered_at"].tolist() == ["not a date"]
    assert quarantine["line_id"].tolist() == ["L4"]
    assert "L4" not in set(shop.order_lines["line_id"])
    # nothing silently lost: kept + quarantined = read
    t = shop.tables["order_lines"]
    assert (t.rows_read, t.rows_kept, t.rows_quarantined) == (5, 4, 1)


def test_quarantine_cascades_with_explicit_reason(tmp_path):
    products = PRODUCTS.replace("P2,jeans,Nord,69.00", "P2,jeans,Nord,-1")
    folder = write_shop(tmp_path / "s", products=products)
    shop = load_shop(folder)
    # the product is set aside, so is its line, so is that line's return — each with its reason
    assert "P2" not in set(shop.products["product_id"])
    assert "L3" not in set(shop.order_lines["line_id"])
    assert "L3" not in set(shop.returns["line_id"])
    returns_q = pd.read_csv(folder / ".returnrisk" / "quarantine" / "returns.csv", dtype=str)
    assert returns_q["_reason"].str.contains("unknown_line").all()


def test_malformed_csv_row_is_quarantined_with_its_text(tmp_path):
    lines = ORDER_LINES.replace("L4,O3,C3,P3,,2,89.00,2025-03-03", "L4,O3,C3,P3,,2,89.00,2025-03-03,extra,fields")
    folder = write_shop(tmp_path / "s", lines=lines)
    shop = load_shop(folder)
    p = problem(shop, "malformed_row")
    assert p.message == "1 rows do not have as many fields as the header"
    assert p.rows == [4]
    quarantine = pd.read_csv(folder / ".returnrisk" / "quarantine" / "order_lines.csv", dtype=str)
    assert quarantine["_raw_text"].str.contains("extra,fields").any()
    # the other rows keep their own numbers
    assert shop.order_lines["line_id"].tolist() == ["L1", "L2", "L3", "L5"]


def test_many_problems_are_all_reported_with_at_most_five_examples(tmp_path):
    rows = "\n".join(f"X{i},O9,C9,P404,M,1,10,2025-04-01" for i in range(12))
    folder = write_shop(tmp_path / "s", lines=ORDER_LINES + rows + "\n")
    shop = load_shop(folder)
    p = problem(shop, "unknown_product")
    assert p.count == 12 and len(p.rows) == 5
    assert p.rows == [6, 7, 8, 9, 10]
    assert "… 7 more" in p.render()


def test_strict_turns_row_problems_into_an_error_and_writes_nothing(tmp_path):
    lines = ORDER_LINES.replace("L4,O3,C3,P3", "L4,O3,C3,P9")
    folder = write_shop(tmp_path / "s", lines=lines)
    with pytest.raises(DataError) as err:
        load_shop(folder, strict=True)
    assert [p.rule for p in err.value.problems] == ["unknown_product"]
    assert not (folder / ".returnrisk").exists()


def test_custom_quarantine_dir_and_stale_file_removed(tmp_path):
    lines = ORDER_LINES.replace("L4,O3,C3,P3", "L4,O3,C3,P9")
    folder = write_shop(tmp_path / "s", lines=lines)
    target = tmp_path / "q"
    load_shop(folder, quarantine_dir=target)
    assert (target / "order_lines.csv").is_file()
    write_shop(folder)  # fixed
    load_shop(folder, quarantine_dir=target)
    assert not (target / "order_lines.csv").exists()


def test_table_with_only_bad_rows_is_an_error(tmp_path):
    returns = "line_id,returned_at\nL404,2025-03-09\n"
    folder = write_shop(tmp_path / "s", returns=returns)
    with pytest.raises(DataError) as err:
        load_shop(folder)
    rules = [p.rule for p in err.value.problems]
    assert "unknown_line" in rules and "empty_table" in rules


def test_truncated_shop_drops_later_events(tiny_shop):
    shop = load_shop(tiny_shop)
    cut = pd.Timestamp("2025-03-04", tz="UTC")
    past = shop.truncated(cut)
    assert past.order_lines["ordered_at"].max() < cut
    assert set(past.returns["line_id"]) == set()  # all returns were registered on or after 2025-03-09
