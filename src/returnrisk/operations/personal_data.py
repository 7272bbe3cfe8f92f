"""A customer's personal data: erasure (``returnrisk forget``) and access (``returnrisk export-customer``).

What returnrisk holds about a customer (GDPR articles 15 and 17):

* in the **shop's files** (the history the merchant exports: order lines with the ``customer_id``,
  returns with the customer's own words in ``reason_text``) — returnrisk never writes into them;
* in the **service database**: the returns recorded through the API (``reason_text``: the customer's
  words), keyed by order line; the order lines the platform sent by webhook (with the ``customer_id``);
  the returns declared on the portal or by e-mail, the photos attached to them (files in the photos
  folder) and the e-mails set aside for review (their subject and an excerpt);
* in the **model's snapshot** (the customer's counts and size profile, rebuilt at each training).

:func:`forget_customer` erases the free texts of the customer's recorded returns in the service
database, their id from the order lines received by webhook (``forgotten:<line_id>``, like an export),
the photos of their returns (rows and files) and the subject and excerpt of the e-mails about their
orders on the review list, and records the customer as forgotten — as a SHA-256 of the id (:func:`customer_hash`), never
the id itself — so that every later :func:`~returnrisk.operations.export.export_returns` with
``--merge-with`` writes the customer's order lines under a per-line id (``forgotten:<line_id>``: the lines
still count for their products, nothing links them to a person) and without the texts of their returns.
The next training on that export drops the customer from the snapshot. The shop's own files are the
merchant's: the result says they still hold the customer until they are exported again.

:func:`customer_record` gathers what is held (order lines, returns from the files and from the database,
whether the customer was forgotten) as one JSON-ready dictionary.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from returnrisk.data.problems import DataError, Problem
from returnrisk.data.readers import find_table_file, read_table_file
from returnrisk.db.schema import (
    customer_returns_table,
    forgotten_table,
    return_photos_table,
    returns_table,
    review_returns_table,
    webhook_order_lines_table,
)
from returnrisk.errors import InputError
from returnrisk.operations.store import ReturnStore, utc_datetime
from returnrisk.timeutil import iso

__all__ = ["FORGOTTEN_PREFIX", "ForgetResult", "customer_hash", "customer_lines", "forget_customer",
           "forgotten_hashes", "anonymise_order_lines", "customer_record"]

log = logging.getLogger(__name__)

#: The ``customer_id`` an export writes for each line of a forgotten customer: ``forgotten:<line_id>``.
FORGOTTEN_PREFIX = "forgotten:"


def customer_hash(customer_id: str) -> str:
    """How a forgotten customer is recognised without keeping the id (hex SHA-256 of the id)."""
    return hashlib.sha256(f"returnrisk-customer:{customer_id}".encode()).hexdigest()


def _raw_table(folder: Path, name: str) -> pd.DataFrame:
    path = find_table_file(folder, name)
    if not isinstance(path, Path):
        raise DataError([path])
    raw = read_table_file(path, name)
    if isinstance(raw, Problem):
        raise DataError([raw])
    return raw.frame


def customer_lines(shop_dir: str | Path, customer_id: str) -> pd.DataFrame:
    """The customer's order lines in the shop's files (raw columns, as written)."""
    folder = Path(shop_dir)
    if not folder.is_dir():
        raise InputError(f"--data {folder} does not exist: pass the shop's data folder (the one you train on)")
    lines = _raw_table(folder, "order_lines")
    if "customer_id" not in lines.columns or "line_id" not in lines.columns:
        raise InputError(f"{folder}: the order lines have no customer_id or line_id column (columns found: "
                         f"{', '.join(map(str, lines.columns))}): fix them first (returnrisk validate --data DIR)")
    return lines[lines["customer_id"].astype(str) == str(customer_id)].reset_index(drop=True)


@dataclass(frozen=True)
class ForgetResult:
    customer_hash: str
    lines: int                  # the customer's order lines in the shop's files
    texts_erased: int           # recorded returns whose reason_text was erased
    already_forgotten: bool
    webhook_lines: int = 0      # order lines received by webhook whose customer_id was replaced
    photos_erased: int = 0      # photos of the customer's returns deleted (rows and files)
    emails_erased: int = 0      # review-list e-mails about the customer's orders whose subject/excerpt was erased

    def to_dict(self) -> dict:
        return {"customer_hash": self.customer_hash, "order_lines": self.lines, "texts_erased": self.texts_erased,
                "webhook_lines": self.webhook_lines, "photos_erased": self.photos_erased,
                "emails_erased": self.emails_erased, "already_forgotten": self.already_forgotten}


def _chunks(values: list[str], size: int = 500):
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _webhook_rows(conn: sa.Connection, customer_id: str) -> list[tuple[str, str]]:
    """(line_id, order_id) of the customer's order lines received by webhook."""
    table = webhook_order_lines_table
    return [(str(r[0]), str(r[1])) for r in conn.execute(
        sa.select(table.c.line_id, table.c.order_id).where(table.c.customer_id == customer_id))]


