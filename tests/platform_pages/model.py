"""The platform-neutral shop behind the fixture pages: deterministic for a seed, streamed.

Orders are produced one at a time (``ShopModel.orders()``) so that a million lines can be
written with bounded memory. Besides ordinary orders, ``special=True`` adds one order for each
case an importer must handle: a test order, an order cancelled before fulfilment, a guest
checkout (twice with the same e-mail), a gift card, an exchange, a partial return (1 of 2
units), a price adjustment (refund without goods back), a shipping refund, a declined return, a
fee line and a size label outside every size system.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np

__all__ = ["Product", "Variant", "Line", "ReturnEvent", "Refund", "Order", "ShopModel", "REASONS"]

UTC = timezone.utc

# Shopify ReturnReason enum values and the customer's words that go with them (FR/EN)
REASONS = {
    "SIZE_TOO_SMALL": ["Trop petit, je prends d'habitude du M", "Too small around the shoulders"],
    "SIZE_TOO_LARGE": ["Taille trop grande", "Way too big, runs large"],
    "COLOR": ["La couleur ne correspond pas à la photo", "Colour is darker than on the photos"],
    "NOT_AS_DESCRIBED": ["La matière n'est pas celle annoncée", "Not the fabric described"],
    "DEFECTIVE": ["Couture décousue à la réception", "Seam came apart after one wash"],
    "UNWANTED": ["Changé d'avis", "Changed my mind"],
    "WRONG_ITEM": ["Reçu le mauvais article", "Received the wrong item"],
    "OTHER": ["Autre raison", "Other"],
}


@dataclass
class Variant:
    vid: int
    size: str | None
    color: str | None
    price: float


@dataclass
class Product:
    pid: int
    title: str
    category: str
    brand: str
    price: float
    size_option: str | None
    sizes: list[str] | None
    colors: list[str] | None
    fit: float
    created: datetime
    variants: list[Variant] = field(default_factory=list)
    gift_card: bool = False
    description: str = ""


@dataclass
class Line:
    lid: int
    product: Product
    variant: Variant
    quantity: int
    unit_price: float


@dataclass
class ReturnEvent:
    rid: int
    line: Line
    quantity: int
    at: datetime
    reason: str
    text: str
    declined: bool = False
    by_definition: bool = False


@dataclass
class Refund:
    fid: int
    at: datetime
    items: list[tuple[Line, int, bool, float]]  # line, quantity, goods back, amount
    amount: float
    note: str = ""
    return_event: ReturnEvent | None = None


@dataclass
class Order:
    oid: int
    number: int
    customer_id: int | None
    email: str
    at: datetime
    currency: str
    lines: list[Line]
    shipping: float = 4.9
    test: bool = False
    cancelled: bool = False
    fee: float = 0.0
    returns: list[ReturnEvent] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    exchange_lines: list[tuple[Line, datetime]] = field(default_factory=list)

    @property
    def fulfilled(self) -> bool:
        return not self.cancelled


LETTERS = ["XS", "S", "M", "L", "XL"]


class ShopModel:
    """A deterministic shop; ``orders()`` streams its orders in time order."""

    def __init__(self, seed: int = 14, n_orders: int = 700, start: str = "2025-05-01", days: int = 180,
                 special: bool = True, lines_per_order: float = 2.0):
        self.rng = np.random.default_rng(seed)
        self.n_orders, self.days, self.special = n_orders, days, special
        self.start = datetime.fromisoformat(start).replace(tzinfo=UTC)
        self.lines_per_order = lines_per_order
        self.products = self._catalogue()
        self.sellable = [p for p in self.products if not p.gift_card]
        self.gift = next(p for p in self.products if p.gift_card)
        self._ids = {"line": 11_000_000_000, "order": 5_100_000_000, "return": 9_000_000, "refund": 8_700_000_000}

    # ---- catalogue ---------------------------------------------------------------------------
    def _catalogue(self) -> list[Product]:
        rng, products, vid = self.rng, [], 44_000_000_000
        specs = [
            ("Robe", "dresses", "Lune", 79.0, "Size", LETTERS, ["Noir", "Bleu"]),
            ("Robe longue", "dresses", "Lune", 119.0, "Taille", LETTERS, ["Rouge"]),
            ("Jean droit", "jeans", "Nord", 69.0, "Size", ["W28/L32", "W30/L32", "W32/L34", "W34/L34"], ["Indigo"]),
            ("Jean slim", "jeans", "Nord", 75.0, "Size", ["28/32", "30/32", "32/32"], ["Noir"]),
            ("Baskets", "sneakers", "Pas", 95.0, "Size", ["EU 37", "EU 38", "EU 39", "EU 40", "EU 41", "EU 42"], ["Blanc"]),
            ("Bottines", "boots", "Pas", 139.0, "Size", ["38 EU", "39 EU", "40 EU", "41 EU"], ["Cognac", "Noir"]),
            ("Sneaker US", "sneakers", "Pace", 110.0, "Size", ["9", "9.5", "10", "10.5", "11"], ["Grey"]),
            ("T-shirt", "tops", "Coton", 29.0, "Taille", ["T1", "T2", "T3", "T4"], ["Blanc", "Marine"]),
            ("Chemise", "tops", "Coton", 59.0, "Size", ["36", "38", "40", "42", "44"], ["Blanc", "Ciel"]),
            ("Sac cabas", "bags", "Lune", 89.0, None, None, ["Camel", "Noir"]),
            ("Écharpe", "accessories", "Lune", 39.0, "Size", ["One size"], ["Gris"]),
            ("Pull", "knitwear", "Laine", 89.0, "Size", ["XS/S", "M/L"], ["Écru"]),
        ]
        pid = 7_000_000_000
        for round_ in range(3):
            for title, category, brand, price, option, sizes, colors in specs:
                pid += 1
                if round_ and option == "Size" and sizes == ["XS/S", "M/L"]:
                    continue  # one product only with sizes outside every size system
                product = Product(pid, f"{title} {['Alma', 'Bea', 'Cora'][round_]}", category, brand,
                                  round(price * (1 + 0.1 * round_), 2), option, sizes, colors,
                                  fit=float(rng.normal(0, 0.8)),
                                  created=self.start - timedelta(days=int(rng.integers(30, 400))),
                                  description=f"{title} en {['coton', 'lin', 'laine'][round_]}, coupe {['droite', 'ajustée', 'ample'][round_]}.")
                for size in sizes or [None]:
                    for color in colors or [None]:
                        vid += 1
                        product.variants.append(Variant(vid, size, color, product.price))
                products.append(product)
        pid += 1
        gift = Product(pid, "Carte cadeau", "gift cards", "Lune", 50.0, None, None, None, 0.0,
                       self.start - timedelta(days=500), gift_card=True, description="Carte cadeau de 50 €.")
        gift.variants.append(Variant(vid + 1, None, None, 50.0))
        products.append(gift)
        return products

    # ---- orders ------------------------------------------------------------------------------
    def _next(self, kind: str) -> int:
        self._ids[kind] += int(self.rng.integers(1, 50))
        return self._ids[kind]

    def _line(self, product: Product, quantity: int = 1, currency: str = "EUR") -> Line:
        variant = product.variants[int(self.rng.integers(len(product.variants)))]
        rate = 0.95 if currency == "CHF" else 1.0
        discount = 0.8 if self.rng.random() < 0.15 else 1.0
        return Line(self._next("line"), product, variant, quantity, round(variant.price * rate * discount, 2))

    def _customer(self) -> tuple[int | None, str]:
        if self.rng.random() < 0.18:
            k = int(self.rng.integers(60))
            return None, f"Guest.{k}@Example.org " if k % 7 == 0 else f"guest.{k}@example.org"
        k = int(self.rng.integers(250))
        return 620_000_000 + k, f"client{k}@example.com"

    def _outcomes(self, order: Order) -> None:
        rng = self.rng
        for line in order.lines:
            product = line.product
            p = 0.12 + (0.14 if product.sizes and len(product.sizes) > 1 else 0.0) + 0.06 * abs(product.fit)
            if rng.random() >= p:
                continue
            if product.sizes and len(product.sizes) > 1 and rng.random() < 0.65:
                reason = "SIZE_TOO_SMALL" if rng.random() < 0.5 + 0.35 * np.tanh(-product.fit) else "SIZE_TOO_LARGE"
            else:
                reason = str(rng.choice(["COLOR", "NOT_AS_DESCRIBED", "DEFECTIVE", "UNWANTED", "WRONG_ITEM", "OTHER"],
                                        p=[0.25, 0.2, 0.15, 0.25, 0.05, 0.1]))
            at = order.at + timedelta(days=int(rng.integers(3, 13)), hours=int(rng.integers(0, 10)))
            event = ReturnEvent(self._next("return"), line, line.quantity, at, reason,
                                str(rng.choice(REASONS[reason])), by_definition=rng.random() < 0.1)
            order.returns.append(event)
            refund_at = at + timedelta(days=int(rng.integers(1, 6)))
            value = round(line.unit_price * line.quantity, 2)
            order.refunds.append(Refund(self._next("refund"), refund_at, [(line, line.quantity, True, value)],
                                        value, event.text, event))

    def _ordinary(self, at: datetime) -> Order:
        customer_id, email = self._customer()
        currency = "CHF" if self.rng.random() < 0.15 else "EUR"
        n = 1 + int(self.rng.poisson(self.lines_per_order - 1))
        picks = self.rng.choice(len(self.sellable), size=min(n, 4), replace=False)
        lines = [self._line(self.sellable[int(i)], 1 + int(self.rng.random() < 0.08), currency) for i in picks]
        order = Order(self._next("order"), 0, customer_id, email, at, currency, lines,
                      shipping=0.0 if sum(l.unit_price for l in lines) > 100 else 4.9)
        self._outcomes(order)
        return order

    def _specials(self) -> list[Order]:
        at = self.start + timedelta(days=self.days // 2)
        make = lambda k: self._ordinary(at + timedelta(hours=5 * k))  # noqa: E731
        specials = []
        test = make(1); test.test = True; specials.append(test)
        cancelled = make(2); cancelled.cancelled = True; cancelled.returns, cancelled.refunds = [], []; specials.append(cancelled)
        for k in (3, 4):  # the same guest twice, once with a differently written e-mail
            guest = make(k); guest.customer_id = None
            guest.email = "Marie.Dupont@Example.FR" if k == 3 else " marie.dupont@example.fr"; specials.append(guest)
        gift = make(5); gift.lines.append(Line(self._next("line"), self.gift, self.gift.variants[0], 1, 50.0)); specials.append(gift)
        exchange = make(6); exchange.returns, exchange.refunds = [], []
        first = exchange.lines[0]
        back = ReturnEvent(self._next("return"), first, first.quantity, exchange.at + timedelta(days=6), "SIZE_TOO_SMALL",
                           "Trop petit, échange contre la taille au-dessus")
        exchange.returns.append(back)
        new = Line(self._next("line"), first.product, first.variant, 1, 0.0)
        exchange.exchange_lines.append((new, back.at)); specials.append(exchange)
        partial = make(7); partial.returns, partial.refunds = [], []
        two = partial.lines[0]; two.quantity = 2
        half = ReturnEvent(self._next("return"), two, 1, partial.at + timedelta(days=8), "SIZE_TOO_LARGE", "Une des deux trop grande")
        partial.returns.append(half)
        partial.refunds.append(Refund(self._next("refund"), half.at + timedelta(days=2), [(two, 1, True, two.unit_price)],
                                      two.unit_price, half.text, half))
        specials.append(partial)
        adjust = make(8); adjust.returns, adjust.refunds = [], []
        line = adjust.lines[0]
        adjust.refunds.append(Refund(self._next("refund"), adjust.at + timedelta(days=4),
                                     [(line, 0, False, round(line.unit_price * 0.2, 2))], round(line.unit_price * 0.2, 2),
                                     "Geste commercial : petit défaut"))
        adjust.refunds.append(Refund(self._next("refund"), adjust.at + timedelta(days=5), [], adjust.shipping or 4.9,
                                     "Remboursement des frais de port"))
        specials.append(adjust)
        declined = make(9); declined.returns, declined.refunds = [], []
        declined.returns.append(ReturnEvent(self._next("return"), declined.lines[0], 1, declined.at + timedelta(days=40),
                                            "UNWANTED", "Hors délai", declined=True))
        specials.append(declined)
        fee = make(10); fee.fee = 2.5; specials.append(fee)
        odd = make(11)
        knit = next(p for p in self.sellable if p.sizes == ["XS/S", "M/L"])
        odd.lines.append(Line(self._next("line"), knit, knit.variants[0], 1, knit.price)); specials.append(odd)
        return specials

    def orders(self) -> Iterator[Order]:
        """Every order in time order (special cases in the middle of the history)."""
        step = self.days * 86_400 / max(self.n_orders, 1)
        specials = self._specials() if self.special else []
        special_at = specials[0].at if specials else None
        number = 1000
        for k in range(self.n_orders):
            at = self.start + timedelta(seconds=int(k * step + self.rng.integers(0, max(int(step), 1))))
            if specials and at >= special_at:
                for order in specials:
                    number += 1
                    order.number = number
                    yield order
                specials = []
            number += 1
            order = self._ordinary(at)
            order.number = number
            yield order
