"""The feature snapshot: every entity's state as of the end of the data.

Serving and batch scoring do not replay the history: they look up each line's product,
product size, customer, category and brand in these tables and feed the same
:func:`~returnrisk.features.derive.derive_features` as training. A product or customer the
snapshot does not know is scored from its category, brand and page attributes (cold start).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from returnrisk.features.asof import first_of_each
from returnrisk.features.attributes import describe_text
from returnrisk.features.derive import Smoothing, derive_features
from returnrisk.features.history import RATE_ENTITIES, STATE_COLUMNS, HistoryIndex, LineHistory
from returnrisk.features.lines import Vocabulary, line_inputs
from returnrisk.sizes import label_ordinals
from returnrisk.timeutil import day_floor, epoch_seconds

__all__ = ["Snapshot", "SEP", "PRODUCT_COLUMNS"]

SEP = "\x1f"
PRODUCT_COLUMNS = ("category", "brand", "price", "has_size_guide", "n_photos", "created_at", "size_system",
                   "description_length", "mentions_material", "mentions_dimensions", "mentions_fit")


def _key(*parts: pd.Series) -> pd.Series:
    out = parts[0].astype(object).fillna("").astype(str)
    for part in parts[1:]:
        out = out + SEP + part.astype(object).fillna("").astype(str)
    return out


def _sizes_sold(history: HistoryIndex) -> pd.DataFrame:
    """``product_id, size, ordinal, n``: each size of each product sold (``n`` lines), sorted by
    product and ordinal (sizes without an ordinal last)."""
    lines = history.lines
    sized = (history.line_codes.product_size >= 0) & lines["size"].notna().to_numpy()
    rows = np.flatnonzero(sized)
    pair, first = first_of_each(history.line_codes.product_size[rows])
    distinct, first = history.line_codes.product_size[rows[first]], rows[first]
    labels = len(history.size_labels)
    sizes = pd.DataFrame({
        "product_id": history.products.to_numpy().astype(str)[distinct // labels],
        "size": pd.array(history.size_labels.to_numpy()[distinct % labels], dtype=lines["size"].dtype),
        "ordinal": lines["size_ordinal"].to_numpy(dtype=float)[first],
        "n": pd.array(np.bincount(pair, minlength=len(distinct)), dtype="Int64"),
    })
    return sizes.sort_values(["product_id", "ordinal", "size"], na_position="last").reset_index(drop=True)


@dataclass
class Snapshot:
    """States at ``as_of`` (see module docstring); tables are indexed by entity key."""

    as_of: pd.Timestamp
    window_days: int
    smoothing: Smoothing
    vocabulary: Vocabulary
    products: pd.DataFrame          # index product_id, PRODUCT_COLUMNS
    product_sizes: pd.DataFrame     # product_id, size, ordinal, n (sales), sorted by product and ordinal
    states: dict[str, pd.DataFrame]  # entity -> index key, STATE_COLUMNS
    profiles: pd.DataFrame          # index customer_id SEP size_system: signal, count, kept
    bodies: pd.DataFrame            # index customer_id: z_sum, z_count
    fit_offsets: pd.DataFrame       # index product_id: distance_sum, count
    brand_offsets: pd.DataFrame     # index brand: distance_sum, count
    moments: pd.DataFrame           # index size_system: mean, sd

    # ---- building -----------------------------------------------------------------------------
    @classmethod
    def from_history(cls, history: HistoryIndex, attrs: pd.DataFrame, vocabulary: Vocabulary,
                     smoothing: Smoothing, window_days: int) -> "Snapshot":
        states: dict[str, pd.DataFrame] = {}
        index_of = {
            "shop": pd.Index(["shop"]),
            "category": history.categories,
            "brand": history.brands,
            "product": history.products,
        }
        for entity, index in index_of.items():
            states[entity] = pd.DataFrame(history.final_state(entity), index=pd.Index(index.astype(str), name="key"),
                                          columns=list(STATE_COLUMNS))
        ps_codes = history.entity_codes("product_size")
        labels = len(history.size_labels)
        ps_keys = _key(pd.Series(history.products.to_numpy()[ps_codes // labels]),
                       pd.Series(history.size_labels.to_numpy()[ps_codes % labels]))
        states["product_size"] = pd.DataFrame(
            history.final_state("product_size"),
            index=pd.Index(ps_keys.to_numpy(), name="key"), columns=list(STATE_COLUMNS))
        states["customer"] = pd.DataFrame(
            history.final_state("customer"),
            index=pd.Index(history.customers.astype(str), name="key"), columns=list(STATE_COLUMNS))

        # only customers with a signal (filtered before the string keys are built)
        prof = history.final_of("profile")
        with_signal = prof[:, 1] > 0
        cs_codes = history.final_codes("profile")[with_signal]
        cs_keys = _key(pd.Series(history.customers.to_numpy()[cs_codes // 16]),
                       pd.Series(history.systems.to_numpy()[cs_codes % 16]))
        profiles = pd.DataFrame(prof[with_signal], index=pd.Index(cs_keys.to_numpy(), name="key"),
                                columns=["signal", "count", "kept"])
        body = history.final_of("body")
        with_body = body[:, 1] > 0
        bodies = pd.DataFrame(body[with_body], index=pd.Index(history.customers[with_body].astype(str), name="key"),
                              columns=["z_sum", "z_count"])
        offsets = pd.DataFrame(history.final_of("fit_offset"),
                               index=pd.Index(history.products.astype(str), name="key"),
                               columns=["distance_sum", "count"])
        brand_offsets = pd.DataFrame(history.final_of("brand_offset"),
                                     index=pd.Index(history.brands.astype(str), name="key"),
                                     columns=["distance_sum", "count"])
        mean, sd = history.final_of("moments").T
        moments = pd.DataFrame({"mean": mean, "sd": sd}, index=pd.Index(history.systems.astype(str), name="key"))

        products = attrs.copy()
        products.index = products.index.astype(str)
        products.index.name = "product_id"
        return cls(history.as_of, window_days, smoothing, vocabulary, products[list(PRODUCT_COLUMNS)],
                   _sizes_sold(history),
                   states, profiles, bodies, offsets, brand_offsets, moments)

    # ---- persistence --------------------------------------------------------------------------
    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {
            "format": "returnrisk-snapshot/2",
            "as_of": self.as_of.isoformat(),
            "window_days": self.window_days,
            "smoothing": self.smoothing.to_dict(),
            "vocabulary": self.vocabulary.to_dict(),
        }
        (folder / "snapshot.json").write_text(json.dumps(meta, indent=2))
        self.products.to_parquet(folder / "products.parquet")
        self.product_sizes.to_parquet(folder / "product_sizes.parquet", index=False)
        for entity, table in self.states.items():
            table.to_parquet(folder / f"state_{entity}.parquet")
        self.profiles.to_parquet(folder / "profiles.parquet")
        self.bodies.to_parquet(folder / "bodies.parquet")
        self.fit_offsets.to_parquet(folder / "fit_offsets.parquet")
        self.brand_offsets.to_parquet(folder / "brand_offsets.parquet")
        self.moments.to_parquet(folder / "moments.parquet")

    @classmethod
    def load(cls, folder: str | Path) -> "Snapshot":
        folder = Path(folder)
        meta = json.loads((folder / "snapshot.json").read_text())
        if meta.get("format") != "returnrisk-snapshot/2":
            raise ValueError(f"{folder} does not hold a returnrisk snapshot (format {meta.get('format')!r})")
        vocab = meta["vocabulary"]
        return cls(
            pd.Timestamp(meta["as_of"]), int(meta["window_days"]), Smoothing(**meta["smoothing"]),
            Vocabulary(vocab["categories"], vocab["brands"], vocab["systems"]),
            pd.read_parquet(folder / "products.parquet"),
            pd.read_parquet(folder / "product_sizes.parquet"),
            {entity: pd.read_parquet(folder / f"state_{entity}.parquet") for entity in RATE_ENTITIES},
            pd.read_parquet(folder / "profiles.parquet"),
            pd.read_parquet(folder / "bodies.parquet"),
            pd.read_parquet(folder / "fit_offsets.parquet"),
            pd.read_parquet(folder / "brand_offsets.parquet"),
            pd.read_parquet(folder / "moments.parquet"),
        )

    # ---- lookups ------------------------------------------------------------------------------
    def product_rows(self, lines: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        """Each line's product attributes, and whether the product is in the catalogue.

        A product the snapshot does not know takes the attributes sent with the line
        (``category``, ``brand``, ``price``, ``has_size_guide``, ``n_photos``,
        ``description``, ``created_at``, optional ``size_system``).
        """
        ids = lines["product_id"].astype(str)
        rows = self.products.reindex(ids.to_numpy()).reset_index(drop=True)
        known = self.products.index.get_indexer(ids.to_numpy()) >= 0
        if (~known).any():
            sent = lines.loc[~known].reset_index(drop=True)
            new = pd.DataFrame(index=range(len(sent)))
            for column in ("category", "brand", "price", "has_size_guide", "n_photos", "created_at"):
                new[column] = sent[column].to_numpy() if column in sent.columns else np.nan
            new = new.join(describe_text(sent["description"] if "description" in sent.columns
                                         else pd.Series([None] * len(sent))))
            new["size_system"] = _system_of_new(sent)
            fill = rows.loc[~known].index
            for column in rows.columns:
                rows[column] = rows[column].astype(object)
                rows.loc[fill, column] = new[column].to_numpy()
            rows["created_at"] = pd.to_datetime(rows["created_at"], utc=True, errors="coerce")
            for column in ("price", "has_size_guide", "n_photos", "description_length", "mentions_material",
                           "mentions_dimensions", "mentions_fit"):
                rows[column] = pd.to_numeric(rows[column], errors="coerce")
        return rows, known

    def _state(self, entity: str, keys: pd.Series) -> np.ndarray:
        table = self.states[entity]
        position = table.index.get_indexer(keys.astype(str).to_numpy())
        values = table.to_numpy()
        out = np.zeros((len(keys), len(STATE_COLUMNS)))
        found = position >= 0
        out[found] = values[position[found]]
        return out

    def _lookup(self, table: pd.DataFrame, keys: pd.Series, default: float = 0.0) -> np.ndarray:
        position = table.index.get_indexer(keys.astype(str).to_numpy())
        out = np.full((len(keys), table.shape[1]), default, dtype=float)
        found = position >= 0
        out[found] = table.to_numpy()[position[found]]
        return out

    def line_history(self, lines: pd.DataFrame, rows: pd.DataFrame) -> LineHistory:
        """What the snapshot knows of each line's entities (zeros for unknown ones)."""
        n = len(lines)
        customer = lines["customer_id"] if "customer_id" in lines.columns else pd.Series([""] * n)
        customer = customer.astype(object).fillna("").reset_index(drop=True)
        product = lines["product_id"].astype(str).reset_index(drop=True)
        size = lines["size"].astype(object).fillna("").reset_index(drop=True) if "size" in lines.columns \
            else pd.Series([""] * n)
        system = rows["size_system"].astype(object).fillna("unsized")
        states = {
            "shop": np.repeat(self.states["shop"].to_numpy(), n, axis=0),
            "category": self._state("category", rows["category"].astype(object).fillna("")),
            "brand": self._state("brand", rows["brand"].astype(object).fillna("")),
            "product": self._state("product", product),
            "product_size": self._state("product_size", _key(product, size)),
            "customer": self._state("customer", customer),
        }
        moments = self._lookup(self.moments, system, default=np.nan)
        # float32, as in training (HistoryIndex.line_history): the same values, rounded the same way
        return LineHistory(
            states={entity: values.astype(np.float32) for entity, values in states.items()},
            profile=self._lookup(self.profiles, _key(customer, system)).astype(np.float32),
            fit_offset=np.hstack([self._lookup(self.fit_offsets, product),
                                  self._lookup(self.brand_offsets, rows["brand"].astype(object).fillna(""))
                                  ]).astype(np.float32),
            body=self._lookup(self.bodies, customer).astype(np.float32),
            moments=moments.astype(np.float32),
        )

    def features(self, lines: pd.DataFrame, now: pd.Timestamp | None = None) -> np.ndarray:
        """The feature matrix of ``lines`` (contract columns, ``ordered_at`` optional)."""
        lines = lines.reset_index(drop=True)
        rows, _ = self.product_rows(lines)
        if "ordered_at" in lines.columns and lines["ordered_at"].notna().any():
            ordered = pd.to_datetime(lines["ordered_at"], utc=True, errors="coerce")
            fallback = pd.Timestamp.now(tz="UTC") if now is None else now
            ordered = ordered.fillna(fallback)
            cutoffs = day_floor(epoch_seconds(ordered, whole=True))
        else:
            when = pd.Timestamp.now(tz="UTC") if now is None else now
            cutoffs = np.full(len(lines), day_floor(epoch_seconds(when, whole=True)), dtype=np.int64)
        history = self.line_history(lines, rows)
        inputs = line_inputs(lines, rows, self.vocabulary, cutoffs)
        return derive_features(history, inputs, self.smoothing)


def _system_of_new(lines: pd.DataFrame) -> np.ndarray:
    """Size system of products sent with a line: given, else from the size label and category."""
    from returnrisk.sizes import is_shoe_category

    if "size_system" in lines.columns and lines["size_system"].notna().all():
        return lines["size_system"].astype(str).to_numpy()
    out = []
    sizes = lines["size"] if "size" in lines.columns else pd.Series([None] * len(lines))
    categories = lines["category"] if "category" in lines.columns else pd.Series([None] * len(lines))
    parsed = label_ordinals(sizes).set_index("label")
    for size, category in zip(sizes, categories):
        missing = size is None or pd.isna(size)   # None, NaN or pd.NA (arrow strings)
        kind = "unsized" if missing else parsed["kind"].get(size, "unsized")
        value = np.nan if missing else parsed["value"].get(size, np.nan)
        if kind == "number":
            out.append("shoe" if is_shoe_category(category) or value % 1 else ("eu" if value >= 30 else "us"))
        else:
            out.append({"letter": "letter", "waist": "waist"}.get(kind, "unsized" if kind == "unsized" else "unknown"))
    return np.array(out, dtype=object)
