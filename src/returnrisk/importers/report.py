"""The import report (``import-report.json``): what was read, written and set aside, and why.

Every input line is accounted for: ``order_lines.read == order_lines.written +
sum(order_lines.skipped.values())``, and the same for the return and refund lines
(``returns``). :meth:`ImportReport.reconciles` checks both; the report is strict JSON.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ImportReport", "Tally", "REPORT_FILE"]

REPORT_FILE = "import-report.json"


@dataclass
class Tally:
    """Rows read, written and skipped (per reason) for one kind of input line."""

    read: int = 0
    written: int = 0
    skipped: Counter = field(default_factory=Counter)

    def skip(self, reason: str, n: int = 1) -> None:
        if n:
            self.skipped[reason] += int(n)

    @property
    def reconciles(self) -> bool:
        return self.read == self.written + sum(self.skipped.values())

    def to_dict(self) -> dict:
        return {"read": self.read, "written": self.written,
                "skipped": dict(sorted(self.skipped.items())), "reconciles": self.reconciles}


def _clean(value):
    if isinstance(value, float):
        return round(value, 2) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


@dataclass
class ImportReport:
    platform: str
    input_folder: str = ""
    output_folder: str = ""
    files: int = 0
    pages: dict = field(default_factory=dict)
    order_lines: Tally = field(default_factory=Tally)
    returns: Tally = field(default_factory=Tally)
    orders: dict = field(default_factory=dict)
    products: dict = field(default_factory=dict)
    refunds_without_return: dict = field(default_factory=dict)
    currencies: list = field(default_factory=list)
    sizes: dict = field(default_factory=dict)
    append: dict | None = None
    tables: dict = field(default_factory=dict)

    @property
    def reconciles(self) -> bool:
        return self.order_lines.reconciles and self.returns.reconciles

    def to_dict(self) -> dict:
        return _clean({
            "platform": self.platform,
            "input": {"folder": self.input_folder, "files": self.files, "pages": dict(sorted(self.pages.items()))},
            "output": {"folder": self.output_folder, "tables": self.tables},
            "order_lines": self.order_lines.to_dict(),
            "returns": self.returns.to_dict(),
            "refunds_without_return": self.refunds_without_return,
            "orders": self.orders,
            "products": self.products,
            "currencies": sorted(self.currencies),
            "sizes": self.sizes,
            "append": self.append,
            "reconciles": self.reconciles,
        })

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=False, ensure_ascii=False, indent=2)

    def write(self, folder: Path) -> Path:
        path = Path(folder) / REPORT_FILE
        path.write_text(self.to_json() + "\n", encoding="utf-8")
        return path
