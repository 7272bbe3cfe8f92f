"""Console output of the CLI: logging set-up and rendering of problems and tables."""

from __future__ import annotations

import logging
import sys

from rich.console import Console
from rich.logging import RichHandler

from returnrisk.data.problems import Problem
from returnrisk.strict_json import dumps

__all__ = ["console", "err_console", "configure_logging", "print_problems", "print_json_line"]

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def configure_logging(level: int = logging.INFO) -> None:
    root = logging.getLogger()
    root.handlers[:] = [RichHandler(console=err_console, show_path=False, show_time=False,
                                    rich_tracebacks=False, markup=False)]
    root.setLevel(logging.WARNING)
    logging.getLogger("returnrisk").setLevel(level)
    for noisy in ("mlflow", "alembic", "urllib3", "git"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def print_problems(problems: list[Problem], *, title: str = "problems") -> None:
    structural = [p for p in problems if p.structural]
    rows = [p for p in problems if not p.structural]
    if structural:
        err_console.print(f"[bold red]{len(structural)} error(s) stop loading:[/]")
        for p in structural:
            err_console.print(f"  ✗ {p.render()}", markup=False, style="red")
    if rows:
        err_console.print(f"[bold yellow]{len(rows)} row-level problem(s):[/]")
        for p in rows:
            err_console.print(f"  ! {p.render()}", markup=False, style="yellow")


def print_json_line(payload: dict) -> None:
    """The machine-readable output of a command run with ``--json``: one line of strict JSON.

    It is the only thing such a command writes to stdout (tables, progress and messages go to
    stderr); undefined numbers (NaN, ±Infinity) are written as ``null``, never as bare tokens.
    """
    sys.stdout.write(dumps(payload) + "\n")
    sys.stdout.flush()
