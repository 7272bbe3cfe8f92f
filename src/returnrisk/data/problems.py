"""Problems found in a shop's files, and the error raised when they are fatal."""

from __future__ import annotations

from dataclasses import dataclass, field

from returnrisk.errors import InputError

__all__ = ["Problem", "DataError", "MAX_EXAMPLES"]

#: How many example rows / values a problem quotes.
MAX_EXAMPLES = 5


@dataclass
class Problem:
    """One problem, with where it is and what to do about it.

    ``rows`` are example 1-based data row numbers (the header is not counted; in a CSV file
    without line breaks inside values, data row ``n`` is on line ``n + 1``) and ``values`` the
    offending values on those rows; ``n_rows`` counts every row concerned. ``structural``
    problems stop loading; row-level ones set the rows aside in quarantine.
    """

    table: str
    file: str
    rule: str
    message: str
    fix: str
    column: str | None = None
    rows: list[int] = field(default_factory=list)
    values: list[object] = field(default_factory=list)
    structural: bool = False
    n_rows: int | None = None

    @property
    def count(self) -> int:
        return len(self.rows) if self.n_rows is None else self.n_rows

    def _pairs(self) -> list[tuple[int | None, object]]:
        if not self.rows:  # a problem about values rather than rows (e.g. a column's values)
            return [(None, v) for v in self.values[:MAX_EXAMPLES]]
        return list(zip(self.rows, self.values))[:MAX_EXAMPLES]

    def examples(self) -> str:
        pairs = self._pairs()
        if not pairs:
            return ""
        shown = ", ".join(f"row {row}: {value!r}" if row is not None else repr(value) for row, value in pairs)
        more = f", … {self.count - len(pairs)} more" if self.count > len(pairs) else ""
        return f" (e.g. {shown}{more})"

    def render(self) -> str:
        where = f"{self.file}" + (f", column '{self.column}'" if self.column else "")
        return f"{where}: {self.message}{self.examples()}. Fix: {self.fix}"

    def to_dict(self) -> dict:
        return {
            "table": self.table,
            "file": self.file,
            "column": self.column,
            "rule": self.rule,
            "structural": self.structural,
            "count": self.count,
            "message": self.message,
            "examples": [
                {"row": None if r is None else int(r), "value": None if v is None else str(v)}
                for r, v in self._pairs()
            ],
            "fix": self.fix,
        }


class DataError(InputError):
    """The shop's files cannot be used as they are; ``problems`` says every reason (bad input)."""

    code = "invalid_data"

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = [p.render() for p in problems]
        super().__init__(
            f"{len(problems)} problem(s) in the input data:\n" + "\n".join(f"- {l}" for l in lines)
        )
