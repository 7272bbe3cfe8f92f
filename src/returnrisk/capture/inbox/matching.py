"""Which order and which lines an e-mail is about.

* :class:`OrderIndex` — the shop's order numbers (``order_lines.order_number``, e.g. ``#1001``)
  and order ids. Candidates found by the pattern (``RETURNRISK_INBOX_ORDER_PATTERN``) count only
  if they are one of them, compared without ``#``, spaces or case — a date or a phone number that
  happens to match is ignored.
* :func:`pick_lines` — the lines the customer names: by product name (every significant word
  of its title), else by size ("taille M", "size 40", "in XL"); a one-line order is that line;
  otherwise the whole order, marked for review.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import pandas as pd

from returnrisk.capture.orders import OrderView

__all__ = ["FoundOrders", "LinePick", "OrderIndex", "pick_lines", "plain_words"]

_STOP = {"the", "and", "for", "with", "les", "des", "une", "pour", "avec", "sur", "aux", "dans", "par", "from"}
_SIZE_INTRO = re.compile(r"(?=\b(?:size|taille|sz|t\.|en|in|pointure)\s*:?\s*([a-z0-9][a-z0-9.,/]{0,7})\b)",
                         re.IGNORECASE)   # a lookahead: "en taille S" gives "taille" and "S"


def plain_words(text: str) -> str:
    """Lower case, accents dropped, anything but letters and digits a space."""
    folded = unicodedata.normalize("NFKD", text or "")
    folded = "".join(c for c in folded if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", folded).split())


def _key(value: str) -> str:
    return re.sub(r"[\s#]+", "", str(value)).upper()


@dataclass(frozen=True)
class FoundOrders:
    candidates: list[str]        # every number the pattern found (as written)
    orders: list[tuple[str, str]]  # (number as written, order_id) of the shop's orders, first seen first


class OrderIndex:
    """The shop's orders by number and id."""

    def __init__(self, order_lines: pd.DataFrame):
        orders = order_lines[["order_id"]].astype(str)
        self._by_key: dict[str, str] = {}
        ids = pd.unique(orders["order_id"])
        self._by_key.update({_key(i): i for i in ids})
        if "order_number" in order_lines.columns:
            pairs = order_lines[["order_number", "order_id"]].dropna().drop_duplicates()
            for number, order_id in zip(pairs["order_number"].astype(str), pairs["order_id"].astype(str),
                                        strict=True):
                self._by_key.setdefault(_key(number), order_id)

    def __len__(self) -> int:
        return len(self._by_key)

    def find(self, text: str, pattern: re.Pattern) -> FoundOrders:
        candidates, orders, seen = [], [], set()
        for match in pattern.finditer(text or ""):
            number = match.group(1) if match.groups() else match.group(0)
            candidates.append(number)
            order_id = self._by_key.get(_key(number))
            if order_id is not None and order_id not in seen:
                seen.add(order_id)
                orders.append((number, order_id))
        return FoundOrders(candidates, orders)


@dataclass(frozen=True)
class LinePick:
    positions: list[int]
    how: str          # title | size | single_line | whole_order
    review: bool      # the lines were not named: a person should check them


def _title_named(title: str, words: set[str], text: str) -> bool:
    significant = [w for w in plain_words(title).split() if len(w) >= 3 and w not in _STOP and not w.isdigit()]
    if not significant:
        return False
    if plain_words(title) in text:
        return True
    present = sum(1 for w in significant if w in words)
    return present == len(significant) if len(significant) <= 2 else present >= max(2, -(-2 * len(significant) // 3))


def _sizes_named(text: str) -> set[str]:
    named = {m.group(1).upper().rstrip(".,") for m in _SIZE_INTRO.finditer(text)}
    # a size of two characters or more with a letter (XL, XXL, W30, 3XL) can stand alone
    named |= {t for t in re.findall(r"\b[A-Z0-9]{2,5}\b", text) if re.search(r"[A-Z]", t) and
              re.fullmatch(r"X{0,3}[SL]|XS|XXS|\dXL|\dXS|W\d{2}", t)}
    return named


def pick_lines(order: OrderView, words: str) -> LinePick:
    """The order's lines (still returnable) the customer's words name."""
    open_lines = [ln for ln in order.lines if ln.left > 0]
    if not open_lines:
        return LinePick([], "nothing_left", True)
    text = plain_words(words)
    tokens = set(text.split())
    by_title = [ln.position for ln in open_lines if _title_named(ln.title, tokens, text)]
    if by_title:
        return LinePick(by_title, "title", False)
    sizes = _sizes_named(words or "")
    by_size = [ln.position for ln in open_lines if ln.size and ln.size.upper() in sizes]
    if by_size:
        return LinePick(by_size, "size", False)
    if len(order.lines) == 1:
        return LinePick([open_lines[0].position], "single_line", False)
    return LinePick([ln.position for ln in open_lines], "whole_order", True)
