"""Durable storage of the returns recorded as they happen (``POST /v1/returns``, webhooks, the portal).

One row per return event, keyed by ``(line_id, return_id)``, in the service database
(:mod:`returnrisk.db`: any database SQLAlchemy 2 reaches — a SQLite file by default, PostgreSQL in
production — whose schema the migrations own). A line may come back in several returns (a
partial return, then the rest); each has its ``return_id`` and ``quantity`` (``None``: the whole
line). The events and errors are in :mod:`returnrisk.operations.return_events`.

Idempotency
-----------
The ``return_id`` is the idempotency key. :meth:`ReturnStore.record` first tries to insert; if
the line already has a return with that id it compares the event with it:

* the same return (same ``returned_at`` to the microsecond, ``reason_code``, ``reason_text`` and
  quantity; the channel may differ) is **unchanged** — nothing is written, the stored record
  (with the first channel) is answered; a repeat that only *adds* refund information
  (``refunded_at`` / ``return_cost`` not stored yet) fills it in (**updated**);
* anything else is a :class:`ReturnConflict` listing every field that differs — the stored
  return is never overwritten by a POST.

An event without ``return_id`` is matched to the line's return when the line has exactly one
(exactly the behaviour of the versions before partial returns), gets
:func:`~returnrisk.operations.return_events.derived_return_id` when the line has none, and must
match one of them exactly when the line has several (else a conflict that asks for the id).

Over-returns
------------
Given the line's ordered quantity, the insert and the sum of the line's returned units are one
transaction, serialised per line (SQLite: the insert takes the database's write lock before the
sum is read; PostgreSQL: an advisory lock on the line), so two parts sent at once can never
together exceed the line: the one that would is refused with :class:`OverReturn` and nothing is
written. Because the insert comes first and the primary key decides, two identical events racing
each other still give one row. A method returns only after its transaction has committed, so an
answer given to the caller is an acknowledgement of durable storage.

Timestamps are stored as naive UTC (microseconds) and always handed back as aware UTC.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from returnrisk.db.engine import make_engine, shown_url
from returnrisk.db.migrate import ensure_schema
from returnrisk.db.schema import RETURNS_TABLE, returns_table
from returnrisk.operations.return_events import (
    CHANNELS,
    IDENTITY_FIELDS,
    Difference,
    InvalidReturn,
    OverReturn,
    RecordOutcome,
    RefundBeforeReturn,
    RefundEvent,
    ReturnConflict,
    ReturnEvent,
    ReturnIdRequired,
    ReturnNotRecorded,
    StoredReturn,
    derived_return_id,
    utc_datetime,
)
from returnrisk.timeutil import iso

__all__ = [
    "CHANNELS",
    "TABLE_NAME",
    "IDENTITY_FIELDS",
    "ReturnEvent",
    "RefundEvent",
    "StoredReturn",
    "RecordOutcome",
    "Difference",
    "InvalidReturn",
    "OverReturn",
    "RefundBeforeReturn",
    "ReturnConflict",
    "ReturnIdRequired",
    "ReturnNotRecorded",
    "ReturnStore",
    "derived_return_id",
    "identity_differences",
    "utc_datetime",
]

log = logging.getLogger(__name__)

#: The table of recorded returns (declared in :mod:`returnrisk.db.schema`).
TABLE_NAME = RETURNS_TABLE
#: First key of the PostgreSQL advisory locks of lines ("rr"; the second is a hash of the line id).
_LINE_LOCK_CLASS = 0x7272
_ORDER = (returns_table.c.returned_at, returns_table.c.recorded_at, returns_table.c.return_id)


def _row_to_record(row) -> StoredReturn:
    data = dict(row._mapping)
    data["reason_review"] = bool(data["reason_review"])
    return StoredReturn(**data)


def _same_float(a, b) -> bool:
    return a is None and b is None or (a is not None and b is not None and abs(a - b) <= 1e-9 * max(1.0, abs(a)))


def _line_lock_key(line_id: str) -> int:
    """A signed 32-bit hash of the line id (the second key of its advisory lock)."""
    return int.from_bytes(hashlib.blake2b(line_id.encode(), digest_size=4).digest(), "big", signed=True)


def identity_differences(existing: StoredReturn, event: ReturnEvent, ordered: int | None = None) -> list[Difference]:
    """The identity fields in which ``event`` differs from ``existing`` (quantities compared in units:
    a whole-line return and one of the line's ordered quantity are the same when it is known)."""
    out = []
    for name in IDENTITY_FIELDS:
        recorded, sent = getattr(existing, name), getattr(event, name)
        if name == "quantity":
            same = recorded == sent or (ordered is not None and existing.units(ordered) ==
                                        (sent if sent is not None else ordered))
        else:
            same = recorded == sent
        if not same:
            out.append(Difference(name, recorded, sent))
    return out


class ReturnStore:
    """The returns table behind ``POST/PATCH/GET /v1/returns`` and ``returnrisk export-returns``.

    ``url`` is any SQLAlchemy URL (``sqlite:///returns.db``, ``postgresql+psycopg://…``).
    The engine connects lazily; the schema belongs to :mod:`returnrisk.db` (migrations), checked
    by :meth:`prepare`.
    """

    def __init__(self, url: str, *, echo: bool = False):
        self.url = url
        self.engine = make_engine(url, label="returns database", echo=echo)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._ready = False

    def prepare(self) -> None:
        """Check the database's schema (:func:`returnrisk.db.ensure_schema`): an empty database is
        created at the current revision; one that is behind raises ``DatabaseBehind`` (run
        ``returnrisk db upgrade``). Called by the service at start-up, else on first use."""
        ensure_schema(self.engine)
        self._ready = True
        log.info("returns store ready: %s", shown_url(self.engine.url))

    def _ensure(self) -> None:
        if not self._ready:
            self.prepare()

    def dispose(self) -> None:
        self.engine.dispose()

    # ---- reads -------------------------------------------------------------------------------
    def returns_of(self, line_id: str) -> list[StoredReturn]:
        """The line's returns, first returned first."""
        self._ensure()
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(returns_table).where(returns_table.c.line_id == line_id).order_by(*_ORDER))
            return [_row_to_record(row) for row in rows]

    def get(self, line_id: str, return_id: str | None = None) -> StoredReturn | None:
        """The return ``return_id`` of the line, or (``None``) the line's first return; ``None`` if absent."""
        if return_id is None:
            found = self.returns_of(line_id)
            return found[0] if found else None
        self._ensure()
        table = returns_table
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(table).where(table.c.line_id == line_id, table.c.return_id == return_id)).first()
        return _row_to_record(row) if row is not None else None

    def count(self) -> int:
        """How many return events are stored."""
        self._ensure()
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(returns_table)).scalar_one())

    def iter_all(self) -> Iterator[StoredReturn]:
        """Every return, by line, then first returned first."""
        self._ensure()
        with self.engine.connect() as conn:
            for row in conn.execute(sa.select(returns_table).order_by(returns_table.c.line_id, *_ORDER)):
                yield _row_to_record(row)

    def returns_with_id(self, return_id: str) -> list[StoredReturn]:
        """Every line's return ``return_id`` (one return may cover several lines)."""
        self._ensure()
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(returns_table).where(returns_table.c.return_id == return_id)
                                .order_by(returns_table.c.line_id))
            return [_row_to_record(row) for row in rows]

    def frame(self) -> pd.DataFrame:
        """Every stored return, one row each, with aware UTC timestamps."""
        rows = [asdict(r) for r in self.iter_all()]
        columns = [c.name for c in returns_table.columns]
        frame = pd.DataFrame(rows, columns=columns)
        for column in ("returned_at", "refunded_at", "recorded_at", "updated_at"):
            frame[column] = pd.to_datetime(frame[column], utc=True)
        return frame

    # ---- writes ------------------------------------------------------------------------------
    def record(self, event: ReturnEvent, *, ordered_quantity: int | None = None,
               outside: Mapping[str, int] | None = None) -> RecordOutcome:
        """Store a return once (see the module docstring); raise :class:`ReturnConflict` if it
        contradicts the return of its key, :class:`OverReturn` if it would return more units than
        ``ordered_quantity`` (not checked when ``None``).

        ``outside`` are the line's returns recorded elsewhere (the shop's own returns file): return
        id → units; those whose id is not in the store count towards the line's returned units.
        """
        self._ensure()
        now = utc_datetime(pd.Timestamp.now(tz="UTC"))
        implicit = event.return_id is None
        key = event.return_id if not implicit else self._implicit_key(event, ordered_quantity)
        row = {**asdict(event), "return_id": key, "recorded_at": now, "updated_at": now}
        try:
            with self.engine.begin() as conn:
                self._lock_line(conn, event.line_id)
                conn.execute(sa.insert(returns_table).values(**row))
                if ordered_quantity is not None:
                    self._check_units(conn, event, ordered_quantity, outside or {})
        except IntegrityError:
            existing = self.get(event.line_id, key)
            if existing is None:
                raise
            return self._repeat(existing, event, now, ordered_quantity, implicit)
        log.info("return %s recorded for line %s (%s)", key, event.line_id, event.channel)
        return RecordOutcome(self.get(event.line_id, key), "created")

    def _implicit_key(self, event: ReturnEvent, ordered: int | None) -> str:
        """The key of an event sent without ``return_id`` (see the module docstring)."""
        existing = self.returns_of(event.line_id)
        if not existing:
            return derived_return_id(event.line_id)
        if len(existing) == 1:
            return existing[0].return_id
        differences = [identity_differences(r, event, ordered) for r in existing]
        for record, diff in zip(existing, differences):
            if not diff:
                return record.return_id
        closest = min(range(len(existing)), key=lambda i: len(differences[i]))
        raise ReturnConflict(event.line_id, differences[closest], existing[closest], code="return_conflict",
                             implicit_id=True)

    def _lock_line(self, conn: sa.Connection, line_id: str) -> None:
        """Serialise writers of one line (PostgreSQL; SQLite's insert takes the write lock anyway)."""
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:a, :b)"),
                         {"a": _LINE_LOCK_CLASS, "b": _line_lock_key(line_id)})

    def _check_units(self, conn: sa.Connection, event: ReturnEvent, ordered: int, outside: Mapping[str, int]) -> None:
        table = returns_table
        rows = conn.execute(sa.select(table.c.return_id, table.c.quantity).where(table.c.line_id == event.line_id))
        ids, total = set(), 0
        for return_id, quantity in rows:
            ids.add(return_id)
            total += ordered if quantity is None else int(quantity)
        total += sum(int(units) for rid, units in outside.items() if rid not in ids)
        asked = ordered if event.quantity is None else event.quantity
        if total > ordered:
            log.warning("line %s: return refused, %d units asked, %d of %d already returned", event.line_id, asked,
                        total - asked, ordered)
            raise OverReturn(event.line_id, ordered, total - asked, asked, event.quantity is None)

    def _repeat(self, existing: StoredReturn, event: ReturnEvent, now: datetime, ordered: int | None,
                implicit: bool) -> RecordOutcome:
        differences = identity_differences(existing, event, ordered)
        updates = {}
        if event.refunded_at is not None:
            if existing.refunded_at is None:
                updates["refunded_at"] = event.refunded_at
            elif existing.refunded_at != event.refunded_at:
                differences.append(Difference("refunded_at", existing.refunded_at, event.refunded_at))
        if event.return_cost is not None:
            if existing.return_cost is None:
                updates["return_cost"] = event.return_cost
            elif not _same_float(existing.return_cost, event.return_cost):
                differences.append(Difference("return_cost", existing.return_cost, event.return_cost))
        if differences:
            log.warning("conflicting return %s for line %s: %s", existing.return_id, event.line_id,
                        "; ".join(d.field for d in differences))
            raise ReturnConflict(event.line_id, differences, existing, code="return_conflict", implicit_id=implicit)
        if not updates:
            log.info("repeated return %s for line %s: already recorded, nothing written", existing.return_id,
                     event.line_id)
            return RecordOutcome(existing, "unchanged")
        return self._fill(existing, updates, now, "return_conflict")

    def _fill(self, existing: StoredReturn, updates: dict, now: datetime, code: str) -> RecordOutcome:
        """Set fields that are still empty; a concurrent writer that set them first wins (then compare)."""
        table = returns_table
        conditions = [table.c.line_id == existing.line_id, table.c.return_id == existing.return_id] + \
            [table.c[name].is_(None) for name in updates]
        with self.engine.begin() as conn:
            done = conn.execute(sa.update(table).where(*conditions).values(**updates, updated_at=now)).rowcount
        current = self.get(existing.line_id, existing.return_id)
        if not done:
            # someone filled these fields in the meantime: the event must agree with what they wrote
            clash = [Difference(k, getattr(current, k), v) for k, v in updates.items()
                     if not (_same_float(getattr(current, k), v) if k == "return_cost" else getattr(current, k) == v)]
            if clash:
                raise ReturnConflict(existing.line_id, clash, current,
                                     "refund" if "refunded_at" in updates else "return", code=code)
            return RecordOutcome(current, "unchanged")
        log.info("line %s, return %s: %s recorded", existing.line_id, existing.return_id, ", ".join(updates))
        return RecordOutcome(current, "updated")

    def withdraw(self, return_id: str, channel: str) -> list[StoredReturn]:
        """Delete the not-yet-refunded returns ``return_id`` recorded through ``channel`` (a return the
        platform declined or cancelled after requesting it); the deleted records are answered. A
        refunded return is kept: goods came back and money went out."""
        self._ensure()
        table = returns_table
        where = (table.c.return_id == return_id, table.c.channel == channel, table.c.refunded_at.is_(None))
        with self.engine.begin() as conn:
            rows = [_row_to_record(r) for r in conn.execute(sa.select(table).where(*where))]
            if rows:
                conn.execute(sa.delete(table).where(*where))
        if rows:
            log.info("return %s withdrawn (%s): %d lines", return_id, channel, len(rows))
        return rows

    def refund_target(self, line_id: str, return_id: str | None) -> StoredReturn:
        """The return a refund is for: ``return_id``'s, or the line's only one (see :class:`ReturnIdRequired`)."""
        returns = self.returns_of(line_id)
        if return_id is not None:
            found = next((r for r in returns if r.return_id == return_id), None)
            if found is None:
                raise ReturnNotRecorded(line_id, return_id, [r.return_id for r in returns])
            return found
        if not returns:
            raise ReturnNotRecorded(line_id)
        if len(returns) > 1:
            raise ReturnIdRequired(line_id, returns)
        return returns[0]

    def record_refund(self, event: RefundEvent) -> RecordOutcome:
        """Record the refund of a stored return, idempotently (the same refund twice is ``unchanged``)."""
        self._ensure()
        existing = self.refund_target(event.line_id, event.return_id)
        if event.refunded_at < existing.returned_at:
            raise RefundBeforeReturn(f"refunded_at {iso(event.refunded_at)} is before the return's returned_at "
                                     f"{iso(existing.returned_at)}: a refund follows the return")
        differences, updates = [], {}
        if existing.refunded_at is None:
            updates["refunded_at"] = event.refunded_at
        elif existing.refunded_at != event.refunded_at:
            differences.append(Difference("refunded_at", existing.refunded_at, event.refunded_at))
        if event.return_cost is not None:
            if existing.return_cost is None:
                updates["return_cost"] = event.return_cost
            elif not _same_float(existing.return_cost, event.return_cost):
                differences.append(Difference("return_cost", existing.return_cost, event.return_cost))
        if differences:
            raise ReturnConflict(event.line_id, differences, existing, "refund", code="refund_conflict")
        if not updates:
            return RecordOutcome(existing, "unchanged")
        return self._fill(existing, updates, utc_datetime(pd.Timestamp.now(tz="UTC")), "refund_conflict")
