"""The model the service serves, and its atomic replacement on reload.

A request takes ``holder.current`` once and uses that object to the end, so a reload — which
builds the new :class:`LoadedModel` completely before assigning it — never mixes two models
in one answer and never fails a request in flight. What is derived from one model (its
precomputed visitor answers — risk and size advice, with their entity tags — here; its fix report in
:class:`~returnrisk.serving.fix_reports.FixReports`) lives and dies with that object.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from returnrisk.errors import UnavailableError
from returnrisk.model.bundle import ServingBundle
from returnrisk.scoring import ExplainedScorer
from returnrisk.scoring.size_advice import visitor_size_advice
from returnrisk.serving.http_cache import VisitorAnswer, etag_for

__all__ = ["LoadedModel", "ModelHolder", "ModelLoader", "ModelNotLoaded", "VisitorAnswers", "VisitorAdvice",
           "build_loaded"]

log = logging.getLogger(__name__)

#: ``() -> (bundle, info)`` where info has at least ``version`` and ``uri`` (and ``alias``).
ModelLoader = Callable[[], tuple[ServingBundle, dict]]

#: The precomputed risk answer of every ``(product_id, size or "", lang)`` for a visitor.
VisitorAnswers = dict[tuple[str, str, str], VisitorAnswer]
#: The precomputed size advice of every sized ``(product_id, lang)`` for a visitor.
VisitorAdvice = dict[tuple[str, str], VisitorAnswer]


class ModelNotLoaded(UnavailableError):
    """No model is loaded yet (the service is starting, or its start failed)."""

    code = "model_not_loaded"

    def __init__(self, message: str = "no model is loaded yet: retry shortly or check /readyz"):
        super().__init__(message)


@dataclass(eq=False)  # compared and hashed by identity: one object per load
class LoadedModel:
    """One load of a model: the bundle, its scorer, and the visitor answers computed from them."""

    bundle: ServingBundle
    info: dict
    scorer: ExplainedScorer
    visitor_answers: VisitorAnswers
    visitor_advice: VisitorAdvice
    loaded_at: str
    load_seconds: float

    @property
    def version(self) -> str | None:
        return self.info.get("version")

    def describe(self) -> dict:
        """Version, registry reference, training date, data range and validation metrics (``GET /v1/model``)."""
        meta = self.bundle.meta
        trained = self.bundle.model.info
        data = meta.get("data", {})
        return {
            "version": self.info.get("version"), "alias": self.info.get("alias"), "uri": self.info.get("uri"),
            "run_id": self.info.get("run_id"), "trained_at": trained.get("trained_at"), "as_of": meta.get("as_of"),
            "data_first_order": data.get("first_order"), "data_last_order": data.get("last_order"),
            "validation_start": meta.get("validation_start"), "code_version": meta.get("code_version"),
            "loaded_at": self.loaded_at,
            "metrics": {k: float(v) for k, v in meta.get("metrics", {}).items() if isinstance(v, (int, float))},
        }


def build_loaded(bundle: ServingBundle, info: dict) -> LoadedModel:
    """The scorer of ``bundle`` and the visitor answers of every (product, size, language): risk and size advice."""
    started = time.perf_counter()
    version = info.get("version")
    scorer = ExplainedScorer(bundle, version)
    answers = {key: VisitorAnswer(body, etag_for(version, *key, body)) for key, body in scorer.anonymous().items()}
    advice = {(pid, lang): VisitorAnswer(body, etag_for(version, pid, "", lang, body))
              for (pid, lang), body in visitor_size_advice(scorer).items()}
    seconds = time.perf_counter() - started
    log.info("model v%s ready: %d product-size answers and %d size advices precomputed in %.1f s", version,
             len(answers) // 2, len(advice) // 2, seconds)
    return LoadedModel(bundle, info, scorer, answers, advice, pd.Timestamp.now(tz="UTC").isoformat(), seconds)


class ModelHolder:
    """Holds the current model; :meth:`load` builds a new one and swaps it in atomically."""

    def __init__(self, loader: ModelLoader):
        self._loader = loader
        self._lock = threading.Lock()
        self.current: LoadedModel | None = None
        self.reloads = 0

    def require(self) -> LoadedModel:
        """The current model, or :class:`ModelNotLoaded` (503)."""
        model = self.current
        if model is None:
            raise ModelNotLoaded()
        return model

    def load(self) -> LoadedModel:
        with self._lock:
            bundle, info = self._loader()
            loaded = build_loaded(bundle, info)
            self.current = loaded        # the swap: one reference assignment
            self.reloads += 1
        _settle_garbage_collector()
        return loaded


def _settle_garbage_collector() -> None:
    """Collect once, then move every surviving object out of the collector's sight.

    A loaded model holds millions of long-lived objects (precomputed answers, indexes). Left in
    the collector's oldest generation, each full collection walks all of them and stalls
    requests for a tenth of a second or more; frozen, they are never walked. A reload unfreezes
    first so that the previous model can be freed.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
