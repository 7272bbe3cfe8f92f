"""``returnrisk portal-link`` (a customer's signed return link) and ``returnrisk inbox`` (the e-mail channel)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import typer

from returnrisk.cli import app
from returnrisk.cli.console import console, err_console, print_json_line
from returnrisk.config import read_settings
from returnrisk.errors import InputError

log = logging.getLogger(__name__)


# ---- portal-link --------------------------------------------------------------------------------
@app.command("portal-link")
def portal_link(
    order: str = typer.Option(..., "--order", help="The order's order_id (as in order_lines)."),
    base_url: str = typer.Option(None, "--base-url", help="The service's public address (default "
                                 "$RETURNRISK_PORTAL_BASE_URL), e.g. https://returns.shop.example."),
    as_json: bool = typer.Option(False, "--json", help='One JSON line: {"order_id", "url", "token", "valid_days"}.'),
) -> None:
    """Print the signed return-portal link of an order (valid RETURNRISK_PORTAL_LINK_DAYS days)."""
    from returnrisk.capture.links import PortalLinks
    from returnrisk.capture.settings import PortalSettings

    settings = read_settings(PortalSettings)
    if settings.portal_secret is None:
        raise InputError("RETURNRISK_PORTAL_SECRET is not set: set it to the same secret as the service's (at least "
                         "16 characters)")
    if not order.strip():
        raise InputError("--order is empty: pass the order's order_id")
    links = PortalLinks(settings.portal_secret.get_secret_value(), settings.link_seconds)
    base = (base_url or settings.portal_base_url or "").rstrip("/")
    token = links.token(order)
    url = f"{base}/returns/{token}"          # the one token made (a second one may carry another second)
    if as_json:
        print_json_line({"order_id": order.strip(), "url": url, "token": token,
                         "valid_days": settings.portal_link_days})
        return
    console.print(url, soft_wrap=True, highlight=False)
    if not base:
        err_console.print("[yellow]no base address: prefix the path with the service's address "
                          "(--base-url or RETURNRISK_PORTAL_BASE_URL)[/]")


# ---- inbox --------------------------------------------------------------------------------------
def _sources(imap: str | None, maildir: Path | None, eml_dir: Path | None) -> str:
    given = [name for name, value in (("--imap", imap), ("--maildir", maildir), ("--eml-dir", eml_dir)) if value]
    if len(given) != 1:
        raise InputError("give exactly one mailbox: --imap URL, --maildir DIR or --eml-dir DIR"
                         + (f" (got {', '.join(given)})" if given else ""))
    return given[0]


def _data_dir(data: Path | None) -> Path:
    from returnrisk.serving.settings import Settings  # RETURNRISK_DATA_DIR: a service setting

    folder = data or (Path(d) if (d := read_settings(Settings).data_dir) else None)
    if folder is None:
        raise InputError("no shop data: pass --data DIR (the folder holding products, order_lines and returns) or set "
                         "RETURNRISK_DATA_DIR")
    if not folder.is_dir():
        raise InputError(f"--data {folder} is not a folder: pass the shop's data folder")
    return folder


@app.command("inbox")
def inbox(
    imap: str = typer.Option(None, "--imap", help="imaps://USER@HOST[:993]/MAILBOX (password in "
                             "RETURNRISK_IMAP_PASSWORD), or imap://… with STARTTLS."),
    maildir: Path = typer.Option(None, "--maildir", help="A Maildir folder (cur/, new/)."),
    eml_dir: Path = typer.Option(None, "--eml-dir", help="A folder of .eml files."),
    once: bool = typer.Option(False, "--once", help="Process what is there, then stop (else: check again every "
                              "--interval seconds until stopped)."),
    data: Path = typer.Option(None, "--data", help="Shop data folder (default $RETURNRISK_DATA_DIR)."),
    db: str = typer.Option(None, "--db", help="Service database URL (default $RETURNRISK_DATABASE_URL)."),
    interval: float = typer.Option(60.0, "--interval", min=1.0, help="Seconds between two checks without --once."),
    since_days: int = typer.Option(30, "--since-days", min=1, help="IMAP: look at the messages of the last N days."),
    order_pattern: str = typer.Option(None, "--order-pattern", help="Regular expression finding order numbers (its "
                                      "first group is the number; default $RETURNRISK_INBOX_ORDER_PATTERN)."),
    as_json: bool = typer.Option(False, "--json", help="End with one JSON line: counts and each message's outcome."),
) -> None:
    """Record return requests sent by e-mail (channel email); unmatched ones go to the review list."""
    import re

    from returnrisk.capture.inbox.run import InboxRun
    from returnrisk.capture.settings import InboxSettings
    from returnrisk.serving.settings import Settings

    which = _sources(imap, maildir, eml_dir)
    settings = read_settings(InboxSettings)
    pattern = order_pattern or settings.inbox_order_pattern
    try:
        if re.compile(pattern).groups < 1:
            raise InputError("--order-pattern needs one group (…) around the order number")
    except re.error as exc:
        raise InputError(f"--order-pattern is not a regular expression: {exc}") from None
    folder = _data_dir(data)
    url = db or read_settings(Settings).database_url
    password = settings.imap_password.get_secret_value() if settings.imap_password else None
    run = InboxRun(url, folder, pattern, imap=imap, imap_password=password, maildir=maildir, eml_dir=eml_dir,
                   since_days=since_days)
    out = err_console if as_json else console
    try:
        while True:
            summary = run.once()
            out.print(f"{which}: {summary.describe()}")
            for outcome in summary.outcomes:
                if outcome.status == "review":
                    out.print(f"  [yellow]to review[/]: {outcome.key} — {outcome.why}")
            if once:
                break
            time.sleep(interval)
    except KeyboardInterrupt:
        out.print("stopped")
    finally:
        run.close()
    if as_json:
        print_json_line(summary.to_dict())
