"""Scoring with a served bundle: everything that turns a model and its snapshot into answers.

* :mod:`~returnrisk.scoring.explained` — :class:`ExplainedScorer`: probabilities per reason
  with their exact TreeSHAP drivers (:mod:`~returnrisk.scoring.drivers`) and shopper messages;
* :mod:`~returnrisk.scoring.fit` — does a product run small or large (the fit tendency and its
  shopper message);
* :mod:`~returnrisk.scoring.size_advice` — which size to take, and
  :mod:`~returnrisk.scoring.size_evaluation` — how often that advice is right (demo shop);
* :mod:`~returnrisk.scoring.batch` — lines sent for scoring, :func:`score_frame`, and the
  features of a shop's own lines as they were ordered (fix suggestions re-score them).

Modules import one way: ``drivers``, ``fit`` and ``batch`` use no other scoring module;
``explained`` uses ``drivers`` and ``fit``; ``size_advice`` uses ``explained``;
``size_evaluation`` uses ``explained`` and ``size_advice``.
"""

from returnrisk.scoring.batch import prepare_scoring_lines, score_frame
from returnrisk.scoring.explained import ExplainedScorer, SizeNotOffered, UnknownProduct
from returnrisk.scoring.size_advice import SizeAdvice, size_advice

__all__ = ["ExplainedScorer", "SizeAdvice", "SizeNotOffered", "UnknownProduct", "prepare_scoring_lines",
           "score_frame", "size_advice"]
