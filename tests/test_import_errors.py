"""Bad input to ``returnrisk import``: a clear message naming the file, exit 2, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from returnrisk.errors import InputError
from returnrisk.importers import import_shop


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "returnrisk", *args], capture_output=True, text=True, timeout=300)


def folder_with(tmp_path: Path, name: str, content: str) -> Path:
    folder = tmp_path / "pages"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(content)
    return folder


def test_broken_json_names_the_file_and_position(tmp_path):
    pages = folder_with(tmp_path, "orders-2.json", '{"orders": [{"id": 1,}]}')
    proc = cli("import", "shopify", "--input", str(pages), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "orders-2.json is not valid JSON" in proc.stderr and "line 1" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (tmp_path / "out").exists()  # nothing written


def test_unknown_shape_says_what_was_found_and_what_was_expected(tmp_path):
    pages = folder_with(tmp_path, "export.json", json.dumps({"customers": [{"id": 1}]}))
    proc = cli("import", "shopify", "--input", str(pages), "--out", str(tmp_path / "out"), "--json")
    assert proc.returncode == 2
    assert "export.json" in proc.stderr and "keys customers" in proc.stderr and "GraphQL" in proc.stderr
    payload = json.loads(proc.stdout.strip())  # --json: one strict JSON line, even on error
    assert payload["imported"] is False and "export.json" in payload["error"]
    assert "Traceback" not in proc.stderr


def test_empty_folder_and_missing_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    proc = cli("import", "woocommerce", "--input", str(tmp_path / "empty"), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2 and "no files in" in proc.stderr and "Traceback" not in proc.stderr
    with pytest.raises(InputError, match="does not exist"):
        import_shop("woocommerce", tmp_path / "nowhere", tmp_path / "out")
    (tmp_path / "a-file.json").write_text("[]")
    with pytest.raises(InputError, match="is a file, not a folder"):
        import_shop("woocommerce", tmp_path / "a-file.json", tmp_path / "out")


@pytest.mark.parametrize("platform, name, content, message", [
    ("shopify", "q.json", '{"errors": [{"message": "Field \'foo\' doesn\'t exist on type \'Order\'"}]}',
     "holds an API error"),
    ("shopify", "bulk.jsonl", '{"id": "gid://shopify/Order/1"}\n{"oops": 1}\n', "a JSONL line"),
    ("woocommerce", "p.json", '{"code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources.", '
                              '"data": {"status": 401}}', "Sorry, you cannot list resources"),
    ("woocommerce", "p.json", '[{"foo": 1}]', "cannot recognise this woocommerce page"),
    ("prestashop", "orders.json", '{"orders": [{"id": 1}, {"id": 2}]}', "display=full"),
    ("prestashop", "orders.json", '[1, 2]', "cannot recognise this prestashop page"),
    ("woocommerce", "empty.json", "[]", "no woocommerce orders or products"),
    ("shopify", "blank.json", "   ", "is empty"),
    ("shopify", "bad.jsonl", '{"id": "gid://shopify/Order/1"}\n{"id": 2,\n', "bad.jsonl line 2 is not valid JSON"),
])
def test_bad_pages_are_input_errors(tmp_path, platform, name, content, message):
    pages = folder_with(tmp_path, name, content)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        import_shop(platform, pages, tmp_path / "out")
    assert name in str(caught.value) or "no " in str(caught.value)


def test_unknown_platform_and_bad_options(tmp_path):
    proc = cli("import", "magento", "--input", str(tmp_path), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "unknown platform 'magento'" in proc.stderr
    with pytest.raises(InputError, match="not a time zone"):
        import_shop("prestashop", tmp_path, tmp_path / "o", settings=__import__(
            "returnrisk.importers", fromlist=["ImportSettings"]).ImportSettings(timezone="Mars/Olympus"))


def test_append_refuses_a_folder_of_other_tables(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "products.csv").write_text("sku,name\n1,x\n")
    pages = Path(__file__).resolve().parent / "fixtures" / "prestashop"
    with pytest.raises(InputError, match="not a table written by returnrisk import"):
        import_shop("prestashop", pages, out, append=True)
