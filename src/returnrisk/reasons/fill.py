"""Filling in missing reason codes of a shop's returns from the customers' words.

:func:`default_reason_filler` builds the ``reason_filler`` hook of
:func:`returnrisk.data.loader.load_shop`. For one returns table it

1. fits a :class:`~returnrisk.reasons.classifier.ReasonClassifier` on the seed set plus the
   shop's own rows that carry both a code and a text (so the shop's jargon is learnt),
2. classifies every row that has a text but no code — each distinct text once,
3. writes the code (``other`` under the threshold), ``reason_source='inferred'``,
   ``reason_confidence`` and ``reason_review``, and recomputes ``reason_group``.

Rows that already have a code are left as they are.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from returnrisk.reasons.classifier import DEFAULT_THRESHOLD, FALLBACK_CODE, ReasonClassifier, _check_threshold
from returnrisk.reasons.seed import load_seed_set
from returnrisk.reasons.text import normalize_texts
from returnrisk.taxonomy import NO_REASON, REASON_CODES, group_of

__all__ = [
    "DEFAULT_MAX_SHOP_EXAMPLES",
    "InferredReasons",
    "default_reason_filler",
    "fill_reasons",
    "classifier_for_examples",
    "examples_from_counts",
    "labelled_pairs",
    "fit_for_shop",
    "infer_reasons",
    "shop_examples",
]

log = logging.getLogger(__name__)

#: At most this many distinct (text, code) pairs of the shop are added to the seed (the most
#: frequent first), which bounds the fitting time on very large histories.
DEFAULT_MAX_SHOP_EXAMPLES = 10_000

#: A shop phrase seen n times weighs sqrt(n), capped here (seed phrasings weigh 1).
MAX_SHOP_WEIGHT = 10.0


@dataclass(frozen=True)
class InferredReasons:
    """Per-row result of :func:`infer_reasons` (arrays aligned with the input texts).

    ``codes`` is ``None`` and ``confidence`` NaN where the text is missing or blank.
    """

    codes: np.ndarray
    confidence: np.ndarray
    review: np.ndarray
    n_distinct: int


def _text_mask(texts: pd.Series) -> np.ndarray:
    """True where a text is present and not blank."""
    text = texts.astype("string[pyarrow]")
    return (text.str.strip().str.len() > 0).fillna(False).to_numpy(dtype=bool)


def infer_reasons(
    texts: pd.Series | np.ndarray | list,
    classifier: ReasonClassifier,
    threshold: float | None = None,
) -> InferredReasons:
    """Classify many texts, each distinct text once, with no per-row Python loop.

    Texts are first deduplicated as written, then normalised (Arrow kernels) and deduplicated
    again, so ``"Trop petit"`` and ``"trop petit !"`` are classified once.
    """
    threshold = classifier.threshold if threshold is None else _check_threshold(threshold)
    series = pd.Series(texts, copy=False).astype("string[pyarrow]")
    n = len(series)
    raw_index, raw_uniques = pd.factorize(series, use_na_sentinel=True)
    normalized = normalize_texts(np.asarray(raw_uniques, dtype=object))
    normalized = np.where(pd.isna(normalized), "", normalized).astype(object)
    norm_index, norm_uniques = pd.factorize(normalized)
    blank_norm = np.asarray(norm_uniques, dtype=object) == ""

    keep = np.flatnonzero(~blank_norm)
    top, conf = classifier.predict_normalized(np.asarray(norm_uniques, dtype=object)[keep], threshold=0.0)
    code_u = np.full(len(norm_uniques), None, dtype=object)
    conf_u = np.full(len(norm_uniques), np.nan)
    code_u[keep] = np.where(conf < threshold, FALLBACK_CODE, top)
    conf_u[keep] = conf

    # row → distinct raw text → distinct normalised text; -1 marks a missing text
    row_norm = np.where(raw_index >= 0, norm_index[np.maximum(raw_index, 0)], -1)
    has = row_norm >= 0
    codes = np.full(n, None, dtype=object)
    confidence = np.full(n, np.nan)
    codes[has] = code_u[row_norm[has]]
    confidence[has] = conf_u[row_norm[has]]
    review = np.zeros(n, dtype=bool)
    present = ~np.isnan(confidence)
    review[present] = confidence[present] < threshold
    return InferredReasons(codes, confidence, review, len(keep))


def shop_examples(
    returns: pd.DataFrame, *, max_examples: int = DEFAULT_MAX_SHOP_EXAMPLES
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The shop's labelled phrasings: distinct (normalised text, code) pairs and their weights.

    Uses the rows with both a taxonomy code and a non-blank text; a pair seen ``n`` times
    weighs ``sqrt(n)`` (at most :data:`MAX_SHOP_WEIGHT`); the ``max_examples`` most frequent
    pairs are kept. Texts are returned normalised.
    """
    empty = (np.array([], dtype=object), np.array([], dtype=object), np.array([], dtype=float))
    pairs = labelled_pairs(returns)
    if max_examples <= 0 or pairs.empty:
        return empty
    return examples_from_counts(pairs, max_examples=max_examples)


