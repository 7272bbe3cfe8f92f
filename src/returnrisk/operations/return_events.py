"""What the returns store records and answers: return and refund events, stored returns, and the
errors of recording them (see :mod:`returnrisk.operations.store`).

A return event belongs to one order line and has a ``return_id`` — the platform's or the
client's id of the return (one return may cover several lines: the pair ``(line_id,
return_id)`` is the event's key). An event sent without one gets the id derived from its line,
:func:`derived_return_id` (``line:<line_id>``): the id the first return of a line has always had,
so a client that never sends ids keeps one return per line, as before partial returns existed.
``quantity`` is the units returned; ``None`` means the whole line (the data contract's rule).

Dates must be storable and plausible: inside what a nanosecond timestamp holds (1677-09-22 …
2262-04-11, the range every other command reads), and at most a day in the future (clocks
differ; a date further ahead is a typo or a placeholder such as 9999-12-31, which would then
break training).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

import pandas as pd

from returnrisk.data.parsing import TIMESTAMP_MAX, TIMESTAMP_MIN
from returnrisk.errors import ConflictError, InputError, NotFoundError
from returnrisk.taxonomy import REASON_CODES
from returnrisk.timeutil import iso, to_utc

__all__ = [
    "CHANNELS",
    "DERIVED_PREFIX",
    "EARLIEST",
    "LATEST",
    "FUTURE_TOLERANCE",
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
    "OverReturn",
    "ReturnIdRequired",
    "derived_return_id",
    "time_problem",
    "utc_datetime",
]

#: Where a return was declared: the return portal, an e-mail, the API (a shop's own form or
#: system), an import of the platform's history, a platform webhook. ``form`` and ``other``, the
#: values of the first versions, stay valid.
CHANNELS: tuple[str, ...] = ("portal", "email", "api", "import", "webhook", "form", "other")

#: The id of a return recorded without one is this prefix and its line's id.
DERIVED_PREFIX = "line:"

#: The dates a return or refund may carry: what a nanosecond timestamp holds (the data files' rule).
EARLIEST = TIMESTAMP_MIN
LATEST = TIMESTAMP_MAX
#: How far in the future a date may be (clocks of shops and platforms differ a little).
FUTURE_TOLERANCE = timedelta(days=1)

#: What makes two events with the same key the same return. The channel is not part of it: the
#: same return reported by the portal and then by email is still one return (the first is kept).
IDENTITY_FIELDS: tuple[str, ...] = ("returned_at", "reason_code", "reason_text", "quantity")

_MAX_ID = 200


def derived_return_id(line_id: str) -> str:
    """The id of a line's return recorded without a ``return_id`` (and of every return stored
    before partial returns existed: migration 0002 gives them this id)."""
    return f"{DERIVED_PREFIX}{line_id}"


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


def time_problem(name: str, value, now: datetime | None = None) -> str | None:
    """Why ``value`` cannot be the date ``name`` of a return or refund (``None``: it can)."""
    if value is None:
        return None
    ts = to_utc(value)
    if ts < EARLIEST or ts >= LATEST + pd.Timedelta(days=1):
        return (f"{name} {ts.year:04d}-{ts.month:02d}-{ts.day:02d} is outside the dates returnrisk can store "
                f"({EARLIEST:%Y-%m-%d} … {LATEST:%Y-%m-%d}): send the real date of the event")
    now = pd.Timestamp.now(tz="UTC") if now is None else to_utc(now)
    if ts > now + FUTURE_TOLERANCE:
        return (f"{name} {iso(ts)} is in the future (now {iso(now.floor('s'))}): send when it happened — "
                "at most a day ahead of this server's clock")
    return None


@dataclass(frozen=True)
class ReturnEvent:
    """A return as declared by the portal, an email, the API, an import or a webhook.

    ``reason_code_inferred``/``reason_confidence``/``reason_review`` are set by the caller when
    only ``reason_text`` was given (see :mod:`returnrisk.operations.reasoning`). A return without
    any reason is valid (the reason is then unknown). ``return_id`` ``None``: see
    :func:`derived_return_id`; ``quantity`` ``None``: the whole line.
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
    return_id: str | None = None
    quantity: int | None = None

    def __post_init__(self):
        problems = [p for p in (time_problem("returned_at", self.returned_at),
                                time_problem("refunded_at", self.refunded_at)) if p]
        if problems:
            raise InvalidReturn("; ".join(problems))
        object.__setattr__(self, "returned_at", utc_datetime(self.returned_at))
        object.__setattr__(self, "refunded_at", utc_datetime(self.refunded_at))
        for name in ("reason_text", "reason_code", "return_id"):
            value = getattr(self, name)
            text = value.strip() if isinstance(value, str) else None
            object.__setattr__(self, name, text or None)
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
        if self.refunded_at is not None and self.returned_at is not None and self.refunded_at < self.returned_at:
            out.append(f"refunded_at {iso(self.refunded_at)} is before returned_at {iso(self.returned_at)}: "
                       "a refund follows the return")
        if self.return_cost is not None and not (self.return_cost >= 0):
            out.append(f"return_cost {self.return_cost} is negative: send the cost as a number ≥ 0")
        if self.return_id is not None and len(self.return_id) > _MAX_ID:
            out.append(f"return_id is {len(self.return_id)} characters long: at most {_MAX_ID}")
        if self.quantity is not None and (isinstance(self.quantity, bool) or not isinstance(self.quantity, int)
                                          or self.quantity < 1):
            out.append(f"quantity {self.quantity!r} is not a whole number ≥ 1: send the units returned "
                       "(or leave it out for the whole line)")
        return out


