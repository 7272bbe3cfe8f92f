"""The reason code of a return sent with the customer's words only.

Uses the reason classifier of :mod:`returnrisk.reasons`, refined on the shop's own returns that
carry both a given code and a text (the rows whose code was itself inferred are left out, so
the classifier does not learn from its own guesses). Below the classifier's threshold the code
is ``other`` and the return is marked for review.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import numpy as np
import pandas as pd

from returnrisk.reasons import ReasonClassifier, fit_for_shop, infer_reasons

__all__ = ["InferredReason", "ReasonInferrer", "classifier_for_returns"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InferredReason:
    code: str
    confidence: float
    review: bool


def classifier_for_returns(returns: pd.DataFrame | None) -> ReasonClassifier:
    """The seed classifier refined on ``returns`` rows with a *given* code and a text."""
    if returns is None or returns.empty:
        return fit_for_shop(pd.DataFrame({"reason_code": [], "reason_text": []}))
    if "reason_source" in returns.columns:
        returns = returns[returns["reason_source"].astype(str) == "given"]
    return fit_for_shop(returns)


class ReasonInferrer:
    """Infers codes from text with a classifier fitted once per version of the shop's returns."""

    def __init__(self):
        self._lock = threading.Lock()
        self._key: object = object()
        self._classifier: ReasonClassifier | None = None

    def classifier(self, key: object, returns: pd.DataFrame | None) -> ReasonClassifier:
        with self._lock:
            if self._classifier is None or key != self._key:
                self._classifier = classifier_for_returns(returns)
                self._key = key
            return self._classifier

    def infer(self, text: str, *, key: object = None, returns: pd.DataFrame | None = None) -> InferredReason:
        classifier = self.classifier(key, returns)
        result = infer_reasons(pd.Series([text], dtype="string[pyarrow]"), classifier)
        code = result.codes[0]
        confidence = float(result.confidence[0]) if not np.isnan(result.confidence[0]) else 0.0
        if code is None:  # blank after normalisation (punctuation only, …)
            return InferredReason("other", 0.0, True)
        return InferredReason(str(code), confidence, bool(result.review[0]))