def labelled_pairs(returns: pd.DataFrame) -> pd.DataFrame:
    """The rows with both a taxonomy code and a non-blank text, counted: ``text``, ``code``, ``n``
    (texts as written; counts of several parts of a returns table add up)."""
    columns = {"text": pd.Series([], dtype="string[pyarrow]"), "code": pd.Series([], dtype="string[pyarrow]"),
               "n": pd.Series([], dtype=np.int64)}
    if "reason_code" not in returns.columns or "reason_text" not in returns.columns:
        return pd.DataFrame(columns)
    codes = returns["reason_code"].astype("string[pyarrow]")
    labelled = codes.isin(list(REASON_CODES)).fillna(False).to_numpy(dtype=bool)
    labelled = labelled & _text_mask(returns["reason_text"])
    if not labelled.any():
        return pd.DataFrame(columns)
    texts = returns.loc[labelled, "reason_text"].astype("string[pyarrow]")
    pairs = pd.DataFrame({"text": texts.to_numpy(), "code": codes[labelled].to_numpy()})
    return pairs.value_counts(sort=False).rename("n").reset_index()  # dedupe before normalising


def examples_from_counts(pairs: pd.DataFrame, *, max_examples: int = DEFAULT_MAX_SHOP_EXAMPLES
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`shop_examples` from :func:`labelled_pairs` counts (counts of several parts of a
    returns table add up: the cluster path counts each part and sums)."""
    pairs = pairs.copy()
    pairs["text"] = normalize_texts(pairs["text"].to_numpy(dtype=object))
    pairs = pairs[pairs["text"].fillna("") != ""]
    pairs = pairs.groupby(["text", "code"], sort=False, observed=True)["n"].sum().reset_index()
    pairs = pairs.sort_values(["n", "text", "code"], ascending=[False, True, True], kind="stable")
    if len(pairs) > max_examples:
        log.info("using the %d most frequent of %d distinct labelled shop phrasings",
                 max_examples, len(pairs))
        pairs = pairs.head(max_examples)
    weights = np.minimum(np.sqrt(pairs["n"].to_numpy(dtype=float)), MAX_SHOP_WEIGHT)
    return pairs["text"].to_numpy(dtype=object), pairs["code"].to_numpy(dtype=object), weights


@lru_cache(maxsize=1)
def _seed_classifier() -> ReasonClassifier:
    return ReasonClassifier.from_seed()


def fit_for_shop(
    returns: pd.DataFrame,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    max_shop_examples: int = DEFAULT_MAX_SHOP_EXAMPLES,
) -> ReasonClassifier:
    """A classifier fitted on the seed set plus the shop's own labelled phrasings."""
    texts, codes, weights = shop_examples(returns, max_examples=max_shop_examples)
    return classifier_for_examples(texts, codes, weights, threshold=threshold)


def classifier_for_examples(texts: np.ndarray, codes: np.ndarray, weights: np.ndarray, *,
                            threshold: float = DEFAULT_THRESHOLD) -> ReasonClassifier:
    """The seed classifier refined with the shop's examples (see :func:`shop_examples`)."""
    if len(texts) == 0:
        log.debug("no labelled shop phrasings: using the seed classifier")
        classifier = _seed_classifier()
        if classifier.threshold != threshold:
            classifier = _with_threshold(classifier, threshold)
        return classifier
    seed = load_seed_set()
    all_texts = np.concatenate([normalize_texts(seed["text"].to_numpy(dtype=object)), texts])
    all_codes = np.concatenate([seed["reason_code"].to_numpy(dtype=object), codes])
    all_weights = np.concatenate([np.ones(len(seed)), weights])
    log.debug("fitting the reason classifier on %d seed + %d shop phrasings", len(seed), len(texts))
    return ReasonClassifier(threshold).fit_normalized(all_texts, all_codes, all_weights)


def _with_threshold(classifier: ReasonClassifier, threshold: float) -> ReasonClassifier:
    """The same fitted model (shared, not copied) with another default threshold."""
    clone = copy.copy(classifier)
    clone.threshold = _check_threshold(threshold)
    return clone


def _groups(codes: pd.Series) -> np.ndarray:
    """``reason_group`` of every row (``unknown`` where there is no code), one lookup per code."""
    values = codes.astype(object).where(codes.notna(), NO_REASON)
    index, uniques = pd.factorize(values)
    groups = np.array([group_of(u) for u in uniques], dtype=object)
    return groups[index]


def fill_reasons(
    returns: pd.DataFrame,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    classifier: ReasonClassifier | None = None,
    refine: bool = True,
    max_shop_examples: int = DEFAULT_MAX_SHOP_EXAMPLES,
) -> pd.DataFrame:
    """Infer ``reason_code`` for the rows that have a ``reason_text`` but no code.

    Returns a new frame (same rows, same order) with ``reason_code``, ``reason_source`` and
    ``reason_group`` updated on inferred rows, and two added columns: ``reason_confidence``
    (float, NaN where not inferred) and ``reason_review`` (True where inferred below
    ``threshold``, i.e. written as ``other`` and worth a person's look).

    ``classifier`` overrides the fitted one; ``refine=False`` ignores the shop's labelled rows.
    """
    threshold = _check_threshold(threshold)
    out = returns.copy(deep=False)
    n = len(out)
    if "reason_code" not in out.columns:
        out["reason_code"] = pd.Series(pd.NA, index=out.index, dtype="string[pyarrow]")
    code = out["reason_code"]
    has_code = (code.notna() & (code.astype("string[pyarrow]").str.strip() != "")).fillna(False)
    has_code = has_code.to_numpy(dtype=bool)
    has_text = _text_mask(out["reason_text"]) if "reason_text" in out.columns else np.zeros(n, dtype=bool)
    todo = ~has_code & has_text

    if "reason_source" not in out.columns:
        out["reason_source"] = np.where(has_code, "given", "none")
    confidence = np.full(n, np.nan)
    review = np.zeros(n, dtype=bool)

    if todo.any():
        if classifier is None:
            classifier = (fit_for_shop(out, threshold=threshold, max_shop_examples=max_shop_examples)
                          if refine else _seed_classifier())
        inferred = infer_reasons(out.loc[todo, "reason_text"], classifier, threshold)
        # a text with nothing to read once normalised (only punctuation, emoji) stays without code
        got = pd.notna(inferred.codes)
        positions = np.flatnonzero(todo)[got]
        new_codes = code.astype(object).to_numpy(copy=True)
        new_codes[positions] = inferred.codes[got]
        out["reason_code"] = pd.array(new_codes, dtype=code.dtype if isinstance(code.dtype, pd.StringDtype)
                                      else "string[pyarrow]")
        source = out["reason_source"].astype(object).to_numpy(copy=True)
        source[positions] = "inferred"
        out["reason_source"] = pd.array(source, dtype=out["reason_source"].dtype)
        confidence[positions] = inferred.confidence[got]
        review[positions] = inferred.review[got]
        log.info(
            "reason codes inferred from text for %d returns (%d distinct texts); %d below the "
            "confidence threshold %.2f were set to 'other' and marked for review",
            len(positions), inferred.n_distinct, int(inferred.review.sum()), threshold,
        )
    out["reason_group"] = pd.Series(_groups(out["reason_code"]), index=out.index, dtype=object)
    out["reason_confidence"] = confidence
    out["reason_review"] = review
    return out


def default_reason_filler(
    threshold: float = DEFAULT_THRESHOLD,
    *,
    refine: bool = True,
    max_shop_examples: int = DEFAULT_MAX_SHOP_EXAMPLES,
    classifier: ReasonClassifier | None = None,
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """The ``reason_filler`` hook of :func:`~returnrisk.data.loader.load_shop`.

    Returns ``filler(returns) -> returns`` (see :func:`fill_reasons`); the classifier is fitted
    when the filler is called, on the seed set plus the shop's rows with both code and text.
    """
    threshold = _check_threshold(threshold)

    def filler(returns: pd.DataFrame) -> pd.DataFrame:
        return fill_reasons(returns, threshold=threshold, classifier=classifier, refine=refine,
                            max_shop_examples=max_shop_examples)

    filler.threshold = threshold  # type: ignore[attr-defined]
    return filler
