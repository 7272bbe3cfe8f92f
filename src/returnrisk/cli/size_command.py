"""``returnrisk size-advice``."""

from __future__ import annotations

import typer
from rich.table import Table

from returnrisk.cli import app
from returnrisk.cli.console import console, err_console, print_json_line
from returnrisk.cli.model_commands import MODEL_HELP, TRACKING_HELP, tracker_for
from returnrisk.config import DEFAULT_MODEL_URI


@app.command("size-advice")
def size_advice_command(
    product: str = typer.Option(..., "--product", help="Product id."),
    customer: str = typer.Option(None, "--customer", help="Customer id (omit for an anonymous visitor)."),
    model: str = typer.Option(DEFAULT_MODEL_URI, "--model", help=MODEL_HELP),
    lang: str = typer.Option("en", "--lang", help="en or fr."),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help=TRACKING_HELP),
    as_json: bool = typer.Option(False, "--json", help="End with the advice as one JSON line."),
) -> None:
    """Which size to take, with P(return), P(too small), P(too large) and P(fit) per size."""
    from returnrisk.errors import InputError
    from returnrisk.scoring import ExplainedScorer, SizeNotOffered, UnknownProduct
    from returnrisk.scoring.size_advice import size_advice

    if lang not in ("en", "fr"):
        raise InputError(f"--lang {lang!r} is not supported: use en or fr")
    bundle, ref = tracker_for(tracking_uri).load_bundle(model)
    scorer = ExplainedScorer(bundle, ref.version)
    try:
        advice = size_advice(scorer, product, customer, lang)
    except UnknownProduct:
        raise InputError(f"product {product!r} is not in the model's catalogue (snapshot of "
                         f"{bundle.meta.get('as_of', '?')}): check the id") from None
    except SizeNotOffered:
        raise InputError(f"product {product!r} is not sold in sizes: there is no size to advise") from None
    out = err_console if as_json else console  # with --json, stdout holds the JSON line only
    table = Table(title=f"size advice — {product}" + (f" for {customer}" if customer else " (visitor)"),
                  title_justify="left")
    for column in ("size", "P(return)", "P(too small)", "P(too large)", "P(fit)"):
        table.add_column(column, justify="right")
    for o in advice.sizes:
        mark = " ◀" if o.size == advice.recommended_size else ""
        table.add_row(o.size + mark, f"{o.p_return:.1%}", f"{o.p_too_small:.1%}", f"{o.p_too_large:.1%}",
                      f"{o.p_fit:.1%}")
    out.print(table)
    if advice.recommended_size:
        out.print(f"recommended: {advice.recommended_size} (usual size {advice.usual_size}, confidence "
                      f"{advice.confidence:.0%} {advice.confidence_label})")
    out.print(advice.message or "no size message: the evidence does not support one")
    if as_json:
        print_json_line(advice.to_dict())
