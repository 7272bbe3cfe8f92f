"""`returnrisk validate` and `returnrisk demo-data` from the command line; the documented contract."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from conftest import ORDER_LINES, write_shop
from returnrisk.data.contract import TABLES

ROOT = Path(__file__).resolve().parents[1]


def cli(*args):
    return subprocess.run([sys.executable, "-m", "returnrisk", *args], capture_output=True, text=True, timeout=600)


def test_validate_clean_shop_reports_counts_and_exits_0(tiny_shop):
    proc = cli("validate", "--data", str(tiny_shop), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)  # the JSON alone on stdout, the human report on stderr
    assert report["valid"] is True and report["problems"] == []
    s = report["summary"]
    assert s["rows"]["order_lines"] == {"read": 5, "kept": 5, "quarantined": 0, "excluded": 0}
    assert s["return_rate"] == 0.6
    assert s["share_with_code"] == 2 / 3
    assert "orders from 2025-03-01" in proc.stderr
    assert "no problems found" in proc.stderr


def test_validate_broken_folder_prints_every_problem_and_exits_2(tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "products.csv").write_text("product_id,brand\nP1,X\n")
    (folder / "order_lines.csv").write_text("line_id,order_id\n")
    proc = cli("validate", "--data", str(folder))
    assert proc.returncode == 2
    err = proc.stderr
    assert "column 'category' missing in products.csv (columns found: product_id, brand)" in err
    assert "column 'price' missing in products.csv" in err
    assert "column 'customer_id' missing in order_lines.csv" in err
    assert "order_lines.csv has no data rows" in err
    assert "file missing: expected returns.csv or returns.parquet" in err
    assert not (folder / ".returnrisk").exists()


def test_validate_row_problems_quarantine_and_strict(tmp_path):
    lines = ORDER_LINES.replace("L4,O3,C3,P3", "L4,O3,C3,P404")
    folder = write_shop(tmp_path / "s", lines=lines)
    proc = cli("validate", "--data", str(folder))
    assert proc.returncode == 0
    assert "order lines reference a product_id that is not in products" in proc.stderr
    assert "row 4: 'P404'" in proc.stderr
    assert (folder / ".returnrisk" / "quarantine" / "order_lines.csv").is_file()
    strict = cli("validate", "--data", str(folder), "--strict", "--quarantine", str(tmp_path / "q"))
    assert strict.returncode == 2 and not (tmp_path / "q").exists()


def test_demo_data_cli(tmp_path):
    proc = cli("demo-data", "--out", str(tmp_path / "d"), "--seed", "4", "--lines", "3000")
    assert proc.returncode == 0, proc.stderr
    assert "3,000 order lines" in proc.stdout
    assert (tmp_path / "d" / "truth" / "lines.parquet").is_file()
    bad = cli("demo-data", "--out", str(tmp_path / "e"), "--lines", "10")
    assert bad.returncode == 2 and "10" in bad.stderr + bad.stdout


def test_documented_contract_matches_the_code():
    text = (ROOT / "docs" / "data-contract.md").read_text()
    for name, spec in TABLES.items():
        section = text.split(f"## `{name}`", 1)[1].split("\n## ", 1)[0]
        rows = re.findall(r"^\| (\w+) \| ([^|]+) \| (yes|no) \|", section, flags=re.M)
        assert [r[0] for r in rows] == spec.names, name
        assert [r[0] for r in rows if r[2] == "yes"] == spec.required, name