@dataclass(frozen=True)
class RefundEvent:
    """The refund of a recorded return (``PATCH /v1/returns/{line_id}``); ``return_id`` names the
    return when the line has several."""

    line_id: str
    refunded_at: datetime
    return_cost: float | None = None
    return_id: str | None = None

    def __post_init__(self):
        problem = time_problem("refunded_at", self.refunded_at)
        if problem:
            raise InvalidReturn(problem)
        object.__setattr__(self, "refunded_at", utc_datetime(self.refunded_at))
        rid = self.return_id.strip() if isinstance(self.return_id, str) else None
        object.__setattr__(self, "return_id", rid or None)
        if self.refunded_at is None:
            raise InvalidReturn("refunded_at is missing: send when the refund was made (ISO 8601)")
        if self.return_cost is not None and not (self.return_cost >= 0):
            raise InvalidReturn(f"return_cost {self.return_cost} is negative: send the cost as a number ≥ 0")


@dataclass(frozen=True)
class StoredReturn:
    line_id: str
    return_id: str
    quantity: int | None
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

    @property
    def reason_source(self) -> str:
        """``given``, ``inferred`` (from the text) or ``none`` (no reason: unknown)."""
        return "given" if self.reason_code else "inferred" if self.reason_code_inferred else "none"

    def units(self, ordered: int | None) -> int | None:
        """Units this return brought back (``ordered`` for a whole-line return; ``None`` if unknown)."""
        return self.quantity if self.quantity is not None else ordered

    def to_dict(self) -> dict:
        out = asdict(self)
        for key in ("returned_at", "refunded_at", "recorded_at", "updated_at"):
            out[key] = iso(out[key])
        out["reason"] = self.reason
        out["reason_source"] = self.reason_source
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
            return iso(v) if isinstance(v, datetime) else "the whole line" if self.field == "quantity" and v is None \
                else repr(v)
        return f"{self.field}: recorded {show(self.recorded)}, sent {show(self.sent)}"

    def to_dict(self) -> dict:
        def plain(v):
            return iso(v) if isinstance(v, datetime) else v
        return {"field": self.field, "recorded": plain(self.recorded), "sent": plain(self.sent)}


class ReturnConflict(ConflictError):
    """The event contradicts the return already recorded under its key.

    ``what`` ("return" or "refund") words the message; ``code`` is the API's code of the
    operation that met the conflict (``return_conflict`` for POST, ``refund_conflict`` for PATCH).
    The API answer also lists the ``differences`` and the ``recorded`` return.
    """

    def __init__(self, line_id: str, differences: list[Difference], record: StoredReturn, what: str = "return",
                 code: str | None = None, *, implicit_id: bool = False):
        self.line_id, self.differences, self.record, self.what = line_id, differences, record, what
        self.implicit_id = implicit_id
        super().__init__(self.message, code=code or f"{what}_conflict",
                         differences=[d.to_dict() for d in differences], recorded=record.to_dict())

    @property
    def message(self) -> str:
        listed = "; ".join(d.render() for d in self.differences)
        if self.what == "refund":
            return (f"return {self.record.return_id!r} of line {self.line_id!r} already has a different refund "
                    f"recorded — {listed}. The recorded refund was kept; if it is wrong, correct it in the returns "
                    "database")
        if self.implicit_id:
            return (f"a different return is already recorded for line {self.line_id!r} (return_id "
                    f"{self.record.return_id!r}) — {listed}. The recorded return was kept. If this is another "
                    "return of the same line (a partial return), send it with its own return_id and its quantity; "
                    "to repeat the recorded event, send exactly its values")
        return (f"return {self.record.return_id!r} of line {self.line_id!r} is already recorded with other values — "
                f"{listed}. The recorded return was kept; a return_id names one return: send another return_id for "
                "another return, or exactly the recorded values to repeat it")


class ReturnNotRecorded(NotFoundError):
    """A refund (or a read) for a line, or a return id, without a recorded return."""

    code = "return_not_found"

    def __init__(self, line_id: str, return_id: str | None = None, known: list[str] | None = None):
        self.line_id, self.return_id = line_id, return_id
        if return_id is None:
            text = (f"no return is recorded for line {line_id!r}: record it first with POST /v1/returns "
                    "(a refund can be sent with it as refunded_at)")
        else:
            have = f" (its returns: {', '.join(known)})" if known else " (it has none)"
            text = f"line {line_id!r} has no return {return_id!r}{have}: check the return_id"
        super().__init__(text)


class ReturnIdRequired(ConflictError):
    """A refund without ``return_id`` for a line that has several returns: which one is meant?"""

    code = "return_id_required"

    def __init__(self, line_id: str, returns: list[StoredReturn]):
        self.line_id, self.returns = line_id, returns
        listed = ", ".join(f"{r.return_id!r} ({iso(r.returned_at)}, "
                           f"{'whole line' if r.quantity is None else f'{r.quantity} units'})" for r in returns)
        super().__init__(f"line {line_id!r} has {len(returns)} returns — {listed}: send the return_id of the one "
                         "refunded", return_ids=[r.return_id for r in returns])


class OverReturn(ConflictError):
    """The return would take the line's returned units above its ordered quantity."""

    code = "over_returned"

    def __init__(self, line_id: str, ordered: int, already: int, asked: int, whole_line: bool):
        self.line_id, self.ordered, self.already, self.asked = line_id, ordered, already, asked
        left = max(ordered - already, 0)
        how = "the whole line, " if whole_line else ""
        fix = (f"send quantity ≤ {left}" if left else "nothing is left to return on this line") + \
            " (or check whether this return was already recorded under another return_id)"
        super().__init__(f"line {line_id!r} was ordered {ordered} unit{'s' if ordered != 1 else ''}, {already} already "
                         f"returned; this return asks {how}{asked}: at most {left} can still come back — {fix}",
                         ordered=ordered, already_returned=already, asked=asked, remaining=left)
