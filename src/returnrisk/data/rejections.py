"""Bookkeeping of the rows set aside from one table, with every reason for each."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from returnrisk.data.problems import MAX_EXAMPLES, Problem

__all__ = ["Rejections", "example_values"]


class Rejections:
    """Collects row-level problems of one table and the rows they set aside.

    Rows are addressed by position in the table's frame; ``row_numbers`` maps a position to the
    1-based data row of the file, which is what messages quote. :meth:`warn` records problems
    that keep their rows (``warnings``): the shop should know, nothing is set aside.
    """

    def __init__(self, table: str, file: str, n_rows: int, row_numbers: np.ndarray):
        self.table = table
        self.file = file
        self.n_rows = n_rows
        self.row_numbers = np.asarray(row_numbers)
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self._reasons: list[tuple[np.ndarray, str]] = []

    def add(
        self,
        mask: np.ndarray,
        *,
        rule: str,
        column: str | None,
        message: str,
        fix: str,
        values: pd.Series | np.ndarray | list | Callable | None = None,
        reason: str | None = None,
    ) -> None:
        """Record that the rows where ``mask`` is true break ``rule``.

        ``message`` may use ``{n}`` for the number of rows; ``values`` are the offending values
        (a series aligned with the table, or a callable giving the values at some positions);
        ``reason`` is the short text written next to each row in the quarantine file (default:
        the message).
        """
        problem = self._problem(mask, rule=rule, column=column, message=message, fix=fix, values=values)
        if problem is None:
            return
        self.problems.append(problem)
        self._reasons.append((np.flatnonzero(np.asarray(mask, dtype=bool)),
                              reason or f"{rule}: {problem.message}"))

    def warn(self, mask: np.ndarray, *, rule: str, column: str | None, message: str, fix: str,
             values: pd.Series | np.ndarray | list | Callable | None = None) -> None:
        """Record that the rows where ``mask`` is true deserve attention; they are kept."""
        problem = self._problem(mask, rule=rule, column=column, message=message, fix=fix, values=values)
        if problem is not None:
            self.warnings.append(problem)

    def _problem(self, mask, *, rule, column, message, fix, values) -> Problem | None:
        mask = np.asarray(mask, dtype=bool)
        positions = np.flatnonzero(mask)
        if positions.size == 0:
            return None
        shown = positions[:MAX_EXAMPLES]
        return Problem(
            self.table, self.file, rule, message.format(n=positions.size), fix,
            column=column,
            rows=[int(r) for r in self.row_numbers[shown]],
            values=example_values(values, shown),
            n_rows=int(positions.size),
        )

    def rows_with(self, rule: str, column: str | None) -> np.ndarray:
        """Mask of the rows already set aside for ``rule`` on ``column``."""
        out = np.zeros(self.n_rows, dtype=bool)
        for problem, (positions, _) in zip(self.problems, self._reasons):
            if problem.rule == rule and problem.column == column:
                out[positions] = True
        return out

    @property
    def mask(self) -> np.ndarray:
        """Rows set aside for any reason."""
        out = np.zeros(self.n_rows, dtype=bool)
        for positions, _ in self._reasons:
            out[positions] = True
        return out

    def reasons(self) -> pd.Series:
        """The reasons of every rejected row (indexed by position), joined by ``; ``."""
        if not self._reasons:
            return pd.Series([], dtype=object)
        parts = pd.concat(
            [pd.Series(reason, index=positions, dtype=object) for positions, reason in self._reasons]
        )
        return parts.groupby(level=0, sort=True).agg("; ".join)


def example_values(values: pd.Series | np.ndarray | list | Callable | None, positions: np.ndarray) -> list[object]:
    """The offending values a problem quotes, at ``positions`` (see :meth:`Rejections.add`)."""
    if values is None:
        return [None] * len(positions)
    if callable(values):
        return list(values(positions))
    vals = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    return [vals[p] for p in positions]
