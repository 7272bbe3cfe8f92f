"""Durable storage of the returns recorded as they happen (``POST /v1/returns``).

One row per returned line (``line_id`` is the primary key: a line is returned at most once), in
the service database (:mod:`returnrisk.db`: any database SQLAlchemy 2 reaches — a SQLite file by
default, PostgreSQL in production — whose schema the migrations own).

Idempotency
-----------
:meth:`ReturnStore.record` first tries to insert; if the line already has a return it compares
the event with the stored one:

* the same return (same ``returned_at`` to the microsecond, ``reason_code`` and
  ``reason_text``; the channel may differ) is **unchanged** — nothing is written, the stored
  record (with the first channel) is answered;
  a repeat that only *adds* refund information (``refunded_at`` / ``return_cost`` not stored
  yet) fills it in (**updated**);
* anything else is a :class:`ReturnConflict` listing every field that differs — the stored
  return is never overwritten by a POST.

Because the insert comes first and the primary key decides, two identical events racing each
other still give one row. A method returns only after its transaction has committed, so an
answer given to the caller is an acknowledgement of durable storage.

Timestamps are stored as naive UTC (microseconds) and always handed back as aware UTC.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from returnrisk.db.engine import make_engine, shown_url
from returnrisk.db.migrate import ensure_schema
from returnrisk.db.schema import RETURNS_TABLE, returns_table
from returnrisk.errors import ConflictError, InputError, NotFoundError
from returnrisk.taxonomy import REASON_CODES
from returnrisk.timeutil import iso, to_utc

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
    "RefundBeforeReturn",
    "ReturnConflict",
    "ReturnNotRecorded",
    "ReturnStore",
    "utc_datetime",
]

log = logging.getLogger(__name__)

#: Where a return was declared.
CHANNELS: tuple[str, ...] = ("form", "portal", "email", "other")

#: The table of recorded returns (declared in :mod:`returnrisk.db.schema`).
TABLE_NAME = RETURNS_TABLE

#: What makes two events the same return. The channel is not part of it: the same return
#: reported by the portal and then by email is still one return (the first channel is kept).
IDENTITY_FIELDS: tuple[str, ...] = ("returned_at", "reason_code", "reason_text")


class InvalidReturn(InputError, ValueError):
    """A return or refund event breaks the rules of the returns file (the message lists each)."""

    code = "invalid_return"


class RefundBeforeReturn(InputError, ValueError):
    """A refund dated before the return it refunds."""

    code = "refunded_before_returned"


def utc_datetime(value) -> datetime | None:
    """An aware UTC :class:`datetime` truncated to microseconds (what the database keeps)."""
    if value is None or (not isinstance(value, datetime) and pd.isna(value)):
        return None
    return to_utc(value).floor("us").to_pydatetime(warn=False)


@dataclass(frozen=True)
class ReturnEvent:
    """A return as declared by a form, the returns portal, an email, or anything else.

    ``reason_code_inferred``/``reason_confidence``/``reason_review`` are set by the caller when
    only ``reason_text`` was given (see :mod:`returnrisk.operations.reasoning`).
    """

    line_id: str
    returned_at: datetime
    channel: str
    reason_code: str | None = None
    reason_text: str | None = None
    refunded_at: datetime | None = None
    return_cost: float | None = None
    reason_code_inferred: str | None = None
    reason_confidence: float | None = None
    reason_review: bool = False

    def __post_init__(self):
        object.__setattr__(self, "returned_at", utc_datetime(self.returned_at))
        object.__setattr__(self, "refunded_at", utc_datetime(self.refunded_at))
        text = self.reason_text.strip() if isinstance(self.reason_text, str) else None
        object.__setattr__(self, "reason_text", text or None)
        code = self.reason_code.strip() if isinstance(self.reason_code, str) else None
        object.__setattr__(self, "reason_code", code or None)
        problems = self.problems()
        if problems:
            raise InvalidReturn("; ".join(problems))

    def problems(self) -> list[str]:
        """What makes this event unusable (the same rules as the returns file)."""
        out = []
        if not self.line_id or not str(self.line_id).strip():
            out.append("line_id is empty: send the order line's line_id")
        if self.returned_at is None:
            out.append("returned_at is missing: send when the return happened (ISO 8601)")
        if self.channel not in CHANNELS:
            out.append(f"channel {self.channel!r} is not one of {', '.join(CHANNELS)}")
        if self.reason_code is not None and self.reason_code not in REASON_CODES:
            out.append(f"reason_code {self.reason_code!r} is not in the taxonomy: use one of "
                       f"{', '.join(REASON_CODES)}, or send the customer's words in reason_text")
        if self.reason_code is None and self.reason_text is None:
            out.append("no reason: send reason_code (one of the taxonomy) and/or reason_text "
                       "(the customer's words)")
        if self.refunded_at is not None and self.returned_at is not None and self.refunded_at < self.returned_at:
            out.append(f"refunded_at {iso(self.refunded_at)} is before returned_at {iso(self.returned_at)}: "
                       "a refund follows the return")
        if self.return_cost is not None and not (self.return_cost >= 0):
            out.append(f"return_cost {self.return_cost} is negative: send the cost as a number ≥ 0")
        return out


@dataclass(frozen=True)
class RefundEvent:
    """The refund of a recorded return (``PATCH /v1/returns/{line_id}``)."""

    line_id: str
    refunded_at: datetime
    return_cost: float | None = None

    def __post_init__(self):
        object.__setattr__(self, "refunded_at", utc_datetime(self.refunded_at))
        if self.refunded_at is None:
            raise InvalidReturn("refunded_at is missing: send when the refund was made (ISO 8601)")
        if self.return_cost is not None and not (self.return_cost >= 0):
            raise InvalidReturn(f"return_cost {self.return_cost} is negative: send the cost as a number ≥ 0")


@dataclass(frozen=True)
class StoredReturn:
    line_id: str
    returned_at: datetime
    reason_code: str | None
    reason_text: str | None
    reason_code_inferred: str | None
    reason_confidence: float | None
    reason_review: bool
    channel: str
    refunded_at: datetime | None
    return_cost: float | None
    recorded_at: datetime
    updated_at: datetime

    @property
    def reason(self) -> str | None:
        """The code that counts: given, else inferred from the text."""
        return self.reason_code or self.reason_code_inferred

    def to_dict(self) -> dict:
        out = asdict(self)
        for key in ("returned_at", "refunded_at", "recorded_at", "updated_at"):
            out[key] = iso(out[key])
        out["reason"] = self.reason
        out["reason_source"] = "given" if self.reason_code else "inferred"
        return out


@dataclass(frozen=True)
class RecordOutcome:
    """What a write did: ``created``, ``unchanged`` (a repeat) or ``updated`` (refund added)."""

    record: StoredReturn
    status: str


@dataclass(frozen=True)
class Difference:
    field: str
    recorded: object
    sent: object

    def render(self) -> str:
        def show(v):
            return iso(v) if isinstance(v, datetime) else repr(v)
        return f"{self.field}: recorded {show(self.recorded)}, sent {show(self.sent)}"

    def to_dict(self) -> dict:
        def plain(v):
            return iso(v) if isinstance(v, datetime) else v
        return {"field": self.field, "recorded": plain(self.recorded), "sent": plain(self.sent)}


class ReturnConflict(ConflictError):
    """The event contradicts the return already recorded for its line.

    ``what`` ("return" or "refund") words the message; ``code`` is the API's code of the
    operation that met the conflict (``return_conflict`` for POST, ``refund_conflict`` for PATCH).
    The API answer also lists the ``differences`` and the ``recorded`` return.
    """

    def __init__(self, line_id: str, differences: list[Difference], record: StoredReturn, what: str = "return",
                 code: str | None = None):
        self.line_id, self.differences, self.record, self.what = line_id, differences, record, what
        super().__init__(self.message, code=code or f"{what}_conflict",
                         differences=[d.to_dict() for d in differences], recorded=record.to_dict())

    @property
    def message(self) -> str:
        listed = "; ".join(d.render() for d in self.differences)
        if self.what == "refund":
            return (f"line {self.line_id!r} already has a different refund recorded — {listed}. "
                    "The recorded refund was kept; if it is wrong, correct it in the returns database")
        return (f"a different return is already recorded for line {self.line_id!r} — {listed}. "
                "A line is returned at most once: the recorded return was kept; if it is wrong, correct it in "
                "the returns database (or send exactly the recorded values to repeat the event)")


class ReturnNotRecorded(NotFoundError):
    """A refund for a line without a recorded return."""

    code = "return_not_found"

    def __init__(self, line_id: str):
        self.line_id = line_id
        super().__init__(f"no return is recorded for line {line_id!r}: record it first with POST /v1/returns "
                         "(a refund can be sent with it as refunded_at)")


def _row_to_record(row) -> StoredReturn:
    data = dict(row._mapping)
    data["reason_review"] = bool(data["reason_review"])
    return StoredReturn(**data)


def _same_float(a, b) -> bool:
    return a is None and b is None or (a is not None and b is not None and abs(a - b) <= 1e-9 * max(1.0, abs(a)))


class ReturnStore:
    """The returns table behind ``POST/PATCH /v1/returns`` and ``returnrisk export-returns``.

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
    def get(self, line_id: str) -> StoredReturn | None:
        self._ensure()
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(returns_table).where(returns_table.c.line_id == line_id)).first()
        return _row_to_record(row) if row is not None else None

    def count(self) -> int:
        self._ensure()
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(returns_table)).scalar_one())

    def iter_all(self) -> Iterator[StoredReturn]:
        self._ensure()
        with self.engine.connect() as conn:
            for row in conn.execute(sa.select(returns_table).order_by(returns_table.c.line_id)):
                yield _row_to_record(row)

    def frame(self) -> pd.DataFrame:
        """Every stored return, one row each, with aware UTC timestamps."""
        rows = [asdict(r) for r in self.iter_all()]
        columns = [c.name for c in returns_table.columns]
        frame = pd.DataFrame(rows, columns=columns)
        for column in ("returned_at", "refunded_at", "recorded_at", "updated_at"):
            frame[column] = pd.to_datetime(frame[column], utc=True)
        return frame

    # ---- writes ------------------------------------------------------------------------------
    def record(self, event: ReturnEvent) -> RecordOutcome:
        """Store a return once (see the module docstring); raise :class:`ReturnConflict` if it contradicts."""
        self._ensure()
        now = utc_datetime(pd.Timestamp.now(tz="UTC"))
        row = {**asdict(event), "recorded_at": now, "updated_at": now}
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.insert(returns_table).values(**row))
        except IntegrityError:
            existing = self.get(event.line_id)
            if existing is None:
                raise
            return self._repeat(existing, event, now)
        log.info("return recorded for line %s (%s)", event.line_id, event.channel)
        return RecordOutcome(self.get(event.line_id), "created")

    def _repeat(self, existing: StoredReturn, event: ReturnEvent, now: datetime) -> RecordOutcome:
        differences = [
            Difference(name, getattr(existing, name), getattr(event, name))
            for name in IDENTITY_FIELDS
            if getattr(existing, name) != getattr(event, name)
        ]
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
            log.warning("conflicting return for line %s: %s", event.line_id,
                        "; ".join(d.field for d in differences))
            raise ReturnConflict(event.line_id, differences, existing, code="return_conflict")
        if not updates:
            log.info("repeated return for line %s: already recorded, nothing written", event.line_id)
            return RecordOutcome(existing, "unchanged")
        return self._fill(existing, updates, now, "return_conflict")

    def _fill(self, existing: StoredReturn, updates: dict, now: datetime, code: str) -> RecordOutcome:
        """Set fields that are still empty; a concurrent writer that set them first wins (then compare)."""
        table = returns_table
        conditions = [table.c.line_id == existing.line_id] + [table.c[name].is_(None) for name in updates]
        with self.engine.begin() as conn:
            done = conn.execute(sa.update(table).where(*conditions).values(**updates, updated_at=now)).rowcount
        current = self.get(existing.line_id)
        if not done:
            # someone filled these fields in the meantime: the event must agree with what they wrote
            clash = [Difference(k, getattr(current, k), v) for k, v in updates.items()
                     if not (_same_float(getattr(current, k), v) if k == "return_cost" else getattr(current, k) == v)]
            if clash:
                raise ReturnConflict(existing.line_id, clash, current,
                                     "refund" if "refunded_at" in updates else "return", code=code)
            return RecordOutcome(current, "unchanged")
        log.info("line %s: %s recorded", existing.line_id, ", ".join(updates))
        return RecordOutcome(current, "updated")

    def record_refund(self, event: RefundEvent) -> RecordOutcome:
        """Record the refund of a stored return, idempotently (the same refund twice is ``unchanged``)."""
        self._ensure()
        existing = self.get(event.line_id)
        if existing is None:
            raise ReturnNotRecorded(event.line_id)
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
