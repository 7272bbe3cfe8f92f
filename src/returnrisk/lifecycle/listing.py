"""The fix list at catalogue scale: suggestions with their status, effect and product, filtered,
searched, sorted and paged.

:func:`build_rows` joins the current suggestions with the status trail (a fix that was changed
but is no longer suggested — a done page fix whose page now passes — keeps its suggestion as
last known), the measured effects and the catalogue; :func:`select` answers one
:class:`FixQuery`. The default list is the to-do list (``open`` and ``in_progress``): a done fix
leaves it and is ``measuring`` until its effect is measured; a dismissed fix stays out unless
its evidence has grown materially (:func:`returnrisk.lifecycle.changes.effective`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from returnrisk.errors import InputError
from returnrisk.fixes.effect import FixEffect
from returnrisk.fixes.status import PHASES, STATUSES, ReturnRule, phase
from returnrisk.lifecycle.catalogue import ProductInfo
from returnrisk.lifecycle.changes import effective
from returnrisk.lifecycle.effects import effect_summary
from returnrisk.lifecycle.labels import lever_name
from returnrisk.lifecycle.statuses import StoredStatus

__all__ = ["DEFAULT_STATUSES", "SORTS", "STATUS_FILTERS", "FixPage", "FixQuery", "FixRow", "build_rows", "select"]

#: The to-do list: what ``GET /v1/fixes`` and the dashboard show unless asked otherwise.
DEFAULT_STATUSES: tuple[str, ...] = ("open", "in_progress")
#: What ``status`` may filter on: a status, a phase of a done fix, or ``all``.
STATUS_FILTERS: tuple[str, ...] = tuple(dict.fromkeys(STATUSES + PHASES + ("all",)))
_PHASE_ORDER = {p: i for i, p in enumerate(PHASES)}


def _effect_value(row: FixRow) -> float | None:
    avoided = (row.effect or {}).get("returns_avoided_per_month")
    return None if not avoided else avoided.get("estimate")


#: Sort keys (a column each) → (value of a row, descending by default).
SORTS: dict[str, tuple[Any, bool]] = {
    "rank": (lambda r: r.fix.get("priority_rank"), False),
    "product": (lambda r: r.product_id, False),
    "title": (lambda r: (r.title or r.product_id).casefold(), False),
    "size": (lambda r: r.fix.get("size") or "", False),
    "lever": (lambda r: lever_name(r.lever), False),
    "category": (lambda r: r.fix.get("category") or "", False),
    "brand": (lambda r: r.fix.get("brand") or "", False),
    "status": (lambda r: _PHASE_ORDER.get(r.phase, 99), False),
    "returns": (lambda r: r.fix.get("expected_returns_avoided_per_month"), True),
    "savings": (lambda r: r.fix.get("expected_savings_per_month"), True),
    "sales": (lambda r: (r.fix.get("evidence") or {}).get("sales"), True),
    "flagged": (lambda r: r.fix.get("flagged_since"), True),
    "effect": (_effect_value, True),
    "live_at": (lambda r: (r.change or {}).get("live_at"), True),
}


@dataclass(frozen=True)
class FixQuery:
    """One view of the list. ``status`` holds statuses and/or phases (``all``: every fix)."""

    status: tuple[str, ...] = DEFAULT_STATUSES
    lever: str | None = None
    category: str | None = None
    brand: str | None = None
    search: str | None = None
    sort: str = "rank"
    descending: bool | None = None   # None: the column's natural order (money and counts largest first)
    offset: int = 0
    limit: int = 100

    def __post_init__(self):
        unknown = [s for s in self.status if s not in STATUS_FILTERS]
        if unknown:
            raise InputError(f"status {', '.join(map(repr, unknown))} is not one of {', '.join(STATUS_FILTERS)}")
        if self.sort not in SORTS:
            raise InputError(f"sort {self.sort!r} is not one of {', '.join(SORTS)}")
        if self.offset < 0 or self.limit < 1:
            raise InputError(f"offset {self.offset} and limit {self.limit}: use offset ≥ 0 and limit ≥ 1")

    @classmethod
    def parse_status(cls, text: str | None) -> tuple[str, ...]:
        """``"done,dismissed"`` → ``("done", "dismissed")``; empty → the to-do list."""
        parts = tuple(p.strip() for p in (text or "").split(",") if p.strip())
        return parts or DEFAULT_STATUSES

    def matches_status(self, row: FixRow) -> bool:
        wanted = set(self.status)
        return "all" in wanted or row.status in wanted or row.phase in wanted


@dataclass
class FixRow:
    """One fix of the list: its suggestion (current, else as last known) and its life since."""

    fix: dict
    status: str
    phase: str
    suggested: bool
    stored: StoredStatus | None = None
    returned: str | None = None
    effect: dict | None = None
    product: ProductInfo | None = None

    @property
    def fix_id(self) -> str:
        return self.fix["fix_id"]

    @property
    def product_id(self) -> str:
        return str(self.fix["product_id"])

    @property
    def lever(self) -> str:
        return self.fix["lever"]

    @property
    def title(self) -> str | None:
        return None if self.product is None else self.product.title

    @property
    def currency(self) -> str | None:
        return None if self.product is None else self.product.currency

    @property
    def change(self) -> dict | None:
        if self.stored is None:
            return None
        s = self.stored.status
        return {"changed_by": s.changed_by, "changed_at": s.changed_at.isoformat(),
                "live_at": None if s.live_at is None else s.live_at.isoformat(), "note": s.note,
                "dismiss_reason": s.dismiss_reason}

    def item(self) -> dict:
        """The fix's JSON: the suggestion's fields, then its status, effect and product."""
        product = self.product
        return {**self.fix, "status": self.status, "phase": self.phase, "status_change": self.change,
                "returned_after_dismissal": self.returned, "suggested_now": self.suggested, "effect": self.effect,
                "title": None if product is None else product.title,
                "product_url": None if product is None else product.url,
                "image_url": None if product is None else product.image_url,
                "currency": None if product is None else product.currency}


@dataclass
class FixPage:
    total: int
    offset: int
    limit: int
    rows: list[FixRow]
    savings_by_currency: dict[str, float] = field(default_factory=dict)   # over every matching fix
    returns_avoided: float = 0.0


def build_rows(fixes: list[dict], latest: Mapping[str, StoredStatus], effects: Mapping[str, FixEffect],
               catalogue: Mapping[str, ProductInfo], rule: ReturnRule) -> list[FixRow]:
    """Every fix with a suggestion now or a recorded status, in rank order (recorded-only fixes last)."""
    rows = []
    seen = set()
    for fix in fixes:
        seen.add(fix["fix_id"])
        rows.append(_row(fix, latest.get(fix["fix_id"]), True, effects, catalogue, rule))
    for fix_id, stored in latest.items():
        if fix_id in seen or stored.suggestion is None or stored.status.status == "open":
            continue   # reopened and no longer suggested: nothing to do
        rows.append(_row(stored.suggestion, stored, False, effects, catalogue, rule))
    return rows


def _row(fix: dict, stored: StoredStatus | None, suggested: bool, effects, catalogue, rule) -> FixRow:
    now = effective(stored, fix if suggested else None, rule)
    effect = effects.get(fix["fix_id"]) if now.status == "done" else None
    return FixRow(fix=fix, status=now.status, phase=phase(now.status, None if effect is None else effect.status),
                  suggested=suggested, stored=stored, returned=now.returned, effect=effect_summary(effect),
                  product=catalogue.get(str(fix["product_id"])))


def _search(row: FixRow, needle: str) -> bool:
    return needle in row.product_id.casefold() or (row.title is not None and needle in row.title.casefold())


def select(rows: list[FixRow], query: FixQuery) -> FixPage:
    """The rows of ``query``: filtered, searched, sorted (missing values last), paged; totals over all matches."""
    needle = (query.search or "").strip().casefold()
    chosen = [r for r in rows
              if query.matches_status(r)
              and (query.lever is None or r.lever == query.lever)
              and (query.category is None or r.fix.get("category") == query.category)
              and (query.brand is None or r.fix.get("brand") == query.brand)
              and (not needle or _search(r, needle))]
    key, natural = SORTS[query.sort]
    descending = natural if query.descending is None else query.descending
    present = [r for r in chosen if key(r) is not None]
    missing = [r for r in chosen if key(r) is None]
    present.sort(key=lambda r: r.fix.get("priority_rank") or 0)            # ties keep the rank order
    present.sort(key=key, reverse=descending)
    ordered = present + missing
    savings: dict[str, float] = {}
    for r in chosen:
        amount = r.fix.get("expected_savings_per_month")
        if isinstance(amount, (int, float)):
            currency = r.currency or ""
            savings[currency] = savings.get(currency, 0.0) + float(amount)
    returns = sum(float(r.fix.get("expected_returns_avoided_per_month") or 0.0) for r in chosen)
    page = ordered[query.offset:query.offset + query.limit]
    return FixPage(len(chosen), query.offset, query.limit, page, savings, returns)
