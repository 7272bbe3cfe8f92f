"""The return-reason classifier: free text (French, English or both) → taxonomy code + confidence.

Model: the normalised text (see :mod:`returnrisk.reasons.text`) is vectorised with TF-IDF on
character n-grams within word boundaries (``char_wb``, 2–5, robust to typos, missing accents
and inflections) joined with TF-IDF on word unigrams and bigrams (computed without Python
loops, see :mod:`returnrisk.reasons.features`); a linear SVM separates the
codes and its scores are turned into probabilities by temperature scaling (a softmax whose one
temperature is fitted on internal cross-validation folds, see
:class:`~sklearn.calibration.CalibratedClassifierCV`; sigmoid calibration on scikit-learn < 1.8).
The confidence of a prediction is the calibrated probability of the top code: among texts
given confidence ~0.8, about 80 % are right.

Below the threshold the code is ``other`` (the row is then meant to be reviewed by a person).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from returnrisk.reasons.features import NgramFeatures
from returnrisk.reasons.seed import load_seed_set
from returnrisk.reasons.text import normalize_texts
from returnrisk.taxonomy import REASON_CODES

__all__ = ["DEFAULT_THRESHOLD", "FALLBACK_CODE", "ReasonClassifier"]

log = logging.getLogger(__name__)

#: Confidence under which a predicted code is replaced by ``other`` and flagged for review.
DEFAULT_THRESHOLD = 0.5

#: The code given to a text the classifier is not confident about.
FALLBACK_CODE = "other"


def _check_threshold(threshold: float) -> float:
    threshold = float(threshold)
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold {threshold} is outside [0, 1]: use e.g. {DEFAULT_THRESHOLD}")
    return threshold


class ReasonClassifier:
    """Maps a customer's return reason, in their own words, to a code of the taxonomy.

    Parameters
    ----------
    threshold:
        Default confidence threshold of :meth:`predict` (``other`` below it).
    C:
        Regularisation of the linear SVM (smaller is smoother).
    calibration_folds:
        Folds used to calibrate the probabilities (reduced when a code has fewer examples).
    random_state:
        Seed of the calibration folds: the same data gives the same model.

    Examples
    --------
    >>> clf = ReasonClassifier.from_seed()
    >>> codes, confidence = clf.predict(["trop serre aux epaules", "arrived broken"])
    """

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        *,
        C: float = 0.5,
        calibration_folds: int = 3,
        random_state: int = 0,
    ) -> None:
        self.threshold = _check_threshold(threshold)
        self.C = C
        self.calibration_folds = calibration_folds
        self.random_state = random_state
        self._features: NgramFeatures | None = None
        self._model = None
        self.n_examples_: int = 0
        #: texts vectorised at once by predict (bounds memory on very large inputs)
        self.batch_size = 50_000

    # -- construction -----------------------------------------------------------------------

    @classmethod
    def from_seed(
        cls,
        texts: Iterable[str] | None = None,
        codes: Iterable[str] | None = None,
        *,
        sample_weight: Sequence[float] | None = None,
        **params,
    ) -> ReasonClassifier:
        """A classifier fitted on the packaged seed set, plus ``texts``/``codes`` if given.

        ``texts`` and ``codes`` are typically a shop's own labelled returns: they are added to
        the seed so that the shop's words (its jargon, its customers' habits) are learnt.
        ``sample_weight`` weighs these extra examples (seed examples weigh 1).
        """
        seed = load_seed_set()
        all_texts = list(seed["text"])
        all_codes = list(seed["reason_code"])
        weights = [1.0] * len(all_texts)
        if texts is not None or codes is not None:
            extra_texts = list(texts if texts is not None else [])
            extra_codes = list(codes if codes is not None else [])
            if len(extra_texts) != len(extra_codes):
                raise ValueError(f"{len(extra_texts)} texts but {len(extra_codes)} codes: give one code per text")
            extra_weights = (list(sample_weight) if sample_weight is not None
                             else [1.0] * len(extra_texts))
            if len(extra_weights) != len(extra_texts):
                raise ValueError("sample_weight must have one weight per extra text")
            all_texts += extra_texts
            all_codes += extra_codes
            weights += [float(w) for w in extra_weights]
        return cls(**params).fit(all_texts, all_codes, sample_weight=weights)

    def _make_features(self) -> NgramFeatures:
        return NgramFeatures(char_range=(2, 5), word_bigrams=True)

    # -- fitting ----------------------------------------------------------------------------

    def fit(
        self,
        texts: Iterable[str],
        codes: Iterable[str],
        sample_weight: Sequence[float] | None = None,
    ) -> ReasonClassifier:
        """Fit on raw texts and their taxonomy codes (texts are normalised here)."""
        texts = list(texts)
        codes = np.asarray(list(codes), dtype=object)
        if len(texts) != len(codes):
            raise ValueError(f"{len(texts)} texts but {len(codes)} codes: give one code per text")
        normalized = normalize_texts(texts)
        empty = [i for i, t in enumerate(normalized) if not t]
        if empty:
            raise ValueError(
                f"{len(empty)} texts are missing or empty (first at position {empty[0]}): "
                "fit only on rows that have a text"
            )
        return self.fit_normalized(normalized, codes, sample_weight)

    def fit_normalized(
        self,
        texts: np.ndarray,
        codes: np.ndarray,
        sample_weight: Sequence[float] | np.ndarray | None = None,
    ) -> ReasonClassifier:
        """Fit on texts already passed through :func:`~returnrisk.reasons.text.normalize_texts`."""
        codes = np.asarray(codes, dtype=object)
        unknown = sorted(set(codes) - set(REASON_CODES))
        if unknown:
            raise ValueError(
                f"codes outside the taxonomy: {', '.join(map(str, unknown))}; "
                f"use one of {', '.join(REASON_CODES)}"
            )
        labels, counts = np.unique(codes.astype(str), return_counts=True)
        if len(labels) < 2:
            raise ValueError("fitting needs examples of at least two different codes")
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        if weights is not None and len(weights) != len(codes):
            raise ValueError("sample_weight must have one weight per text")

        features = self._make_features()
        matrix = features.fit_transform(np.asarray(texts, dtype=object))
        folds = min(self.calibration_folds, int(counts.min()))
        if folds >= 2:
            model = self._calibrated(folds, "temperature")
            try:
                model.fit(matrix, codes.astype(str), sample_weight=weights)
            except ValueError as exc:  # scikit-learn < 1.8 has no temperature scaling
                if "temperature" not in str(exc):
                    raise
                model = self._calibrated(folds, "sigmoid")
                model.fit(matrix, codes.astype(str), sample_weight=weights)
        else:  # a code with a single example: no folds to calibrate on
            log.debug("a code has a single example: using logistic regression without calibration")
            model = LogisticRegression(C=10.0, max_iter=2000)
            model.fit(matrix, codes.astype(str), sample_weight=weights)
        self._features, self._model = features, model
        self.n_examples_ = len(codes)
        log.debug("reason classifier fitted on %d examples, %d features", len(codes), features.n_features_)
        return self

    def _calibrated(self, folds: int, method: str) -> CalibratedClassifierCV:
        return CalibratedClassifierCV(
            LinearSVC(C=self.C),
            method=method,
            cv=StratifiedKFold(folds, shuffle=True, random_state=self.random_state),
        )

    # -- prediction -------------------------------------------------------------------------

    @property
    def classes_(self) -> np.ndarray:
        """The codes the classifier can predict (columns of :meth:`predict_proba`)."""
        self._check_fitted()
        return np.asarray(self._model.classes_, dtype=object)

    def _check_fitted(self) -> None:
        if self._model is None:
            raise RuntimeError("the classifier is not fitted: call fit() or ReasonClassifier.from_seed()")

    def predict_proba(self, texts: Iterable[str]) -> np.ndarray:
        """Calibrated probability of every code of :attr:`classes_` for each raw text."""
        return self.predict_proba_normalized(normalize_texts(list(texts)))

    def predict_proba_normalized(self, texts: np.ndarray) -> np.ndarray:
        """:meth:`predict_proba` for texts already normalised (missing → empty string)."""
        self._check_fitted()
        texts = np.asarray(texts, dtype=object)
        proba = np.zeros((len(texts), len(self._model.classes_)))
        for start in range(0, len(texts), self.batch_size):  # bounded memory on huge inputs
            chunk = texts[start:start + self.batch_size]
            proba[start:start + len(chunk)] = self._model.predict_proba(self._features.transform(chunk))
        return proba

    def predict(
        self, texts: Iterable[str], *, threshold: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Codes and confidences of raw texts.

        Returns ``(codes, confidence)``: ``codes`` is an object array of taxonomy codes where a
        code whose confidence is below ``threshold`` (default: the classifier's) is replaced by
        ``other``; ``confidence`` is the probability of the top code (also when replaced).
        Pass ``threshold=0`` for the bare top code.
        """
        return self.predict_normalized(normalize_texts(list(texts)), threshold=threshold)

    def predict_normalized(
        self, texts: np.ndarray, *, threshold: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`predict` for texts already normalised."""
        threshold = self.threshold if threshold is None else _check_threshold(threshold)
        proba = self.predict_proba_normalized(texts)
        top = proba.argmax(axis=1) if len(proba) else np.zeros(0, dtype=int)
        confidence = proba[np.arange(len(proba)), top] if len(proba) else np.zeros(0)
        codes = self.classes_[top]
        codes = np.where(confidence < threshold, FALLBACK_CODE, codes).astype(object)
        return codes, confidence.astype(float)

    def __repr__(self) -> str:
        state = f"fitted on {self.n_examples_} examples" if self._model is not None else "not fitted"
        return f"ReasonClassifier(threshold={self.threshold}, C={self.C}, {state})"
