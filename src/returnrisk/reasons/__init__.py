"""Return reasons from free text: classify the customer's words into the taxonomy.

* :class:`ReasonClassifier` — char/word n-gram TF-IDF + calibrated linear SVM, fitted on the
  packaged seed set (French and English) and refined on a shop's own labelled rows.
* :func:`default_reason_filler` — the ``reason_filler`` hook of ``load_shop``: fills missing
  ``reason_code`` from ``reason_text`` (``other`` + review flag under the threshold).
* :func:`evaluate_classifier` / :func:`macro_f1_by_language` — scores on the held-out set.

See docs/reasons.md.
"""

from returnrisk.reasons.classifier import DEFAULT_THRESHOLD, FALLBACK_CODE, ReasonClassifier
from returnrisk.reasons.evaluate import EvaluationReport, evaluate_classifier, macro_f1_by_language
from returnrisk.reasons.fill import (
    InferredReasons,
    default_reason_filler,
    fill_reasons,
    fit_for_shop,
    infer_reasons,
)
from returnrisk.reasons.seed import load_eval_set, load_seed_set
from returnrisk.reasons.text import normalize_text, normalize_texts

__all__ = [
    "DEFAULT_THRESHOLD",
    "FALLBACK_CODE",
    "EvaluationReport",
    "InferredReasons",
    "ReasonClassifier",
    "default_reason_filler",
    "evaluate_classifier",
    "fill_reasons",
    "fit_for_shop",
    "infer_reasons",
    "load_eval_set",
    "load_seed_set",
    "macro_f1_by_language",
    "normalize_text",
    "normalize_texts",
]
