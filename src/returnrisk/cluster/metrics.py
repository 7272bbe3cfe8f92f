"""Validation metrics over partitions, aggregated exactly.

Log-loss, Brier score and the calibration bins are sums; the AUC is the Mann–Whitney rank
sum, computed without gathering the scores: each partition sorts its scores and cuts them at
common splitters, each bucket of values (from every partition) counts its own ordered pairs
(ties count one half), and the pairs across buckets follow from the bucket counts. The result
is the AUC of all the rows at once (scikit-learn's ``roc_auc_score``), up to float rounding.
"""

from __future__ import annotations

import numpy as np

from returnrisk.model.evaluation import reliability_table

__all__ = ["Scored", "probability_sums", "metrics_from_sums", "exact_auc", "exact_aucs", "distributed_probability_metrics",
           "distributed_probability_metrics_many", "reliability_from_sums"]

_EPS = 1e-6


class Scored:
    """Scores of one partition for one metric: ``y`` (0/1) and ``p``; rows where ``keep``."""

    def __init__(self, y: np.ndarray, p: np.ndarray):
        self.y = np.asarray(y).astype(np.int8)
        self.p = np.asarray(p, dtype=float)


def probability_sums(part: Scored, bins: int = 10) -> dict[str, np.ndarray]:
    """Sums behind log-loss, Brier score and the reliability table of one partition."""
    y, p = part.y.astype(float), np.clip(part.p, _EPS, 1 - _EPS)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(p, edges[1:-1], right=False), 0, bins - 1)
    return {
        "n": np.array([y.size], dtype=float),
        "log_loss": np.array([-(y * np.log(p) + (1 - y) * np.log(1 - p)).sum()]),
        "brier": np.array([((p - y) ** 2).sum()]),
        "bin_n": np.bincount(index, minlength=bins).astype(float),
        "bin_p": np.bincount(index, weights=p, minlength=bins),
        "bin_y": np.bincount(index, weights=y, minlength=bins),
    }


def metrics_from_sums(sums: dict[str, np.ndarray], auc: float) -> dict[str, float]:
    """:func:`~returnrisk.model.evaluation.probability_metrics` from the added partition sums."""
    n = float(sums["n"][0])
    if n == 0:
        return {"auc": float("nan"), "log_loss": float("nan"), "brier": float("nan"), "ece": float("nan")}
    count = sums["bin_n"]
    used = count > 0
    ece = float((np.abs(sums["bin_y"][used] / count[used] - sums["bin_p"][used] / count[used]) * count[used]).sum() / n)
    return {"auc": auc, "log_loss": float(sums["log_loss"][0] / n), "brier": float(sums["brier"][0] / n), "ece": ece}


# ---- the AUC --------------------------------------------------------------------------------------
def _sample(part: Scored, size: int = 256) -> np.ndarray:
    if part.p.size <= size:
        return part.p
    return np.quantile(part.p, np.linspace(0, 1, size), method="closest_observation")


def _cut(part: Scored, splitters: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The partition's (scores, labels) per bucket ``[s_b, s_{b+1})``: equal scores share a bucket."""
    bucket = np.searchsorted(splitters, part.p, side="right")
    order = np.argsort(bucket, kind="stable")
    bounds = np.searchsorted(bucket[order], np.arange(splitters.size + 2))
    return [(part.p[order[bounds[b]:bounds[b + 1]]], part.y[order[bounds[b]:bounds[b + 1]]])
            for b in range(splitters.size + 1)]


def _bucket_pairs(pieces: list[tuple[np.ndarray, np.ndarray]]) -> tuple[int, int, int]:
    """``(positives, negatives, 2 × ordered pairs)`` inside one bucket (a tie counts 1, a win 2)."""
    p = np.concatenate([s for s, _ in pieces]) if pieces else np.empty(0)
    y = np.concatenate([v for _, v in pieces]) if pieces else np.empty(0, dtype=np.int8)
    pos = p[y == 1]
    neg = np.sort(p[y == 0])
    below = np.searchsorted(neg, pos, side="left")
    upto = np.searchsorted(neg, pos, side="right")
    twice = int(2 * below.sum() + (upto - below).sum())
    return int(pos.size), int(neg.size), twice


def exact_auc(client, parts: list) -> float:
    """ROC AUC of the rows of every partition (futures of :class:`Scored`), as if they were one array."""
    return exact_aucs(client, [parts])[0]


def exact_aucs(client, groups: list[list]) -> list[float]:
    """:func:`exact_auc` of several groups of partitions, in three round trips whatever their number."""
    import operator

    samples = client.gather([[client.submit(_sample, p) for p in parts] for parts in groups])
    cut_points = []
    for parts, sample in zip(groups, samples):
        pooled = np.concatenate([s for s in sample if s.size]) if any(s.size for s in sample) else np.empty(0)
        cut_points.append(None if pooled.size == 0 else np.unique(np.quantile(
            pooled, np.linspace(0, 1, 2 * len(parts) + 1)[1:-1], method="closest_observation")))
    buckets = []
    for parts, splitters in zip(groups, cut_points):
        if splitters is None:
            buckets.append([])
            continue
        cuts = [client.submit(_cut, p, splitters) for p in parts]
        buckets.append([client.submit(_bucket_pairs, [client.submit(operator.getitem, c, b) for c in cuts])
                        for b in range(splitters.size + 1)])
    out = []
    for counts in client.gather(buckets):
        n_pos = sum(c[0] for c in counts)
        n_neg = sum(c[1] for c in counts)
        if n_pos == 0 or n_neg == 0:
            out.append(float("nan"))
            continue
        twice = sum(c[2] for c in counts)
        negatives_before = 0
        for pos, neg, _ in counts:          # every positive beats every negative of a lower bucket
            twice += 2 * pos * negatives_before
            negatives_before += neg
        out.append(twice / (2.0 * n_pos * n_neg))
    return out


def distributed_probability_metrics(client, parts: list) -> dict[str, float]:
    """AUC, log-loss, Brier score and ECE over partitions (futures of :class:`Scored`)."""
    return distributed_probability_metrics_many(client, [parts])[0]


def distributed_probability_metrics_many(client, groups: list[list]) -> list[dict[str, float]]:
    """:func:`distributed_probability_metrics` of several groups at once."""
    from returnrisk.cluster.features import _add_sums

    sums = client.gather([client.submit(_add_sums, [client.submit(probability_sums, p) for p in parts])
                          for parts in groups])
    return [metrics_from_sums(s, auc) for s, auc in zip(sums, exact_aucs(client, groups))]


def reliability_from_sums(sums: dict[str, np.ndarray]) -> list[dict]:
    """The reliability table (as :func:`~returnrisk.model.evaluation.reliability_table`) from sums."""
    rows = []
    edges = np.linspace(0.0, 1.0, sums["bin_n"].size + 1)
    for b, count in enumerate(sums["bin_n"]):
        rows.append({"bin": b, "low": float(edges[b]), "high": float(edges[b + 1]), "count": int(count),
                     "mean_predicted": float(sums["bin_p"][b] / count) if count else float("nan"),
                     "observed": float(sums["bin_y"][b] / count) if count else float("nan")})
    return rows


assert reliability_table  # the single-process table these sums reproduce