def _erase_photo_rows(conn: sa.Connection, line_ids: list[str], photo_dir: Path | None) -> list[Path]:
    """Delete the rows of these lines' photos; the files to delete once the transaction has committed."""
    table = return_photos_table
    files = []
    for chunk in _chunks(line_ids):
        names = [r[0] for r in conn.execute(sa.select(table.c.file_name).where(table.c.line_id.in_(chunk)))]
        if names and photo_dir is None:
            raise InputError(f"{len(names)} photo(s) of this customer's returns are on disk but the photos folder "
                             "is unknown: pass it (RETURNRISK_PORTAL_PHOTO_DIR) so they can be deleted")
        files += [photo_dir / Path(name).name for name in names]
        conn.execute(sa.delete(table).where(table.c.line_id.in_(chunk)))
    return files


def _order_ids(lines: pd.DataFrame, webhook_orders: set[str]) -> list[str]:
    """The customer's orders: those of their lines in the shop's files and those received by webhook."""
    in_files = set(lines["order_id"].astype(str)) if "order_id" in lines.columns else set()
    return sorted(in_files | webhook_orders)


def forget_customer(store: ReturnStore, customer_id: str, shop_dir: str | Path,
                    photo_dir: str | Path | None = None) -> ForgetResult:
    """Erase the customer's personal data in the service database and record them as forgotten (idempotent).

    ``photo_dir`` is the portal's photos folder (the photos of the customer's returns are deleted from
    it); the database changes are one transaction, the photo files are deleted once it has committed.
    """
    customer_id = str(customer_id).strip()
    if not customer_id:
        raise InputError("--customer is empty: pass the customer_id as written in the order lines")
    lines = customer_lines(shop_dir, customer_id)
    store.prepare()
    hashed = customer_hash(customer_id)
    now = utc_datetime(pd.Timestamp.now(tz="UTC"))
    erased = 0
    with store.engine.begin() as conn:
        webhook = _webhook_rows(conn, customer_id)
        line_ids = sorted(set(lines["line_id"].astype(str)) | {line for line, _ in webhook})
        order_ids = _order_ids(lines, {order for _, order in webhook})
        for chunk in _chunks(line_ids):
            erased += conn.execute(sa.update(returns_table).where(
                returns_table.c.line_id.in_(chunk), returns_table.c.reason_text.is_not(None))
                .values(reason_text=None, updated_at=now)).rowcount
        wh = webhook_order_lines_table
        anonymised = conn.execute(sa.update(wh).where(wh.c.customer_id == customer_id).values(
            customer_id=sa.literal(FORGOTTEN_PREFIX, sa.String) + wh.c.line_id)).rowcount
        emails = 0
        rv = review_returns_table
        for chunk in _chunks(order_ids):
            emails += conn.execute(sa.update(rv).where(
                rv.c.order_id.in_(chunk), sa.or_(rv.c.subject.is_not(None), rv.c.excerpt.is_not(None)))
                .values(subject=None, excerpt=None)).rowcount
        photo_files = _erase_photo_rows(conn, line_ids, None if photo_dir is None else Path(photo_dir))
        known = conn.execute(sa.select(forgotten_table.c.returns_erased)
                             .where(forgotten_table.c.customer_hash == hashed)).first()
        if known is None:
            conn.execute(sa.insert(forgotten_table).values(customer_hash=hashed, forgotten_at=now,
                                                           returns_erased=erased))
        else:
            conn.execute(sa.update(forgotten_table).where(forgotten_table.c.customer_hash == hashed)
                         .values(returns_erased=forgotten_table.c.returns_erased + erased))
    for path in photo_files:
        path.unlink(missing_ok=True)
    photos = len(photo_files)
    log.info("customer %s… forgotten: %d order lines (%d received by webhook), %d recorded return texts, "
             "%d photos and %d e-mail excerpts erased", hashed[:12], len(line_ids), anonymised, erased, photos, emails)
    return ForgetResult(hashed, len(lines), erased, known is not None, anonymised, photos, emails)


