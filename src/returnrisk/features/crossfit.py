"""Out-of-fold entity states, for evaluations that split rows at random instead of by time.

The point-in-time history (:mod:`returnrisk.features.history`) is what a shop lives: a line only
knows what happened before it. Published benchmarks such as RentTheRunway's split rows at
random; there a line's history is *the other folds of the training part*:

* a training row's states are counted over the training rows of the other folds;
* a validation or test row's over the whole training part;

so no label of a test row — nor a training row's own label — reaches a feature. The states feed
the same :func:`~returnrisk.features.derive.derive_features` as the point-in-time history.
Sizes ordered are not outcomes: the product's fit offset uses the sizes of every other row
(each customer's mean ordered size), never a verdict.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from returnrisk.features.history import RATE_ENTITIES, STATE_COLUMNS, LineHistory, _Codes
from returnrisk.taxonomy import RETURN_GROUPS

__all__ = ["oof_sums", "crossfit_history"]


def oof_sums(keys: np.ndarray, values: np.ndarray, contributes: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Per row, the sum of ``values`` over the contributing rows with the same key in *other* folds.

    Rows that do not contribute (validation, test) get the sums over every contributing row.
    ``keys < 0`` (unknown entity) give zeros.
    """
    keys = np.asarray(keys, dtype=np.int64)
    values = np.asarray(values, dtype=float)
    values = values[:, None] if values.ndim == 1 else values
    n_folds = int(folds[contributes].max()) + 1 if contributes.any() else 1
    valid = keys >= 0
    codes, uniques = pd.factorize(np.where(valid, keys, -1))
    n_keys = len(uniques)
    total = np.zeros((n_keys, values.shape[1]))
    per_fold = np.zeros((n_keys * n_folds, values.shape[1]))
    use = contributes & valid
    np.add.at(total, codes[use], values[use])
    np.add.at(per_fold, codes[use] * n_folds + folds[use], values[use])
    out = total[codes].copy()
    own = contributes & valid
    out[own] -= per_fold[codes[own] * n_folds + folds[own]]
    out[~valid] = 0.0
    return out


def _others(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per row, the sum of ``values`` over the *other* rows with the same key (labels not involved)."""
    codes, uniques = pd.factorize(keys)
    values = values[:, None] if values.ndim == 1 else values
    total = np.zeros((len(uniques), values.shape[1]))
    np.add.at(total, codes, values)
    out = total[codes] - values
    out[np.asarray(keys) < 0] = 0.0
    return out


def crossfit_history(codes: _Codes, outcome: np.ndarray, ordinal: np.ndarray, system: np.ndarray,
                     train: np.ndarray, folds: np.ndarray) -> LineHistory:
    """Out-of-fold :class:`LineHistory` of every row.

    ``outcome`` is 0 (kept) or ``1 + group`` and is only read on ``train`` rows; ``ordinal`` is each
    row's size in its system (nan if none), ``system`` its size-system code (-1 if none).
    """
    n = outcome.size
    returned = np.where(train, outcome > 0, False)
    values = np.zeros((n, len(STATE_COLUMNS)))
    values[:, 0] = 1.0                                  # n
    values[:, 1] = 1.0                                  # exposure: outcomes are all known
    values[:, 2] = returned
    for g in range(len(RETURN_GROUPS)):
        values[:, 3 + g] = returned & (outcome == g + 1)
    states = {entity: oof_sums(getattr(codes, entity), values, train, folds) for entity in RATE_ENTITIES}

    sized = np.isfinite(ordinal)
    small = train & (outcome == 1 + RETURN_GROUPS.index("too_small"))
    large = train & (outcome == 1 + RETURN_GROUPS.index("too_large"))
    kept = train & (outcome == 0)
    signal = np.where(small, ordinal + 1, np.where(large, ordinal - 1, ordinal))
    counted = sized & (kept | small | large)
    prof_values = np.stack([np.where(counted, signal, 0.0), counted.astype(float), (kept & sized).astype(float)], axis=1)
    profile = oof_sums(codes.customer_system, prof_values, train, folds)

    # size moments per system over the training part's sizes (not outcomes)
    frame = pd.DataFrame({"system": system, "ordinal": ordinal})[train & sized & (system >= 0)]
    stats = frame.groupby("system")["ordinal"].agg(["mean", "std"])
    mean = pd.Series(system).map(stats["mean"]).to_numpy(dtype=float)
    sd = pd.Series(system).map(stats["std"]).to_numpy(dtype=float)
    z = (signal - mean) / sd
    body_values = np.stack([np.where(counted & np.isfinite(z), z, 0.0), (counted & np.isfinite(z)).astype(float)],
                           axis=1)
    body = oof_sums(codes.customer, body_values, train, folds)

    # how far from their usual ordered size customers order this product (sizes only, no verdicts)
    customer_sizes = _others(codes.customer, np.stack([np.where(sized, ordinal, 0.0), sized.astype(float)], 1))
    usual = np.where(customer_sizes[:, 1] > 0, customer_sizes[:, 0] / np.maximum(customer_sizes[:, 1], 1), np.nan)
    distance = ordinal - usual
    has = np.isfinite(distance)
    d_values = np.stack([np.where(has, distance, 0.0), has.astype(float)], axis=1)
    fit_offset = np.hstack([_others(codes.product, d_values), _others(codes.brand, d_values)])
    return LineHistory(states, profile, fit_offset, body, np.stack([mean, sd], axis=1))
