"""The portal form, read and checked: which lines, how many, why, and the exchange chosen.

Field names use each line's position in the order (``qty-1``, ``reason-1``, ``comment-1``,
``photos-1``, ``choice-1``), never its id. Every problem becomes a message for the customer
naming the item; the values typed are kept to fill the form again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from itsdangerous import BadSignature, URLSafeTimedSerializer

from returnrisk.capture.exchange import ExchangeOffer
from returnrisk.capture.orders import OrderView
from returnrisk.capture.reasons import portal_reason

__all__ = [
    "COMMENT_MAX",
    "STATE_SALT",
    "FormCheck",
    "LineChoice",
    "StateSigner",
    "read_choices",
    "read_exchange_choices",
]

COMMENT_MAX = 1000
STATE_SALT = "returnrisk-portal-state"


@dataclass(frozen=True)
class LineChoice:
    position: int
    quantity: int
    reason: str               # a portal reason key
    comment: str | None


@dataclass
class FormCheck:
    choices: list[LineChoice] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)   # (field id, message)
    values: dict[int, dict] = field(default_factory=dict)         # typed values, to fill the form again

    @property
    def ok(self) -> bool:
        return not self.errors


def _int(text: str | None) -> int | None:
    try:
        return int(str(text).strip())
    except (TypeError, ValueError):
        return None


def read_choices(fields: Mapping[str, str], photo_counts: Mapping[int, int], order: OrderView,
                 t: Callable[..., str], max_photos: int) -> FormCheck:
    """The lines chosen in the order form, or the messages saying what to correct."""
    check = FormCheck()
    for line in order.lines:
        i = line.position
        qty_text = fields.get(f"qty-{i}", "0") or "0"
        reason = (fields.get(f"reason-{i}") or "").strip()
        comment = (fields.get(f"comment-{i}") or "").strip() or None
        check.values[i] = {"qty": qty_text, "reason": reason, "comment": comment or ""}
        quantity = _int(qty_text)
        n_photos = photo_counts.get(i, 0)
        if quantity is None or quantity < 0:
            check.errors.append((f"qty-{i}", t("err_quantity", title=line.title, left=line.left)))
            continue
        if quantity == 0:
            if n_photos:
                check.errors.append((f"qty-{i}", t("err_photos_reason", title=line.title)))
            continue
        if quantity > line.left:
            check.errors.append((f"qty-{i}", t("err_quantity", title=line.title, left=line.left)))
            continue
        chosen = portal_reason(reason)
        if chosen is None:
            check.errors.append((f"reason-{i}", t("err_reason", title=line.title)))
            continue
        if chosen.code is None and not comment:
            check.errors.append((f"comment-{i}", t("err_other", title=line.title)))
            continue
        if comment and len(comment) > COMMENT_MAX:
            check.errors.append((f"comment-{i}", t("err_comment_long", title=line.title, n=COMMENT_MAX)))
            continue
        if n_photos and chosen.key != "damaged":
            check.errors.append((f"photos-{i}", t("err_photos_reason", title=line.title)))
            continue
        if n_photos > max_photos:
            check.errors.append((f"photos-{i}", t("err_photos_count", title=line.title, n=max_photos)))
            continue
        check.choices.append(LineChoice(i, quantity, chosen.key, comment))
    if not check.choices and not check.errors:
        first = next((ln.position for ln in order.lines if ln.left > 0), 1)
        check.errors.append((f"qty-{first}", t("err_nothing")))
    return check


def read_exchange_choices(fields: Mapping[str, str], offers: Mapping[int, ExchangeOffer], order: OrderView,
                          t: Callable[..., str]) -> tuple[dict[int, tuple[str, str | None]], list[tuple[str, str]]]:
    """Per offered line: ("exchange", size) or ("refund", None); and the messages for missing choices."""
    chosen: dict[int, tuple[str, str | None]] = {}
    errors: list[tuple[str, str]] = []
    for position, offer in offers.items():
        value = (fields.get(f"choice-{position}") or "").strip()
        if value == "refund":
            chosen[position] = ("refund", None)
        elif value.startswith("exchange:") and value.removeprefix("exchange:") in offer.sizes:
            chosen[position] = ("exchange", value.removeprefix("exchange:"))
        else:
            line = order.line(position)
            errors.append((f"choice-{position}", t("err_choice", title=line.title if line else position)))
    return chosen, errors


class StateSigner:
    """The first step's answers carried, signed, through the exchange step (no server-side session)."""

    def __init__(self, secret: str, max_age_seconds: int = 6 * 3600):
        self._serializer = URLSafeTimedSerializer(secret, salt=STATE_SALT)
        self.max_age_seconds = max_age_seconds

    def dumps(self, order_id: str, form_id: str, choices: list[LineChoice], photo_ids: list[str]) -> str:
        return self._serializer.dumps({"o": order_id, "f": form_id, "p": photo_ids,
                                       "c": [[c.position, c.quantity, c.reason, c.comment] for c in choices]})

    def loads(self, token: str | None, order_id: str, form_id: str | None) -> tuple[list[LineChoice], list[str]] | None:
        """The answers, or ``None`` when the state is missing, altered, expired or of another order/form."""
        if not token:
            return None
        try:
            data = self._serializer.loads(token, max_age=self.max_age_seconds)
        except BadSignature:
            return None
        if not isinstance(data, dict) or data.get("o") != order_id or data.get("f") != form_id:
            return None
        choices = [LineChoice(int(p), int(q), str(r), c) for p, q, r, c in data.get("c", [])]
        return choices, [str(p) for p in data.get("p", [])]