def forgotten_hashes(store: ReturnStore) -> set[str]:
    """The hashes of every forgotten customer."""
    store.prepare()
    with store.engine.connect() as conn:
        return {row[0] for row in conn.execute(sa.select(forgotten_table.c.customer_hash))}


def anonymise_order_lines(lines: pd.DataFrame, forgotten: set[str]) -> tuple[pd.DataFrame, set[str]]:
    """``lines`` with forgotten customers' ids replaced by ``forgotten:<line_id>``; and those lines' ids."""
    if not forgotten or "customer_id" not in lines.columns:
        return lines, set()
    ids = lines["customer_id"].astype(str)
    hit = ids.map({c: customer_hash(c) in forgotten for c in ids.unique()}).to_numpy(dtype=bool)
    if not hit.any():
        return lines, set()
    out = lines.copy()
    out["customer_id"] = out["customer_id"].astype(object)
    out.loc[hit, "customer_id"] = FORGOTTEN_PREFIX + out.loc[hit, "line_id"].astype(str)
    return out, set(out.loc[hit, "line_id"].astype(str))


def _records(frame: pd.DataFrame) -> list[dict]:
    out = []
    for row in frame.astype(object).where(frame.notna(), None).to_dict("records"):
        out.append({k: (iso(v) if isinstance(v, pd.Timestamp) else v) for k, v in row.items()})
    return out


def _rows(conn: sa.Connection, query) -> list[dict]:
    return [{k: (iso(v) if hasattr(v, "isoformat") else v) for k, v in row._mapping.items()}
            for row in conn.execute(query)]


def customer_record(store: ReturnStore, customer_id: str, shop_dir: str | Path) -> dict:
    """Everything held about the customer (see the module docstring), JSON-ready."""
    customer_id = str(customer_id).strip()
    if not customer_id:
        raise InputError("--customer is empty: pass the customer_id as written in the order lines")
    lines = customer_lines(shop_dir, customer_id)
    line_ids = set(lines["line_id"].astype(str))
    shop_returns = _raw_table(Path(shop_dir), "returns") if isinstance(find_table_file(Path(shop_dir), "returns"),
                                                                       Path) else pd.DataFrame(columns=["line_id"])
    shop_returns = shop_returns[shop_returns["line_id"].astype(str).isin(line_ids)] if "line_id" in \
        shop_returns.columns else shop_returns.iloc[0:0]
    store.prepare()
    hashed = customer_hash(customer_id)
    with store.engine.connect() as conn:
        forgotten = conn.execute(sa.select(forgotten_table).where(forgotten_table.c.customer_hash == hashed)).first()
        wh = webhook_order_lines_table
        webhook = _rows(conn, sa.select(wh).where(wh.c.customer_id == customer_id).order_by(wh.c.line_id))
        line_ids |= {row["line_id"] for row in webhook}
        order_ids = _order_ids(lines, {row["order_id"] for row in webhook})
        ids = sorted(line_ids)
        portal, photos, emails = [], [], []
        for chunk in _chunks(ids):
            portal += _rows(conn, sa.select(customer_returns_table).where(customer_returns_table.c.line_id.in_(chunk)))
            photos += _rows(conn, sa.select(return_photos_table).where(return_photos_table.c.line_id.in_(chunk)))
        for chunk in _chunks(order_ids):
            emails += _rows(conn, sa.select(review_returns_table).where(review_returns_table.c.order_id.in_(chunk)))
    recorded = [r.to_dict() for r in store.iter_all() if r.line_id in line_ids]
    return {
        "customer_id": customer_id,
        "generated_at": iso(pd.Timestamp.now(tz="UTC")),
        "shop_folder": str(Path(shop_dir).resolve()),
        "order_lines": _records(lines),
        "returns_in_shop_files": _records(shop_returns.reset_index(drop=True)),
        "returns_recorded": recorded,
        "order_lines_received_by_webhook": webhook,
        "returns_declared_on_portal_or_by_email": portal,
        "photos": photos,
        "emails_set_aside_for_review": emails,
        "forgotten": None if forgotten is None else {"forgotten_at": iso(forgotten.forgotten_at),
                                                     "texts_erased": forgotten.returns_erased},
        "model_snapshot": "the served model's snapshot holds this customer's return counts and size profile, "
                          "computed from the order lines above at its training; it is rebuilt at each training",
    }
