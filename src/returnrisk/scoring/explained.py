"""Scores with exact explanations, for the storefront and for merchandisers.

* :meth:`ExplainedScorer.anonymous` — every (product, size) for a visitor with no history,
  computed once when a model is loaded and served from memory (with their drivers);
* :meth:`ExplainedScorer.for_customer` — one (product, size) for a known customer: the
  visitor's row with the customer's columns recomputed (:mod:`~returnrisk.scoring.rows`), scored
  by LightGBM's prepared single-row path (:class:`~returnrisk.model.row_predictor.RowPredictor`),
  explained only when asked;
* :meth:`ExplainedScorer.score_lines` — baskets and batches (:mod:`~returnrisk.scoring.basket`),
  including products the model has never seen (their attributes come with the line).

Probabilities always come from the boosters' predictions, so an answer is the same with or
without its explanation. Contributions are exact TreeSHAP values (LightGBM ``pred_contrib``):
for ``p_return`` in calibrated log-odds (``base + sum(contributions) = logit(p_return)``), for
each reason group in the raw score of that reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from returnrisk.features.catalog import FEATURE_INDEX
from returnrisk.features.derive import derive_features
from returnrisk.features.history import LineHistory
from returnrisk.features.lines import ORDER_CONTEXT_FEATURES, line_inputs
from returnrisk.features.snapshot import SEP
from returnrisk.model.bundle import ServingBundle
from returnrisk.model.row_predictor import RowPredictor
from returnrisk.scoring.basket import BasketLine, basket_features
from returnrisk.scoring.drivers import top_drivers
from returnrisk.scoring.fit import fit_message, fit_tendency
from returnrisk.scoring.rows import FeatureRows
from returnrisk.taxonomy import RETURN_GROUPS
from returnrisk.timeutil import DAY

__all__ = ["ExplainedScorer", "UnknownProduct", "SizeNotOffered", "LANGUAGES", "BasketLine"]

LANGUAGES = ("en", "fr")


class UnknownProduct(LookupError):
    def __init__(self, product_id: str):
        super().__init__(product_id)
        self.product_id = product_id


class SizeNotOffered(LookupError):
    def __init__(self, product_id: str, size: str | None, offered: list[str]):
        super().__init__(product_id)
        self.product_id, self.size, self.offered = product_id, size, offered


#: Positions of the order-context features, left out of a product page's drivers.
_ORDER_POSITIONS = frozenset(FEATURE_INDEX[name] for name in ORDER_CONTEXT_FEATURES)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(raw: np.ndarray) -> np.ndarray:
    z = raw - raw.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@dataclass
class _Pairs:
    """The visitor rows of every (product, size) the snapshot knows."""

    index: dict[tuple[str, str], int]
    lines: pd.DataFrame
    history: LineHistory
    inputs: dict[str, np.ndarray]
    X: np.ndarray


class ExplainedScorer:
    def __init__(self, bundle: ServingBundle, version: str | None = None, *, top: int = 5, reason_top: int = 3,
                 now: pd.Timestamp | None = None):
        self.bundle = bundle
        self.snapshot = bundle.snapshot
        self.model = bundle.model
        self.version = version
        self.top, self.reason_top = top, reason_top
        self.now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
        sizes = self.snapshot.product_sizes
        self.sizes: dict[str, list[str]] = {
            str(pid): group["size"].astype(str).tolist() for pid, group in sizes.groupby("product_id", sort=False)
        }
        #: each sized product's size ordinals, in the order of its sizes
        self.size_ordinals: dict[str, np.ndarray] = {
            str(pid): group["ordinal"].to_numpy(dtype=float) for pid, group in sizes.groupby("product_id", sort=False)
        }
        self._customers = self.snapshot.states["customer"]
        self._fit: dict[str, tuple[dict, dict]] = {}
        self.pairs = self._build_pairs()
        self.rows = FeatureRows(self.snapshot, self.pairs.X, self.pairs.lines["product_id"].tolist(),
                                self.pairs.lines["size_system"].astype(object).fillna("unsized").tolist(),
                                self.pairs.inputs["size_ordinal"], self.pairs.history.moments)
        self.predictor = RowPredictor(self.model)
        products = self.snapshot.products
        rates = bundle.category_rates(products["category"].astype(object).fillna(""))
        self._category_rate = dict(zip(products.index.astype(str), rates.tolist()))

    # ---- catalogue ----------------------------------------------------------------------------
    def has_product(self, product_id: str) -> bool:
        return product_id in self.snapshot.products.index

    def offered_sizes(self, product_id: str) -> list[str]:
        return self.sizes.get(product_id, [])

    def check(self, product_id: str, size: str | None) -> tuple[str, str]:
        """``(product_id, size key)`` or :class:`UnknownProduct` / :class:`SizeNotOffered`."""
        if not self.has_product(product_id):
            raise UnknownProduct(product_id)
        offered = self.offered_sizes(product_id)
        key = (size or "").strip()
        if (product_id, key) not in self.pairs.index:
            raise SizeNotOffered(product_id, size, offered)
        return product_id, key

    def fit(self, product_id: str):
        """The product's fit tendency and its shopper messages (cached per product)."""
        if product_id not in self._fit:
            tendency = fit_tendency(self.snapshot, product_id)
            self._fit[product_id] = (tendency, {lang: fit_message(tendency, lang) for lang in LANGUAGES})
        return self._fit[product_id]

    # ---- the visitor table --------------------------------------------------------------------
    def _build_pairs(self) -> _Pairs:
        sizes = self.snapshot.product_sizes[["product_id", "size"]].astype(str)
        sized_products = set(sizes["product_id"])
        unsized = [p for p in self.snapshot.products.index.astype(str) if p not in sized_products]
        lines = pd.concat([sizes, pd.DataFrame({"product_id": unsized, "size": [""] * len(unsized)})],
                          ignore_index=True)
        lines["customer_id"] = ""
        lines["line_id"] = lines["product_id"] + SEP + lines["size"]
        # keyed by the size a request sends ("" for none) before "" becomes a missing size for the
        # features: under pandas 3 the column then holds NaN, which is no key anyone looks up
        index = {(p, s): i for i, (p, s) in enumerate(zip(lines["product_id"], lines["size"]))}
        lines["size"] = lines["size"].replace("", None)
        rows, _ = self.snapshot.product_rows(lines)
        history = self.snapshot.line_history(lines, rows)
        cutoff = (int(self.now.timestamp()) // DAY) * DAY
        inputs = line_inputs(lines, rows, self.snapshot.vocabulary, np.full(len(lines), cutoff, dtype=np.int64))
        X = derive_features(history, inputs, self.snapshot.smoothing)
        lines["size_system"] = rows["size_system"].to_numpy()
        return _Pairs(index, lines, history, inputs, X)

    # ---- scores and explanations of rows ---------------------------------------------------------
    def _category_rates(self, product_ids: list[str]) -> np.ndarray:
        known = [self._category_rate.get(pid) for pid in product_ids]
        if all(rate is not None for rate in known):
            return np.asarray(known, dtype=float)
        rows, _ = self.snapshot.product_rows(pd.DataFrame({"product_id": product_ids}))   # new products
        return self.bundle.category_rates(rows["category"].astype(object).fillna(""))

    def scores(self, X: np.ndarray, product_ids: list[str], *, explain: bool = False,
               batch: bool = False) -> dict[str, np.ndarray]:
        """Probabilities and band of each row; with ``explain`` its exact contributions too.

        A few rows (the request path) are predicted row by row on one thread; ``batch`` (the
        visitor table) uses LightGBM's batch prediction on every core.
        """
        prediction = self.model.predict(X) if batch else self.predictor.predict(X)
        ratio = prediction.p_return / np.maximum(self._category_rates(product_ids), 1e-6)
        out = {"X": X, "p_return": prediction.p_return, "p_reasons": prediction.p_reasons,
               "band": self.bundle.bands.band(ratio)}
        if explain:
            # one row (the request path) on one thread; batches on every core
            explanation = self.model.explain(X, num_threads=1 if len(X) < 64 else 0)
            out["return_contrib"], out["reason_contrib"] = explanation.return_contrib, explanation.reason_contrib
        return out

    def _body(self, e: dict[str, np.ndarray], i: int, product_id: str, lang: str, product_page: bool = False) -> dict:
        """One answer; ``product_page``: no order exists yet, so the order context (scored as the item
        bought alone) is left out of the drivers and its contribution reported apart."""
        p = float(e["p_return"][i])
        body = {
            "p_return": round(p, 6),
            "reasons": {g: round(float(e["p_reasons"][i, k]), 6) for k, g in enumerate(RETURN_GROUPS)},
            "risk_band": str(e["band"][i]),
        }
        if "return_contrib" in e:
            vocabulary = self.snapshot.vocabulary
            leave_out = _ORDER_POSITIONS if product_page else frozenset()
            body["base_log_odds"] = round(float(e["return_contrib"][i, -1]), 5)
            if product_page:
                body["order_context_log_odds"] = round(float(e["return_contrib"][i, list(leave_out)].sum()), 5)
            body["drivers"] = top_drivers(e["return_contrib"][i], e["X"][i], vocabulary, lang, self.top, leave_out)
            body["reason_drivers"] = {
                g: top_drivers(e["reason_contrib"][i, k], e["X"][i], vocabulary, lang, self.reason_top, leave_out)
                for k, g in enumerate(RETURN_GROUPS)
            }
        body["message"] = self.fit(product_id)[1][lang] if self.has_product(product_id) else None
        body["model_version"] = self.version
        return body

    def explain_rows(self, X: np.ndarray, product_ids: list[str], langs: list[str], *,
                     explain: bool = True, product_page: bool = False) -> list[dict]:
        """Probabilities, band, drivers (with ``explain``) and message of each feature row;
        ``product_page``: rows of a product page (no order yet, see :meth:`_body`)."""
        e = self.scores(X, product_ids, explain=explain)
        return [self._body(e, i, pid, lang, product_page) for i, (pid, lang) in enumerate(zip(product_ids, langs))]

    def anonymous(self) -> dict[tuple[str, str, str], bytes]:
        """JSON bodies of every (product, size, language) for a visitor without history."""
        pairs = self.pairs
        out: dict[tuple[str, str, str], bytes] = {}
        ids = pairs.lines["product_id"].tolist()
        sizes = pairs.lines["size"].fillna("").tolist()
        chunk = 4096
        for start in range(0, len(ids), chunk):
            stop = min(start + chunk, len(ids))
            e = self.scores(pairs.X[start:stop], ids[start:stop], explain=True, batch=True)
            for j in range(stop - start):
                pid, size = ids[start + j], sizes[start + j]
                head = {"product_id": pid, "size": size or None, "customer_id": None, "customer_known": False}
                for lang in LANGUAGES:
                    body = {**head, **self._body(e, j, pid, lang, product_page=True)}
                    out[(pid, size, lang)] = json.dumps(body, separators=(",", ":")).encode()
        return out

    def customer_row(self, product_id: str, size_key: str, customer_id: str) -> tuple[np.ndarray, bool]:
        """The feature row of (product, size) for ``customer_id``; ``known`` if they have a history."""
        i = self.pairs.index[(product_id, size_key)]
        customer = self.rows.customer(customer_id)
        if customer is None:
            return self.pairs.X[i:i + 1], False
        return self.rows.for_customer(np.array([i]), customer), True

    def for_customer(self, product_id: str, size: str | None, customer_id: str, lang: str, *,
                     explain: bool = False) -> dict:
        """A known (or unknown: scored as new) customer's answer; drivers only with ``explain``."""
        pid, key = self.check(product_id, size)
        X, known = self.customer_row(pid, key, customer_id)
        body = self.explain_rows(X, [pid], [lang], explain=explain, product_page=True)[0]
        return {"product_id": pid, "size": key or None, "customer_id": customer_id, "customer_known": known, **body}

    def score_lines(self, lines: list[BasketLine], lang: str, now: pd.Timestamp | None = None, *,
                    explain: bool = False) -> list[dict]:
        """Scores of order lines (known or new products, known or new customers); drivers with ``explain``."""
        X = basket_features(self, lines, now=now or pd.Timestamp.now(tz="UTC"))
        ids = [line.product_id for line in lines]
        bodies = self.explain_rows(X, ids, [lang] * len(ids), explain=explain)
        known = self._customers.index.get_indexer([line.customer_id or "" for line in lines]) >= 0
        return [{"line_id": line.line_id, "product_id": line.product_id, "size": line.size,
                 "customer_id": line.customer_id, "customer_known": bool(known[i]),
                 "product_known": self.has_product(line.product_id), **body}
                for i, (line, body) in enumerate(zip(lines, bodies))]
