"""``returnrisk forget`` and ``returnrisk export-customer``: a customer's rights of erasure and access (GDPR).

See :mod:`returnrisk.operations.personal_data` for what is held where and what each command does.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from returnrisk.cli import app
from returnrisk.cli.console import console, err_console, print_json_line
from returnrisk.config import read_settings
from returnrisk.errors import InputError

__all__ = ["forget", "export_customer"]

_DB_HELP = "Service database URL (default $RETURNRISK_DATABASE_URL, else sqlite:///returnrisk-returns.db)."
_DATA_HELP = "The shop's data folder (its order lines say which lines are the customer's; default $RETURNRISK_DATA_DIR)."


def _store_and_data(db: str | None, data: Path | None):
    """The service database's store, the shop folder, the database URL and the portal's photos folder."""
    from returnrisk.capture.settings import photo_dir_for
    from returnrisk.operations.store import ReturnStore
    from returnrisk.serving.settings import Settings  # the service's database: a service setting

    settings = read_settings(Settings)
    folder = data or (Path(settings.data_dir) if settings.data_dir else None)
    if folder is None:
        raise InputError("no shop folder: pass --data DIR (the folder you train on) or set RETURNRISK_DATA_DIR")
    url = db or settings.database_url
    try:
        return ReturnStore(url), folder, url, photo_dir_for(settings.portal, url)
    except ValueError as exc:
        raise InputError(f"--db: {exc}") from None


def _run(url: str, work):
    """``work()``; a database failure becomes one line naming the setting."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return work()
    except SQLAlchemyError as exc:
        raise InputError(f"cannot use the service database {url}: {str(exc).splitlines()[0]} — check --db "
                         "(RETURNRISK_DATABASE_URL)") from None


@app.command("forget")
def forget(
    customer: str = typer.Option(..., "--customer", help="The customer_id, as written in the order lines."),
    data: Path = typer.Option(None, "--data", help=_DATA_HELP),
    db: str = typer.Option(None, "--db", help=_DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="End with one JSON line: customer_hash, order_lines, "
                                 "texts_erased, webhook_lines, photos_erased, emails_erased, already_forgotten."),
) -> None:
    """Erase a customer's personal data: now, the words of their recorded returns, their id in the order lines
    received by webhook, the photos of their returns and the e-mails about their orders on the review list;
    their id and words in every later export (export-returns --merge-with), hence in the next model's
    snapshot."""
    from returnrisk.operations.personal_data import forget_customer

    store, folder, url, photos = _store_and_data(db, data)
    try:
        result = _run(url, lambda: forget_customer(store, customer, folder, photos))
    finally:
        store.dispose()
    out = err_console if as_json else console
    if result.lines == 0 and result.webhook_lines == 0:
        out.print(f"[yellow]no order line of customer {customer!r} in {folder}: nothing held in the shop's files "
                  "(check the id); recorded as forgotten anyway[/]")
    out.print(f"customer forgotten ({'again' if result.already_forgotten else 'recorded as a hash, not the id'}): "
              f"{result.texts_erased} recorded return text(s), {result.photos_erased} photo(s) and "
              f"{result.emails_erased} e-mail excerpt(s) erased, {result.webhook_lines} order line(s) received by "
              f"webhook anonymised; {result.lines} order line(s) will be exported "
              "without the customer's id (returnrisk export-returns --merge-with) and the next training drops them "
              f"from the model. The shop's own files in {folder} still hold them: export again and replace them.")
    if as_json:
        print_json_line(result.to_dict())


@app.command("export-customer")
def export_customer(
    customer: str = typer.Option(..., "--customer", help="The customer_id, as written in the order lines."),
    out: Path = typer.Option(..., "--out", help="JSON file to write (what is held about the customer)."),
    data: Path = typer.Option(None, "--data", help=_DATA_HELP),
    db: str = typer.Option(None, "--db", help=_DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="End with one JSON line: path, order_lines, returns."),
) -> None:
    """Write what is held about a customer (right of access): order lines, returns with their words, whether
    they were forgotten."""
    from returnrisk.operations.personal_data import customer_record
    from returnrisk.strict_json import dumps

    store, folder, url, _ = _store_and_data(db, data)
    try:
        record = _run(url, lambda: customer_record(store, customer, folder))
    finally:
        store.dispose()
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    partial.write_text(dumps(record, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, out)   # never half a file
    summary = {"path": str(out), "order_lines": len(record["order_lines"]),
               "returns": len(record["returns_in_shop_files"]) + len(record["returns_recorded"])}
    (err_console if as_json else console).print(
        f"{out}: {summary['order_lines']} order line(s), {summary['returns']} return(s) of customer {customer!r}")
    if as_json:
        print_json_line(summary)
