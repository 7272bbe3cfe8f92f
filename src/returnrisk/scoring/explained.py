"""Scores with exact explanations, for the storefront and for merchandisers.

* :meth:`ExplainedScorer.anonymous` — every (product, size) for a visitor with no history,
  computed once when a model is loaded and served from memory;
* :meth:`ExplainedScorer.for_customer` — one (product, size) for a known customer: the
  visitor's row with the customer's history swapped in, so only one row is explained;
* :meth:`ExplainedScorer.score_lines` — baskets and batches, including products the model has
  never seen (their attributes come with the line).

Contributions are exact TreeSHAP values (LightGBM ``pred_contrib``): for ``p_return`` in
calibrated log-odds (``base + sum(contributions) = logit(p_return)``), for each reason group in
the raw score of that reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from returnrisk.features.derive import derive_features
from returnrisk.features.history import LineHistory
from returnrisk.features.lines import line_inputs
from returnrisk.features.snapshot import SEP
from returnrisk.model.bundle import ServingBundle
from returnrisk.scoring.drivers import top_drivers
from returnrisk.scoring.fit import fit_message, fit_tendency
from returnrisk.taxonomy import RETURN_GROUPS
from returnrisk.timeutil import DAY

__all__ = ["ExplainedScorer", "UnknownProduct", "SizeNotOffered", "LANGUAGES"]

LANGUAGES = ("en", "fr")


class UnknownProduct(LookupError):
    def __init__(self, product_id: str):
        super().__init__(product_id)
        self.product_id = product_id


class SizeNotOffered(LookupError):
    def __init__(self, product_id: str, size: str | None, offered: list[str]):
        super().__init__(product_id)
        self.product_id, self.size, self.offered = product_id, size, offered


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
        self._customers = self.snapshot.states["customer"]
        self._customer_values = self._customers.to_numpy()
        self._profiles = self.snapshot.profiles
        self._profile_values = self._profiles.to_numpy()
        self._bodies = self.snapshot.bodies
        self._body_values = self._bodies.to_numpy()
        self._fit: dict[str, tuple[dict, dict]] = {}
        self.pairs = self._build_pairs()

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

    # ---- explanation of rows --------------------------------------------------------------------
    def _explain(self, X: np.ndarray, product_ids: list[str]) -> dict[str, np.ndarray]:
        # one row (the request path) on one thread; batches on every core
        explanation = self.model.explain(X, num_threads=1 if len(X) < 64 else 0)
        p_return = _sigmoid(explanation.return_contrib.sum(axis=1))
        p_given = _softmax(explanation.reason_contrib.sum(axis=2))
        rows, _ = self.snapshot.product_rows(pd.DataFrame({"product_id": product_ids}))
        ratio = p_return / np.maximum(self.bundle.category_rates(rows["category"].astype(object).fillna("")), 1e-6)
        return {"X": X, "p_return": p_return, "p_given": p_given, "band": self.bundle.bands.band(ratio),
                "return_contrib": explanation.return_contrib, "reason_contrib": explanation.reason_contrib}

    def _body(self, e: dict[str, np.ndarray], i: int, product_id: str, lang: str) -> dict:
        vocabulary = self.snapshot.vocabulary
        p = float(e["p_return"][i])
        return {
            "p_return": round(p, 6),
            "reasons": {g: round(p * float(e["p_given"][i, k]), 6) for k, g in enumerate(RETURN_GROUPS)},
            "risk_band": str(e["band"][i]),
            "base_log_odds": round(float(e["return_contrib"][i, -1]), 5),
            "drivers": top_drivers(e["return_contrib"][i], e["X"][i], vocabulary, lang, self.top),
            "reason_drivers": {
                g: top_drivers(e["reason_contrib"][i, k], e["X"][i], vocabulary, lang, self.reason_top)
                for k, g in enumerate(RETURN_GROUPS)
            },
            "message": self.fit(product_id)[1][lang] if self.has_product(product_id) else None,
            "model_version": self.version,
        }

    def explain_rows(self, X: np.ndarray, product_ids: list[str], langs: list[str]) -> list[dict]:
        """Probabilities, band, drivers and message of each feature row."""
        e = self._explain(X, product_ids)
        return [self._body(e, i, pid, lang) for i, (pid, lang) in enumerate(zip(product_ids, langs))]

    def anonymous(self) -> dict[tuple[str, str, str], bytes]:
        """JSON bodies of every (product, size, language) for a visitor without history."""
        pairs = self.pairs
        out: dict[tuple[str, str, str], bytes] = {}
        ids = pairs.lines["product_id"].tolist()
        sizes = pairs.lines["size"].fillna("").tolist()
        chunk = 4096
        for start in range(0, len(ids), chunk):
            stop = min(start + chunk, len(ids))
            e = self._explain(pairs.X[start:stop], ids[start:stop])
            for j in range(stop - start):
                pid, size = ids[start + j], sizes[start + j]
                head = {"product_id": pid, "size": size or None, "customer_id": None, "customer_known": False}
                for lang in LANGUAGES:
                    body = {**head, **self._body(e, j, pid, lang)}
                    out[(pid, size, lang)] = json.dumps(body, separators=(",", ":")).encode()
        return out

    def customer_row(self, product_id: str, size_key: str, customer_id: str) -> tuple[np.ndarray, bool]:
        """The feature row of (product, size) for ``customer_id``; ``known`` if they have a history."""
        i = self.pairs.index[(product_id, size_key)]
        h = self.pairs.history
        states = {entity: values[i:i + 1] for entity, values in h.states.items()}
        try:
            position = self._customers.index.get_loc(customer_id)
        except KeyError:
            return self.pairs.X[i:i + 1], False
        states["customer"] = self._customer_values[position:position + 1]
        system = self.pairs.lines["size_system"].iat[i]
        profile = np.zeros((1, 3))
        try:
            profile[0] = self._profile_values[self._profiles.index.get_loc(f"{customer_id}{SEP}{system}")]
        except KeyError:
            pass
        body = np.zeros((1, 2))
        try:
            body[0] = self._body_values[self._bodies.index.get_loc(customer_id)]
        except KeyError:
            pass
        history = LineHistory(states, profile, h.fit_offset[i:i + 1], body, h.moments[i:i + 1])
        inputs = {name: values[i:i + 1] for name, values in self.pairs.inputs.items()}
        return derive_features(history, inputs, self.snapshot.smoothing), True

    def for_customer(self, product_id: str, size: str | None, customer_id: str, lang: str) -> dict:
        pid, key = self.check(product_id, size)
        X, known = self.customer_row(pid, key, customer_id)
        body = self.explain_rows(X, [pid], [lang])[0]
        return {"product_id": pid, "size": key or None, "customer_id": customer_id, "customer_known": known, **body}

    def score_lines(self, lines: pd.DataFrame, lang: str, now: pd.Timestamp | None = None) -> list[dict]:
        """Explained scores of arbitrary lines (known or new products, known or new customers)."""
        X = self.snapshot.features(lines, now=now or pd.Timestamp.now(tz="UTC"))
        ids = lines["product_id"].astype(str).tolist()
        bodies = self.explain_rows(X, ids, [lang] * len(ids))
        customers = lines["customer_id"] if "customer_id" in lines.columns else pd.Series([None] * len(lines))
        known = self._customers.index.get_indexer(customers.astype(object).fillna("").astype(str)) >= 0
        out = []
        for i, body in enumerate(bodies):
            size = lines["size"].iloc[i] if "size" in lines.columns else None
            out.append({"line_id": str(lines["line_id"].iloc[i]), "product_id": ids[i],
                        "size": None if size is None or size != size else str(size),
                        "customer_id": None if customers.iloc[i] is None or customers.iloc[i] != customers.iloc[i]
                        else str(customers.iloc[i]),
                        "customer_known": bool(known[i]), "product_known": self.has_product(ids[i]), **body})
        return out
