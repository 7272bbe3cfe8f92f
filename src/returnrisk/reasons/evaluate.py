"""Measuring the classifier on the held-out evaluation set (never used for fitting)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

from returnrisk.reasons.classifier import ReasonClassifier
from returnrisk.reasons.seed import load_eval_set
from returnrisk.taxonomy import REASON_CODES

__all__ = ["EvaluationReport", "evaluate_classifier", "macro_f1_by_language"]


@dataclass(frozen=True)
class EvaluationReport:
    """Scores of a classifier on a labelled set, overall (``all``) and per language.

    ``macro_f1`` and ``per_class_f1`` score the top code (no threshold); ``macro_f1_at_threshold``
    scores the codes actually written (``other`` under the threshold). ``coverage`` is the share
    of texts at or above the threshold and ``accuracy_confident`` the accuracy on those.
    """

    macro_f1: dict[str, float]
    macro_f1_at_threshold: dict[str, float]
    accuracy: dict[str, float]
    n: dict[str, int]
    per_class_f1: pd.DataFrame
    threshold: float
    coverage: float
    accuracy_confident: float
    predictions: pd.DataFrame

    def to_dict(self) -> dict:
        return {
            "macro_f1": self.macro_f1,
            "macro_f1_at_threshold": self.macro_f1_at_threshold,
            "accuracy": self.accuracy,
            "n": self.n,
            "per_class_f1": self.per_class_f1.round(4).to_dict(),
            "threshold": self.threshold,
            "coverage": self.coverage,
            "accuracy_confident": self.accuracy_confident,
        }


def _macro_f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    labels = [c for c in REASON_CODES if c in set(truth)]
    return float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0))


def evaluate_classifier(
    classifier: ReasonClassifier | None = None,
    eval_set: pd.DataFrame | None = None,
    *,
    threshold: float | None = None,
) -> EvaluationReport:
    """Score ``classifier`` (default: fitted on the seed) on ``eval_set`` (default: the held-out set).

    ``eval_set`` has columns ``text``, ``reason_code`` and ``lang``.
    """
    classifier = classifier or ReasonClassifier.from_seed()
    frame = load_eval_set() if eval_set is None else eval_set.reset_index(drop=True)
    threshold = classifier.threshold if threshold is None else threshold
    top, confidence = classifier.predict(frame["text"], threshold=0.0)
    written = np.where(confidence < threshold, "other", top)
    truth = frame["reason_code"].to_numpy(dtype=object)
    langs = frame["lang"].to_numpy(dtype=object)

    groups: dict[str, np.ndarray] = {"all": np.ones(len(frame), dtype=bool)}
    for lang in sorted(set(langs)):
        groups[str(lang)] = langs == lang
    macro, macro_t, acc, n, per_class = {}, {}, {}, {}, {}
    for name, mask in groups.items():
        macro[name] = _macro_f1(truth[mask], top[mask])
        macro_t[name] = _macro_f1(truth[mask], written[mask])
        acc[name] = float(np.mean(truth[mask] == top[mask])) if mask.any() else float("nan")
        n[name] = int(mask.sum())
        per_class[name] = f1_score(truth[mask], top[mask], labels=list(REASON_CODES),
                                   average=None, zero_division=0)
    confident = confidence >= threshold
    predictions = frame.assign(predicted=top, confidence=confidence, written=written)
    return EvaluationReport(
        macro_f1=macro,
        macro_f1_at_threshold=macro_t,
        accuracy=acc,
        n=n,
        per_class_f1=pd.DataFrame(per_class, index=list(REASON_CODES)),
        threshold=float(threshold),
        coverage=float(confident.mean()) if len(frame) else float("nan"),
        accuracy_confident=(float(np.mean(truth[confident] == top[confident])) if confident.any()
                            else float("nan")),
        predictions=predictions,
    )


def macro_f1_by_language(
    classifier: ReasonClassifier | None = None, eval_set: pd.DataFrame | None = None
) -> dict[str, float]:
    """Macro-F1 of the top code per language (and ``all``) on the held-out set."""
    return evaluate_classifier(classifier, eval_set).macro_f1
