"""The ``returnrisk`` command line. Command names and options are a contract: scripts call them."""

from __future__ import annotations

import logging
import os
import sys

import typer
from rich.markup import escape

from returnrisk.cli.console import configure_logging, err_console, print_problems
from returnrisk.data.problems import DataError
from returnrisk.errors import ReturnRiskError

__all__ = ["app", "main"]

app = typer.Typer(
    name="returnrisk",
    help="Return risk, size advice, fix suggestions and returns operations for a shop's history.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show debug logs."),
) -> None:
    configure_logging(logging.DEBUG if verbose else logging.INFO)


def _register() -> None:
    from returnrisk.cli import data_commands  # noqa: F401  (registers commands on import)

    for module in ("model_commands", "serve_command", "fixes_command", "size_command",
                   "reasons_command", "ops_commands", "db_command", "import_command", "lifecycle_commands",
                   "customer_commands",
                   "monitor_command", "retrain_command", "capture_commands"):
        try:
            __import__(f"returnrisk.cli.{module}")
        except ModuleNotFoundError as exc:  # a command group not built in this version
            if exc.name != f"returnrisk.cli.{module}":
                raise


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script: expected failures exit 2 with a clear message.

    Usage errors are reported by Typer (exit 2); :class:`DataError` lists every problem found in
    the input files; other :class:`ReturnRiskError` print their message.
    """
    # OpenMP threads (LightGBM) sleep instead of spinning while they wait: on a busy 2-core machine
    # spinning threads turned a 46 s training into 13 minutes (measured; see docs/benchmarks.md)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    _register()
    try:
        app(args=argv, standalone_mode=True)
    except DataError as exc:
        print_problems(exc.problems)
        sys.exit(2)
    except ReturnRiskError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        sys.exit(2)
